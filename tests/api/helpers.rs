//! Spawning the real server and talking to it.

use std::path::PathBuf;
use std::time::Duration;

use secworks::{Application, Config};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The token key every test server uses unless a test says otherwise, so tests can mint
/// tokens of their own.
pub const TEST_KEY: [u8; 32] = [42; 32];
pub const USER: &str = "secureworks";
pub const PASSWORD: &str = "supersecret";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _dir: Option<TempDir>,
}

pub fn test_config(db_path: &std::path::Path) -> Config {
    Config {
        host: "127.0.0.1".parse().unwrap(),
        port: 0,
        database_url: format!("sqlite://{}", db_path.display()),
        token_ttl: Duration::from_secs(3600),
        token_key: Some(TEST_KEY),
        admin_password: None,
    }
}

/// A server on a fresh database.
pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(&dir.path().join("secworks.db"));
    let mut app = spawn_with(config).await;
    app._dir = Some(dir);
    app
}

/// A server with `config`; the caller owns the database file.
pub async fn spawn_with(config: Config) -> TestApp {
    let db_path = PathBuf::from(config.database_url.trim_start_matches("sqlite://"));
    let app = Application::build(config).await.expect("server starts");
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        db_path,
        stop: Some(stop),
        server: Some(server),
        _dir: None,
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

    /// A valid token of the default user.
    pub async fn token(&self) -> String {
        let resp = self.login(USER, PASSWORD).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
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

    /// Counts the rows of a table in the server's database file.
    pub async fn count_rows(&self, sql: &str) -> i64 {
        use sqlx::Connection;
        let url = format!("sqlite://{}", self.db_path.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let count: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        count.0
    }
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
