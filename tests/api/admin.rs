//! The administration commands of the real binary: users, token revocation, and the import
//! of a pysecworks database, checked against a running server on the same database.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use secworks_dnsbl::test_server::TestAnswer;
use serde_json::{Value, json};

use crate::helpers::{ChildServer, TestDb, after_the_revocation_bound, start_dns, texts_at};

/// Runs `secworks <args>` on `db`, with `stdin` as its standard input.
fn secworks(db: &TestDb, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_secworks"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn succeeds(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn fails(output: &Output) -> String {
    assert!(!output.status.success(), "succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn login(server: &ChildServer, user: &str, password: &str) -> reqwest::Response {
    server
        .client
        .post(format!("{}/graphql/tokens", server.base))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
}

async fn token_of(server: &ChildServer, user: &str, password: &str) -> String {
    let resp = login(server, user, password).await;
    assert_eq!(resp.status(), 200, "{user}");
    resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The status of a query with `token`, and the refusal's message if any.
async fn query_with(server: &ChildServer, token: &str) -> (u16, Value) {
    let resp = server
        .client
        .post(format!("{}/graphql", server.base))
        .bearer_auth(token)
        .json(&json!({ "query": "{ queueStatus { pending } }" }))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn users_are_managed_from_the_command_line_and_the_server_follows() {
    let db = TestDb::new().await;
    // The commands act only on an existing database, as the server leaves it.
    secworks::store::connect(db.url()).await.unwrap();

    let out = succeeds(&secworks(&db, &["user", "add", "alice"], "correct horse\n"));
    assert!(out.contains("added user alice"), "{out}");
    let error = fails(&secworks(&db, &["user", "add", "alice"], "another one\n"));
    assert!(error.contains("already exists"), "{error}");
    let error = fails(&secworks(
        &db,
        &["user", "add", "bad:name"],
        "correct horse\n",
    ));
    assert!(error.contains("not allowed"), "{error}");
    let error = fails(&secworks(&db, &["user", "add", "bob"], "short\n"));
    assert!(error.contains("at least 8 characters"), "{error}");
    let error = fails(&secworks(&db, &["user", "add", "bob"], ""));
    assert!(error.contains("no password"), "{error}");
    // A password is never an argument.
    let error = fails(&secworks(&db, &["user", "add", "bob", "hunter22"], ""));
    assert!(error.contains("unexpected argument"), "{error}");
    let listed = succeeds(&secworks(&db, &["user", "list"], ""));
    let names: Vec<&str> = listed
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .collect();
    // A database that has users gets no default user when the server starts.
    assert_eq!(names, ["alice"], "{listed}");

    let dns = start_dns().await;
    let server = ChildServer::start(&db, dns.addr(), &[]).await;
    assert_eq!(
        login(&server, "secureworks", "supersecret").await.status(),
        401
    );
    let first = token_of(&server, "alice", "correct horse").await;
    assert_eq!(query_with(&server, &first).await.0, 200);

    // A new password: the old one at once, and every earlier token within the bound (the
    // command is another process).
    succeeds(&secworks(
        &db,
        &["user", "passwd", "alice"],
        "battery staple\n",
    ));
    assert_eq!(login(&server, "alice", "correct horse").await.status(), 401);
    after_the_revocation_bound().await;
    let (status, body) = query_with(&server, &first).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("token revoked"))
    );
    assert_eq!(login(&server, "alice", "correct horse").await.status(), 401);
    let second = token_of(&server, "alice", "battery staple").await;
    assert_eq!(query_with(&server, &second).await.0, 200);

    // revoke-all kills every token issued so far; a login right after works.
    let out = succeeds(&secworks(&db, &["token", "revoke-all", "alice"], ""));
    assert!(out.contains("alice"), "{out}");
    after_the_revocation_bound().await;
    assert_eq!(query_with(&server, &second).await.0, 401);
    let third = token_of(&server, "alice", "battery staple").await;
    assert_eq!(query_with(&server, &third).await.0, 200);

    let error = fails(&secworks(&db, &["token", "revoke-all", "nobody"], ""));
    assert!(error.contains("no user \"nobody\""), "{error}");
    let error = fails(&secworks(
        &db,
        &["user", "passwd", "nobody"],
        "long enough\n",
    ));
    assert!(error.contains("no user \"nobody\""), "{error}");

    // Removed: the user's tokens die with them.
    succeeds(&secworks(&db, &["user", "remove", "alice"], ""));
    after_the_revocation_bound().await;
    let (status, body) = query_with(&server, &third).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "token's user no longer exists");
    let listed = succeeds(&secworks(&db, &["user", "list"], ""));
    assert_eq!(listed.lines().count(), 1, "{listed}");
    server.stop().await;
}

/// pysecworks' hash of `supersecret` (werkzeug, 260,000 rounds).
const SUPERSECRET: &str = "pbkdf2:sha256:260000$zydxlHqHlkU5O7T1$89d75dd675111893d09d92024233a42210651adf05248048d4cc3145797f332f";
/// werkzeug's hash of `correct horse` with salt `NaCl` and 1,000 rounds.
const CORRECT_HORSE: &str =
    "pbkdf2:sha256:1000$NaCl$cba50afb9ece1b6c899d921b4b7139139f7d2258b02086c1764c441575c66253";

/// A database with pysecworks' schema (as its migrations left it) and `rows`.
async fn pysecworks_db(path: &Path, users: &[(&str, &str)], lookups: &[[&str; 5]]) {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let schema = "
        CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
        CREATE TABLE user (id INTEGER NOT NULL, username VARCHAR(64), password_hash VARCHAR(128),
            token VARCHAR(32), token_expiration DATETIME, PRIMARY KEY (id));
        CREATE UNIQUE INDEX ix_user_username ON user (username);
        CREATE TABLE lookup (id VARCHAR(32) NOT NULL, created_at DATETIME, updated_at DATETIME,
            response_code VARCHAR, ip_address VARCHAR, PRIMARY KEY (id));
        CREATE UNIQUE INDEX ix_lookup_ip_address ON lookup (ip_address);";
    sqlx::raw_sql(sqlx::AssertSqlSafe(schema))
        .execute(&mut conn)
        .await
        .unwrap();
    for (username, hash) in users {
        sqlx::query("INSERT INTO user (username, password_hash, token) VALUES (?, ?, 'old')")
            .bind(username)
            .bind(hash)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for [id, created, updated, code, ip] in lookups {
        sqlx::query("INSERT INTO lookup VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(created)
            .bind(updated)
            .bind(code)
            .bind(ip)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
}

const LISTED: [&str; 5] = [
    "bcbed528-4978-4fe1-a54d-d3d16a598923",
    "2022-02-08 06:10:00.636835",
    "2022-02-11 07:09:31.006388",
    "127.0.0.10, 127.0.0.4, 127.0.0.2",
    "127.0.0.2",
];
const CLEAN: [&str; 5] = [
    "8e7e8fb1-4b1b-4519-8203-23004ceffc93",
    "2022-02-08 06:10:00.591595",
    "2022-02-11 07:09:30",
    "No Response",
    "1.0.0.1",
];

/// Every row of our tables that an import writes, in a stable order.
async fn imported_rows(db: &TestDb) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT username || ' ' || password_hash || ' ' || created_at FROM users ORDER BY username",
        "SELECT ip_address || ' ' || uuid || ' ' || response_code || ' ' || created_at || ' ' || updated_at FROM lookups ORDER BY ip_address",
        "SELECT ip_address || ' ' || looked_up_at || ' ' || response_code FROM lookup_history ORDER BY id",
    ] {
        rows.extend(texts_at(db.url(), sql).await);
    }
    rows
}

#[tokio::test]
async fn a_pysecworks_database_is_imported_once_and_its_passwords_still_work() {
    let db = TestDb::new().await;
    let source = db.dir().join("app.db");
    pysecworks_db(
        &source,
        &[("secureworks", SUPERSECRET), ("analyst", CORRECT_HORSE)],
        &[LISTED, CLEAN],
    )
    .await;
    let source_arg = source.to_str().unwrap();

    let out = succeeds(&secworks(&db, &["import-pysecworks", source_arg], ""));
    assert!(
        out.contains("imported 2 of 2 users and 2 of 2 lookups"),
        "{out}"
    );
    let after_first = imported_rows(&db).await;
    assert_eq!(after_first.len(), 2 + 2 + 2, "{after_first:#?}");
    let out = succeeds(&secworks(&db, &["import-pysecworks", source_arg], ""));
    assert!(
        out.contains("imported 0 of 2 users and 0 of 2 lookups"),
        "{out}"
    );
    assert_eq!(
        imported_rows(&db).await,
        after_first,
        "the second import changed rows"
    );

    let dns = start_dns().await;
    let server = ChildServer::start(&db, dns.addr(), &[]).await;
    let token = token_of(&server, "analyst", "correct horse").await;
    let details = server
        .graphql(
            &token,
            "{ listed: getIpDetails(ip: \"127.0.0.2\") { uuid created_at updated_at response_code ip_address }
               clean: getIpDetails(ip: \"1.0.0.1\") { uuid created_at updated_at response_code listed } }",
            json!({}),
        )
        .await;
    assert_eq!(
        details["data"]["listed"],
        json!({
            "uuid": "bcbed528-4978-4fe1-a54d-d3d16a598923",
            "created_at": "2022-02-08T06:10:00.636835Z",
            "updated_at": "2022-02-11T07:09:31.006388Z",
            "response_code": "127.0.0.2, 127.0.0.4, 127.0.0.10",
            "ip_address": "127.0.0.2",
        }),
        "{details}"
    );
    assert_eq!(
        details["data"]["clean"]["updated_at"],
        "2022-02-11T07:09:30.000000Z"
    );
    assert_eq!(details["data"]["clean"]["listed"], false);

    // The first login replaced the imported hash with argon2id; the password still works.
    let hashes = imported_rows(&db).await;
    assert!(
        hashes.iter().any(|r| r.starts_with("analyst $argon2id$")),
        "{hashes:#?}"
    );
    assert!(hashes.iter().any(|r| r.starts_with("secureworks pbkdf2:")));
    token_of(&server, "analyst", "correct horse").await;
    token_of(&server, "secureworks", "supersecret").await;
    assert_eq!(login(&server, "analyst", "wrong horse").await.status(), 401);

    // The imported answers stand while ZEN only fails since, and every reading of them agrees:
    // `listed` with or without `results`, and the `lookups` filters.
    dns.set("1.0.0.1".parse().unwrap(), TestAnswer::ServFail);
    server.enqueue(&token, &["1.0.0.1".to_owned()]).await;
    let read = "{ clean: getIpDetails(ip: \"1.0.0.1\") { listed results { status last_error } }
                  plain: getIpDetails(ip: \"1.0.0.1\") { listed }
                  listed: lookups(filter: {listed: true}) { edges { node { ip_address listed results { status } } } }
                  unlisted: lookups(filter: {listed: false}) { edges { node { ip_address listed } } } }";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let read = loop {
        let body = server.graphql(&token, read, json!({})).await;
        if !body["data"]["clean"]["results"][0]["last_error"].is_null() {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let data = &read["data"];
    assert_eq!(data["clean"]["listed"], false, "{read}");
    assert_eq!(
        data["clean"]["results"][0]["status"], "NOT_LISTED",
        "{read}"
    );
    assert_eq!(data["plain"]["listed"], false, "{read}");
    assert_eq!(
        data["listed"]["edges"],
        json!([{ "node": { "ip_address": "127.0.0.2", "listed": true, "results": [{ "status": "LISTED" }] } }]),
        "{read}"
    );
    assert_eq!(
        data["unlisted"]["edges"],
        json!([{ "node": { "ip_address": "1.0.0.1", "listed": false } }]),
        "{read}"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_import_with_a_bad_row_names_it_and_writes_nothing() {
    let db = TestDb::new().await;
    let source = db.dir().join("app.db");
    let mut bad_time = CLEAN;
    bad_time[2] = "11/02/2022";
    pysecworks_db(
        &source,
        &[("secureworks", SUPERSECRET), ("legacy", "md5$abc$def")],
        &[LISTED, bad_time],
    )
    .await;
    let error = fails(&secworks(
        &db,
        &["import-pysecworks", source.to_str().unwrap()],
        "",
    ));
    assert!(error.contains("nothing was imported"), "{error}");
    assert!(error.contains("user id 2: user \"legacy\""), "{error}");
    assert!(error.contains("\"11/02/2022\""), "{error}");
    assert!(!error.contains("md5$abc$def"), "a hash was echoed: {error}");
    assert_eq!(imported_rows(&db).await, Vec::<String>::new());

    let missing = db.dir().join("no-such.db");
    let error = fails(&secworks(
        &db,
        &["import-pysecworks", missing.to_str().unwrap()],
        "",
    ));
    assert!(error.contains("cannot read"), "{error}");
    assert!(
        !missing.exists(),
        "the import created the file it was to read"
    );
}
