//! Scoped tokens through the real server: what each scope allows, the `scope` parameter of
//! `POST /graphql/tokens`, users' scopes, and service tokens issued with the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use pasetors::claims::Claims;
use pasetors::keys::SymmetricKey;
use pasetors::local;
use pasetors::version4::V4;
use serde_json::{Value, json};

use crate::clients::rest;
use crate::helpers::{
    PASSWORD, TEST_KEY, TestApp, USER, after_the_revocation_bound, base64_key, spawn_app, texts_at,
};

const READ: &str = r#"{ getIpDetails(ip: "192.0.2.1") { response_code ip_address } }"#;
const ENQUEUE: &str = r#"mutation { enqueue(ip: ["192.0.2.1"]) }"#;

/// `POST /graphql/tokens?scope=…` (the value sent as written, already URL-encoded).
async fn login_with_scope(
    app: &TestApp,
    user: &str,
    password: &str,
    query: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/graphql/tokens?{query}")))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
}

async fn token_with_scope(app: &TestApp, user: &str, password: &str, scope: &str) -> String {
    let resp = login_with_scope(app, user, password, &format!("scope={scope}")).await;
    assert_eq!(resp.status(), 200, "scope={scope}");
    resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The body of a request that must answer HTTP 200 (GraphQL errors included).
async fn run(app: &TestApp, token: &str, query: &str) -> Value {
    app.graphql_ok(token, query, json!({})).await
}

/// Asserts that `body` holds exactly one error, FORBIDDEN for `field` and naming `scope`.
fn assert_forbidden(body: &Value, field: &str, scope: &str) {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(errors.len(), 1, "{body}");
    let error = &errors[0];
    assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{body}");
    assert_eq!(error["extensions"]["scope"], scope, "{body}");
    assert_eq!(error["path"], json!([field]), "{body}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&format!("\"{scope}\"")), "{message}");
}

#[tokio::test]
async fn a_read_token_reads_and_is_refused_lookup_in_the_same_request() {
    let app = spawn_app().await;
    let token = token_with_scope(&app, USER, PASSWORD, "read").await;
    let body = run(&app, &token, READ).await;
    assert_eq!(body["data"]["getIpDetails"]["ip_address"], "192.0.2.1");
    assert!(body.get("errors").is_none(), "{body}");

    // One request, two fields: the one in scope resolves, the other is refused by name.
    let body = run(
        &app,
        &token,
        r#"{ getIpDetails(ip: "192.0.2.1") { ip_address } webhooks { id } }"#,
    )
    .await;
    assert_eq!(
        body["data"]["getIpDetails"]["ip_address"], "192.0.2.1",
        "{body}"
    );
    assert_forbidden(&body, "webhooks", "monitor");

    // A mutation outside the scopes: HTTP 200, FORBIDDEN naming `lookup`, nothing queued.
    let resp = app.graphql(&token, ENQUEUE, json!({})).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_forbidden(&body, "enqueue", "lookup");
    let body = run(
        &app,
        &token,
        r#"mutation { a: enqueue(ip: ["192.0.2.1"]) b: enqueueDomains(domain: ["example.com"]) }"#,
    )
    .await;
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{body}");
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == "FORBIDDEN")
    );
    let status = run(&app, &token, "{ queueStatus { pending } }").await;
    assert_eq!(status["data"]["queueStatus"]["pending"], 0, "{status}");
}

#[tokio::test]
async fn watchlists_and_webhooks_need_monitor() {
    let app = spawn_app().await;
    let no_monitor = token_with_scope(&app, USER, PASSWORD, "read+lookup").await;
    let monitor = token_with_scope(&app, USER, PASSWORD, "monitor").await;
    let put = r#"mutation { putWatchlist(name: "mx", targets: ["192.0.2.0/30"]) { name } }"#;
    let mutations = [
        ("putWatchlist", put),
        (
            "addWatchTargets",
            r#"mutation { addWatchTargets(name: "mx", targets: ["192.0.2.9"]) { name } }"#,
        ),
        (
            "removeWatchTargets",
            r#"mutation { removeWatchTargets(name: "mx", targets: ["192.0.2.9"]) { name } }"#,
        ),
        (
            "deleteWatchlist",
            r#"mutation { deleteWatchlist(name: "mx") }"#,
        ),
        (
            "createWebhook",
            r#"mutation { createWebhook(url: "https://example.com/hook") { secret } }"#,
        ),
        ("deleteWebhook", r#"mutation { deleteWebhook(id: "1") }"#),
    ];
    for (field, mutation) in mutations {
        let body = run(&app, &no_monitor, mutation).await;
        assert_forbidden(&body, field, "monitor");
    }
    assert_forbidden(
        &run(&app, &no_monitor, "{ webhooks { id } }").await,
        "webhooks",
        "monitor",
    );
    // Reading watchlists is `read`.
    let body = run(&app, &no_monitor, "{ watchlists { name } }").await;
    assert_eq!(body["data"]["watchlists"], json!([]), "{body}");

    // A `monitor` token changes watchlists and reads webhooks, and reads nothing else.
    let body = run(&app, &monitor, put).await;
    assert_eq!(body["data"]["putWatchlist"]["name"], "mx", "{body}");
    let body = run(&app, &monitor, "{ webhooks { id } }").await;
    assert_eq!(body["data"]["webhooks"], json!([]), "{body}");
    assert_forbidden(&run(&app, &monitor, READ).await, "getIpDetails", "read");
    assert_forbidden(&run(&app, &monitor, ENQUEUE).await, "enqueue", "lookup");
    // Introspection needs no scope.
    let body = run(&app, &monitor, "{ __typename }").await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
}

#[tokio::test]
async fn the_scope_parameter_is_checked_and_answers_400_naming_the_scope() {
    let app = spawn_app().await;
    for (query, named) in [
        ("scope=write", "\"write\""),
        ("scope=read+Lookup", "\"Lookup\""),
        ("scope=read,lookup", "\"read,lookup\""),
        // The default user holds all but admin.
        ("scope=read+admin", "\"admin\""),
        ("scope=", "no scope"),
        ("scope=read&scope=lookup", "more than once"),
    ] {
        let resp = login_with_scope(&app, USER, PASSWORD, query).await;
        assert_eq!(resp.status(), 400, "{query}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "Bad Request", "{query}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(named), "{query}: {message}");
    }
    // Credentials come first: a wrong password is 401 whatever the scope.
    let resp = login_with_scope(&app, USER, "wrong", "scope=write").await;
    assert_eq!(resp.status(), 401);

    // Several scopes, space-separated as OAuth 2 writes them.
    let token = token_with_scope(&app, USER, PASSWORD, "read%20lookup").await;
    assert!(run(&app, &token, ENQUEUE).await.get("errors").is_none());
    assert!(run(&app, &token, READ).await.get("errors").is_none());
}

#[tokio::test]
async fn the_generated_client_asks_for_scopes_and_a_plain_login_gets_them_all() {
    let app = spawn_app().await;
    let narrow = rest::basic(&app.base, USER, PASSWORD)
        .create_token()
        .scope("read")
        .send()
        .await
        .expect("a read token")
        .into_inner()
        .token;
    assert_forbidden(&run(&app, &narrow, ENQUEUE).await, "enqueue", "lookup");
    match rest::basic(&app.base, USER, PASSWORD)
        .create_token()
        .scope("read delete")
        .send()
        .await
    {
        Err(rest::Error::ErrorResponse(refusal)) => {
            assert_eq!(refusal.status(), 400);
            assert!(
                refusal
                    .message
                    .as_deref()
                    .unwrap_or("")
                    .contains("\"delete\""),
                "{:?}",
                refusal.message
            );
        }
        other => panic!("an unknown scope was not refused: {other:?}"),
    }

    // As pysecworks clients log in, with no parameter: every scope the user holds.
    let full = app.token().await;
    for query in [
        READ,
        ENQUEUE,
        "{ webhooks { id } }",
        r#"mutation { putWatchlist(name: "w", targets: ["192.0.2.1"]) { name } }"#,
    ] {
        let body = run(&app, &full, query).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
    }
}

#[tokio::test]
async fn a_token_from_before_scopes_may_do_all_but_admin() {
    let app = spawn_app().await;
    // Sealed as secworks sealed tokens before scopes existed: no `scope` claim.
    let mut claims = Claims::new().unwrap();
    claims.issuer("secworks").unwrap();
    claims.subject(USER).unwrap();
    claims
        .token_identifier(&uuid::Uuid::new_v4().to_string())
        .unwrap();
    let key = SymmetricKey::<V4>::from(&TEST_KEY).unwrap();
    let old = local::encrypt(&key, &claims, None, None).unwrap();
    for query in [
        READ,
        ENQUEUE,
        "{ webhooks { id } }",
        r#"mutation { putWatchlist(name: "w", targets: ["192.0.2.1"]) { name } }"#,
    ] {
        let body = run(&app, &old, query).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
    }
    // It is still revoked the ordinary way.
    assert_eq!(app.revoke(&old).await.status(), 204);
    assert_eq!(app.graphql(&old, READ, json!({})).await.status(), 401);
}

/// Runs `secworks <args>` on the database at `url`, with the server's token key and `stdin`.
/// On the blocking pool: the server runs on this test's runtime, and must go on serving (and
/// finish what it holds the database's write lock for) while the command waits.
async fn secworks(url: &str, args: &[&str], stdin: &str) -> Output {
    let url = url.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_secworks"))
            .args(&args)
            .env("DATABASE_URL", &url)
            .env("SECWORKS_TOKEN_KEY", base64_key())
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
    })
    .await
    .unwrap()
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

#[tokio::test]
async fn a_user_added_with_read_cannot_get_lookup_until_granted() {
    let app = spawn_app().await;
    let url = app.database_url.clone();
    let error = fails(
        &secworks(
            &url,
            &["user", "add", "bad", "--scopes", "read,writes"],
            "correct horse\n",
        )
        .await,
    );
    assert!(error.contains("\"writes\""), "{error}");
    let added = succeeds(
        &secworks(
            &url,
            &["user", "add", "reader", "--scopes", "read"],
            "correct horse\n",
        )
        .await,
    );
    assert!(added.contains("read"), "{added}");
    let listed = succeeds(&secworks(&url, &["user", "list"], "").await);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("reader\t") && l.ends_with("\tread")),
        "{listed}"
    );

    let resp = login_with_scope(&app, "reader", "correct horse", "scope=lookup").await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("\"lookup\""),
        "{body}"
    );
    // Without a parameter, the token has what the user holds: `read`.
    let resp = app.login("reader", "correct horse").await;
    let token = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(run(&app, &token, READ).await.get("errors").is_none());
    assert_forbidden(&run(&app, &token, ENQUEUE).await, "enqueue", "lookup");

    // Granting `lookup` refuses the tokens issued before; a new login may enqueue.
    succeeds(
        &secworks(
            &url,
            &["user", "scopes", "reader", "--set", "read,lookup"],
            "",
        )
        .await,
    );
    assert_eq!(
        succeeds(&secworks(&url, &["user", "scopes", "reader"], "").await).trim(),
        "read lookup"
    );
    after_the_revocation_bound().await;
    assert_eq!(app.graphql(&token, READ, json!({})).await.status(), 401);
    let token = token_with_scope(&app, "reader", "correct horse", "lookup").await;
    assert!(run(&app, &token, ENQUEUE).await.get("errors").is_none());
    let error = fails(&secworks(&url, &["user", "scopes", "nobody", "--set", "read"], "").await);
    assert!(error.contains("nobody"), "{error}");
}

#[tokio::test]
async fn service_tokens_are_issued_listed_and_revoked_with_the_binary() {
    let app = spawn_app().await;
    let url = app.database_url.clone();
    let issued = succeeds(
        &secworks(
            &url,
            &[
                "token", "issue", "--user", USER, "--scope", "read", "--ttl", "90d", "--name", "ci",
            ],
            "",
        )
        .await,
    );
    let token = issued.trim().to_owned();
    assert!(token.starts_with("v4.local."), "{issued}");
    assert!(run(&app, &token, READ).await.get("errors").is_none());
    assert_forbidden(&run(&app, &token, ENQUEUE).await, "enqueue", "lookup");

    // Recorded by id, name, user, scopes and expiry: never the token itself.
    let listed = succeeds(&secworks(&url, &["token", "list"], "").await);
    let rows: Vec<Vec<&str>> = listed
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 1, "{listed}");
    let row = &rows[0];
    assert_eq!(&row[1..4], ["ci", USER, "read"], "{listed}");
    assert_eq!(row[5], "valid", "{listed}");
    let expires =
        time::OffsetDateTime::parse(row[4], &time::format_description::well_known::Rfc3339)
            .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_days();
    assert!((89..=90).contains(&days), "{days}");
    let recorded = app
        .count_rows("SELECT count(*) FROM service_tokens WHERE name = 'ci' AND scopes = 'read'")
        .await;
    assert_eq!(recorded, 1);
    let jtis = texts_at(&url, "SELECT jti FROM service_tokens").await;
    assert!(
        !jtis[0].starts_with("v4.") && !token.contains(&jtis[0]),
        "{jtis:?}"
    );
    let id = row[0].to_owned();

    // Refused: a scope the user lacks, an unknown one, a lifetime out of bounds.
    for (args, named) in [
        (["--scope", "admin", "--ttl", "1d"], "\"admin\""),
        (["--scope", "reed", "--ttl", "1d"], "\"reed\""),
        (["--scope", "read", "--ttl", "400d"], "\"400d\""),
        (["--scope", "read", "--ttl", "soon"], "soon"),
    ] {
        let mut all = vec!["token", "issue", "--user", USER, "--name", "x"];
        all.extend(args);
        let error = fails(&secworks(&url, &all, "").await);
        assert!(error.contains(named), "{args:?}: {error}");
    }

    let revoked = succeeds(&secworks(&url, &["token", "revoke", &id], "").await);
    assert!(revoked.contains("ci"), "{revoked}");
    after_the_revocation_bound().await;
    let resp = app.graphql(&token, READ, json!({})).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "token revoked");
    let listed = succeeds(&secworks(&url, &["token", "list"], "").await);
    assert!(
        listed.lines().nth(1).unwrap().ends_with("\trevoked"),
        "{listed}"
    );
    let error = fails(&secworks(&url, &["token", "revoke", "999"], "").await);
    assert!(error.contains("999"), "{error}");
    // revoke-all is kept.
    succeeds(&secworks(&url, &["token", "revoke-all", USER], "").await);
}

#[tokio::test]
async fn a_subscription_outside_the_scopes_is_refused_before_it_opens() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = spawn_app().await;
    let token = token_with_scope(&app, USER, PASSWORD, "monitor").await;
    let url = app.url("/graphql/ws").replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for message in [
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
        json!({ "id": "1", "type": "subscribe",
                "payload": { "query": "subscription { listingEvents { cursor } }" } }),
    ] {
        socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        let answer = loop {
            let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
                .await
                .expect("a message in time")
                .expect("the connection is open")
                .expect("a message");
            if let Message::Text(text) = message {
                break serde_json::from_str::<Value>(&text).unwrap();
            }
        };
        if message["type"] == "connection_init" {
            assert_eq!(answer["type"], "connection_ack", "{answer}");
        } else {
            // The one answer (a request error, as for a query that does not validate): no
            // data, the refusal, and the subscription is over.
            assert_eq!(answer["type"], "next", "{answer}");
            assert_eq!(answer["id"], "1", "{answer}");
            assert_eq!(answer["payload"]["data"], Value::Null, "{answer}");
            let error = &answer["payload"]["errors"][0];
            assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{answer}");
            assert_eq!(error["extensions"]["scope"], "read", "{answer}");
        }
    }
    let complete = loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("a message in time")
            .expect("the connection is open")
            .expect("a message");
        if let Message::Text(text) = message {
            break serde_json::from_str::<Value>(&text).unwrap();
        }
    };
    assert_eq!(complete, json!({ "id": "1", "type": "complete" }));
}
