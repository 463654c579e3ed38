//! Spawning the real server and talking to it.

use std::time::Duration;

use secworks::lookup::EngineSettings;
use secworks::{Application, Config};
use secworks_dnsbl::test_server::TestDnsServer;
use secworks_dnsbl::{ResolverSettings, Zone};
use secworks_store_api::testkit::postgres::TestDatabase;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clients;

/// The token key every test server uses unless a test says otherwise, so tests can mint
/// tokens of their own.
pub const TEST_KEY: [u8; 32] = [42; 32];
pub const USER: &str = "secureworks";
pub const PASSWORD: &str = "supersecret";

pub struct TestApp {
    pub base: String,
    /// The SDL the running schema prints.
    pub sdl: String,
    /// The blocklist's DNS server, on loopback.
    pub dns: std::sync::Arc<TestDnsServer>,
    pub client: reqwest::Client,
    pub database_url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _db: Option<TestDb>,
}

/// A fresh database for one test: a SQLite file in a temporary folder or, when
/// `SECWORKS_TEST_POSTGRES` names a PostgreSQL server (`postgres://user@host:port`), a new
/// database on it (the store's test databases, `secworks_store_api::testkit::postgres`),
/// dropped when this is dropped. The whole suite runs against either.
pub struct TestDb {
    url: String,
    // Dropped with this: the PostgreSQL database, then the folder.
    _postgres: Option<TestDatabase>,
    _dir: TempDir,
}

impl TestDb {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let on_postgres = std::env::var("SECWORKS_TEST_POSTGRES").is_ok_and(|s| !s.is_empty());
        if !on_postgres {
            return Self {
                url: format!("sqlite://{}", dir.path().join("secworks.db").display()),
                _postgres: None,
                _dir: dir,
            };
        }
        // Asked for by name, so a server that does not answer is a failure, not a skip.
        let db = TestDatabase::create()
            .await
            .expect("SECWORKS_TEST_POSTGRES is set, so its PostgreSQL server must answer");
        Self {
            url: db.url().to_owned(),
            _postgres: Some(db),
            _dir: dir,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A folder that lives as long as the database, for other files a test needs.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Runs `sql`, which selects one integer, against this database.
    pub async fn scalar(&self, sql: &str) -> i64 {
        scalar_at(&self.url, sql).await
    }
}

/// Runs `sql`, which selects one integer, against the database at `url`.
pub async fn scalar_at(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let row: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        row.0
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let row: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        row.0
    }
}

/// Runs `sql`, which selects one text column, against the database at `url`.
pub async fn texts_at(url: &str, sql: &str) -> Vec<String> {
    use sqlx::{Connection, Row};
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        rows.iter().map(|r| r.get::<String, _>(0)).collect()
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        rows.iter().map(|r| r.get::<String, _>(0)).collect()
    }
}

/// Lookup settings that let tests see retries, leases and pauses within seconds.
pub fn test_engine() -> EngineSettings {
    EngineSettings {
        concurrency: 64,
        qps: None,
        lease: Duration::from_secs(2),
        retry_base: Duration::from_millis(100),
        retry_max: Duration::from_millis(500),
        max_attempts: 20,
        health_interval: Duration::from_millis(200),
        rate_limit_pause: Duration::from_secs(5),
        min_fresh: Duration::from_secs(60),
        max_fresh: Duration::from_secs(86_400),
    }
}

/// Planner rounds every 100 ms, so that a test sees due targets queued at once.
pub fn test_rechecks() -> secworks::rechecks::RecheckSettings {
    secworks::rechecks::RecheckSettings {
        round: Duration::from_millis(100),
        qps: None,
        health_interval: test_engine().health_interval,
    }
}

pub fn test_resolver(dns: &TestDnsServer) -> ResolverSettings {
    ResolverSettings {
        server: Some(dns.addr()),
        timeout: Duration::from_millis(700),
        attempts: 1,
        zone: Zone::default(),
    }
}

pub async fn start_dns() -> std::sync::Arc<TestDnsServer> {
    std::sync::Arc::new(
        TestDnsServer::start("zen.spamhaus.org")
            .await
            .expect("DNS server starts"),
    )
}

/// A configuration on `db` whose blocklist is `dns`.
pub fn test_config(db: &TestDb, dns: &TestDnsServer) -> Config {
    Config {
        resolver: test_resolver(dns),
        blocklists: std::sync::Arc::new(
            secworks::blocklists::Blocklists::zen_at("zen.spamhaus.org").unwrap(),
        ),
        engine: test_engine(),
        rechecks: test_rechecks(),
        retention: secworks::retention::RetentionSettings {
            jobs: Some(Duration::from_secs(7 * 86_400)),
            history: None,
        },
        clock: secworks::timestamp::Clock::system(),
        host: "127.0.0.1".parse().unwrap(),
        port: 0,
        database_url: db.url().to_owned(),
        token_ttl: Duration::from_secs(3600),
        token_key: Some(TEST_KEY),
        admin_password: None,
        query_limits: secworks::graphql::QueryLimits {
            max_depth: 32,
            max_complexity: 1000,
            max_aliases: 100,
        },
        max_body_bytes: 1 << 20,
        max_enqueue: 10_000,
        max_watch_targets: 1_000_000,
        request_timeout: Duration::from_secs(30),
        login_limits: secworks::config::LoginLimits {
            per_user: "5/1m".parse().unwrap(),
            per_address: "30/1m".parse().unwrap(),
            per_name: "100/1h".parse().unwrap(),
        },
        trust_forwarded_for: false,
        metrics_per_target: false,
        shutdown_grace: Duration::from_secs(10),
        max_connections: None,
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        // The tests' webhook receivers listen on loopback.
        webhooks: secworks::webhooks::WebhookSettings {
            allow_private: true,
            ..Default::default()
        },
    }
}

/// A server on a fresh database, with its own blocklist DNS server.
pub async fn spawn_app() -> TestApp {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let config = test_config(&db, &dns);
    let mut app = spawn_with(config, dns).await;
    app._db = Some(db);
    app
}

/// A server whose blocklist DNS server is down from the start: jobs wait, nothing is looked up.
pub async fn spawn_app_with_dns_down() -> TestApp {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    dns.set_down(true);
    let config = test_config(&db, &dns);
    let mut app = spawn_with(config, dns).await;
    app._db = Some(db);
    app
}

/// A server with `config`, whose blocklist is `dns`; the caller owns the database.
pub async fn spawn_with(config: Config, dns: std::sync::Arc<TestDnsServer>) -> TestApp {
    let database_url = config.database_url.clone();
    let app = Application::build(config).await.expect("server starts");
    let base = format!("http://{}", app.local_addr());
    let sdl = app.sdl();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        sdl,
        dns,
        client: reqwest::Client::new(),
        database_url,
        stop: Some(stop),
        server: Some(server),
        _db: None,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and waits until it has let go of its port.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub async fn login(&self, user: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/graphql/tokens"))
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap()
    }

    /// A valid token of the default user, through the client generated from openapi.yaml.
    pub async fn token(&self) -> String {
        let issued = clients::rest::basic(&self.base, USER, PASSWORD)
            .create_token()
            .send()
            .await
            .expect("a token for the default user");
        issued.into_inner().token
    }

    pub async fn revoke(&self, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url("/graphql/tokens"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> reqwest::Response {
        self.client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
    }

    /// Runs a GraphQL request that must succeed at the HTTP level; returns the body.
    pub async fn graphql_ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let resp = self.graphql(token, query, variables).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// The stored result of `ip`, with its listings and latest attempts, through the typed
    /// GraphQL client; as JSON, so tests compare it with the shapes the schema promises.
    pub async fn details(&self, token: &str, ip: &str) -> Value {
        use cynic::QueryBuilder;
        let operation =
            clients::graphql::IpDetails::build(clients::graphql::IpVariables { ip: ip.to_owned() });
        let resp = clients::graphql::run(&self.base, token, operation).await;
        assert!(resp.errors.is_none(), "{:?}", resp.errors);
        let data = resp.data.expect("data");
        serde_json::to_value(data.get_ip_details).unwrap()
    }

    pub async fn enqueue(&self, token: &str, ips: &[&str]) {
        use cynic::MutationBuilder;
        let operation = clients::graphql::Enqueue::build(clients::graphql::EnqueueVariables {
            ip: ips.iter().map(|ip| ip.to_string()).collect(),
        });
        let resp = clients::graphql::run(&self.base, token, operation).await;
        assert!(resp.errors.is_none(), "{:?}", resp.errors);
        let taken = resp.data.expect("data").enqueue;
        assert_eq!(taken, Some(ips.len() as i32));
    }

    pub async fn queue_status(&self, token: &str) -> Value {
        use cynic::QueryBuilder;
        let operation = clients::graphql::Queue::build(());
        let resp = clients::graphql::run(&self.base, token, operation).await;
        assert!(resp.errors.is_none(), "{:?}", resp.errors);
        serde_json::to_value(resp.data.expect("data").queue_status).unwrap()
    }

    /// Polls `ip` until `done` holds for its details; panics after 30 s.
    pub async fn wait_for_details(
        &self,
        token: &str,
        ip: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let details = self.details(token, ip).await;
            if done(&details) {
                return details;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting on {ip}: {details}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until no job waits or runs; panics after `limit`.
    pub async fn wait_for_idle_queue(&self, token: &str, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let status = self.queue_status(token).await;
            if status["pending"] == 0 && status["running"] == 0 {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "queue still busy: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Counts the rows of a table in the server's database.
    pub async fn count_rows(&self, sql: &str) -> i64 {
        scalar_at(&self.database_url, sql).await
    }
}

/// Waits out the bound on how late a change to tokens or users made by another process
/// counts (docs/security.md): after it, every server has either reloaded its copy since the
/// change or reads the database for each check, however its threads were scheduled.
pub async fn after_the_revocation_bound() {
    tokio::time::sleep(secworks::auth::MAX_STALENESS + Duration::from_millis(20)).await;
}

/// Asserts a 401 with the JSON body and a challenge of `scheme`; returns the challenge.
pub async fn assert_unauthorized(resp: reqwest::Response, scheme: &str) -> (String, Value) {
    assert_eq!(resp.status(), 401);
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .expect("WWW-Authenticate header")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with(scheme), "{challenge}");
    let media = resp.headers()["content-type"].to_str().unwrap();
    assert!(media.starts_with("application/json"), "{media}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "Unauthorized");
    (challenge, body)
}

/// The real binary as a child process, for what only a process can show: being killed.
pub struct ChildServer {
    child: tokio::process::Child,
    pub base: String,
    pub client: reqwest::Client,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ChildServer {
    /// Starts `secworks` on `db` with blocklist server `dns`, and waits until it listens.
    pub async fn start(db: &TestDb, dns: std::net::SocketAddr, env: &[(&str, &str)]) -> Self {
        let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_secworks"));
        Self::start_command(cmd, db, dns, env).await
    }

    /// The same, with the process's open-file limit (soft and hard) set to `open_files`.
    pub async fn start_with_open_files(
        db: &TestDb,
        dns: std::net::SocketAddr,
        env: &[(&str, &str)],
        open_files: u32,
    ) -> Self {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {open_files} && exec \"$0\""))
            .arg(env!("CARGO_BIN_EXE_secworks"));
        Self::start_command(cmd, db, dns, env).await
    }

    async fn start_command(
        mut cmd: tokio::process::Command,
        db: &TestDb,
        dns: std::net::SocketAddr,
        env: &[(&str, &str)],
    ) -> Self {
        use tokio::io::AsyncBufReadExt;
        cmd.env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("DATABASE_URL", db.url())
            .env("SECWORKS_TOKEN_KEY", base64_key())
            .env("SECWORKS_DNS_SERVER", dns.to_string())
            .env("SECWORKS_DNS_TIMEOUT", "300ms")
            .env("SECWORKS_DNS_ATTEMPTS", "1")
            .env("SECWORKS_LOOKUP_LEASE", "2s")
            .env("SECWORKS_LOOKUP_RETRY_BASE", "100ms")
            .env("SECWORKS_HEALTH_INTERVAL", "1s")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("SECWORKS_DQS_KEY")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd.spawn().expect("secworks starts");
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                log.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(addr) = listening_addr(&line) {
                    return addr;
                }
            }
            panic!("secworks exited before listening: {}", log.lock().unwrap());
        })
        .await
        .expect("secworks listens within 30 s");
        // Keep reading, or a full pipe would block the server's logging.
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Self {
            child,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            log,
        }
    }

    pub async fn token(&self) -> String {
        let resp = self
            .client
            .post(format!("{}/graphql/tokens", self.base))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> Value {
        let resp = self
            .client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    pub async fn enqueue(&self, token: &str, ips: &[String]) {
        let query = "mutation ($ip: [String!]!) { enqueue(ip: $ip) }";
        let body = self.graphql(token, query, json!({ "ip": ips })).await;
        assert_eq!(body["data"]["enqueue"], json!(ips.len()), "{body}");
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends `signal` (e.g. `TERM`, `INT`) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// The exit status, if the process exits within `limit`.
    pub async fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let status = tokio::time::timeout(limit, self.child.wait()).await.ok()?;
        // Let the reader take the last lines.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some(status.unwrap())
    }

    /// SIGKILL: no chance to clean up.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// SIGTERM, and the process must exit 0; returns what it logged.
    pub async fn stop(mut self) -> String {
        let pid = self.child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .unwrap()
            .unwrap();
        // Let the reader take the last lines.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            status.success(),
            "secworks exited with {status}: {}",
            self.log()
        );
        self.log()
    }
}

/// The bound address in the "listening" line, text or JSON.
fn listening_addr(line: &str) -> Option<String> {
    if let Some(rest) = line.split("secworks listening addr=").nth(1) {
        return rest.split_whitespace().next().map(str::to_owned);
    }
    let event: Value = serde_json::from_str(line).ok()?;
    (event["message"] == "secworks listening").then(|| event["addr"].as_str().map(str::to_owned))?
}

pub fn base64_key() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(TEST_KEY)
}
