//! A PostgreSQL server for tests, and a fresh database on it per test.
//!
//! The server is the one `SECWORKS_TEST_POSTGRES` names (`postgres://user@host:port`, where a
//! test may create and drop databases), by default `postgres://postgres@127.0.0.1:5432`.
//! Without a reachable server, tests that need it report themselves skipped and pass, so that
//! a plain `cargo test --workspace` works anywhere; under `CI=true` an unreachable server fails
//! them.

use std::io::Write as _;
use std::net::ToSocketAddrs as _;
use std::str::FromStr as _;
use std::sync::OnceLock;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The variable that names the test server, for every PostgreSQL test in the workspace.
pub const SERVER_VAR: &str = "SECWORKS_TEST_POSTGRES";
pub const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// The test server, or `None` when it cannot be reached outside CI: the caller then skips.
/// The first call that finds no server says so once, with how to get one; every call that
/// returns `None` names the test it skips.
pub fn server() -> Option<&'static str> {
    static SERVER: OnceLock<Option<String>> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        let url = std::env::var(SERVER_VAR)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let url = url.trim_end_matches('/').to_owned();
        match reachable(&url) {
            Ok(()) => Some(url),
            Err(why) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
                panic!("CI=true and no PostgreSQL for the tests at {url} ({SERVER_VAR}): {why}")
            }
            Err(why) => {
                // Past the test harness's capture, which only takes print!/eprint!.
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping the PostgreSQL tests: no server at {url} ({why}); run .ci/postgres \
                     to start one, or set {SERVER_VAR}=postgres://user@host:port"
                );
                None
            }
        }
    });
    let server = server.as_deref();
    if server.is_none() {
        let test = std::thread::current().name().unwrap_or("?").to_owned();
        let _ = writeln!(std::io::stderr(), "skipped {test}: no PostgreSQL");
    }
    server
}

/// Whether a TCP connection to the server opens within a second (a socket path counts).
fn reachable(url: &str) -> Result<(), String> {
    let options = PgConnectOptions::from_str(url).map_err(|e| format!("not a URL: {e}"))?;
    if options.get_socket().is_some() || options.get_host().starts_with('/') {
        return Ok(());
    }
    let target = (options.get_host(), options.get_port());
    let addrs = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", options.get_host()))?;
    let mut last = String::from("no address");
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// The server's maintenance database, where test databases are created and dropped.
fn maintenance_url(server: &str) -> String {
    format!("{server}/postgres")
}

/// A database of its own on the test server, dropped (with any connections still open) when
/// this goes away, also when the test panics.
pub struct TestDatabase {
    name: String,
    url: String,
    server: &'static str,
}

impl TestDatabase {
    /// A fresh, empty database, or `None` when PostgreSQL tests are to be skipped (see
    /// [`server`]).
    pub async fn create() -> Option<TestDatabase> {
        let server = server()?;
        let name = format!("secworks_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&maintenance_url(server))
            .await
            .expect("connect to the PostgreSQL server (SECWORKS_TEST_POSTGRES)");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin
            .close()
            .await
            .expect("close the maintenance connection");
        Some(TestDatabase {
            url: format!("{server}/{name}"),
            name,
            server,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let admin_url = maintenance_url(self.server);
        // Drop cannot await, and the test's runtime may be gone: a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}
