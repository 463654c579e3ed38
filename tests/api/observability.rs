//! What operators see: Prometheus metrics, structured logs with request ids, and never a
//! secret in a log line.

use std::io::Write;
use std::time::Duration;

use secworks_dnsbl::test_server::{TestAnswer, TestDnsServer};
use serde_json::{Value, json};

use crate::helpers::{ChildServer, PASSWORD, TestDb, USER, spawn_app};

#[tokio::test]
async fn metrics_count_requests_lookups_and_login_failures() {
    let app = spawn_app().await;
    assert_eq!(app.login(USER, "wrong").await.status(), 401);
    let token = app.token().await;
    app.enqueue(&token, &["127.0.0.2", "127.0.0.1"]).await;
    app.wait_for_idle_queue(&token, Duration::from_secs(30))
        .await;

    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = resp.text().await.unwrap();
    for expected in [
        r#"secworks_http_requests_total{route="/graphql/tokens",method="POST",status="401"}"#,
        r#"secworks_http_requests_total{route="/graphql",method="POST",status="200"}"#,
        r#"secworks_http_request_duration_seconds_bucket{route="/graphql",le="0.005"}"#,
        r#"secworks_login_failures_total{reason="bad_credentials"}"#,
        r#"secworks_lookups_total{outcome="listed",blocklist="spamhaus-zen"}"#,
        r#"secworks_lookups_total{outcome="not_listed",blocklist="spamhaus-zen"}"#,
        r#"secworks_dns_lookup_duration_seconds_bucket{blocklist="spamhaus-zen",le="0.01"}"#,
        r#"secworks_lookup_jobs{state="pending"} 0"#,
        "secworks_lookups_paused 0",
        "# TYPE secworks_http_request_duration_seconds histogram",
        "# HELP secworks_lookups_total Blocklist lookups, by outcome",
    ] {
        assert!(text.contains(expected), "no {expected} in:\n{text}");
    }
    // Paths outside the routes share one label, whatever a scanner asks for.
    app.client.get(app.url("/wp-admin/x")).send().await.unwrap();
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"route="other",method="GET",status="404""#),
        "{text}"
    );
    assert!(!text.contains("wp-admin"));
}

/// A full session against the real binary, logging everything it can (trace level, JSON):
/// logins right and wrong, queries, lookups through a DQS key, revocation, a user added from
/// the command line. No secret it used may appear in anything it printed.
#[tokio::test]
async fn no_secret_reaches_a_log_line_even_at_trace_level() {
    const DQS_KEY: &str = "tracekeytracekeytracekey00";
    const ADMIN_PASSWORD: &str = "admin-pw-e3b0c44298fc";
    const WRONG_PASSWORD: &str = "wrong-pw-1c8bfe8f801d";
    const NEW_USER_PASSWORD: &str = "new-user-pw-79a3c2d0";
    let token_key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([0x5au8; 32])
    };
    let zone = format!("{DQS_KEY}.zen.dq.spamhaus.net");
    let dns = TestDnsServer::start(&zone).await.unwrap();
    dns.set(
        "192.0.2.60".parse().unwrap(),
        TestAnswer::Records(vec!["127.255.255.251".parse().unwrap()]),
    );
    let db = TestDb::new().await;
    let server = ChildServer::start(
        &db,
        dns.addr(),
        &[
            ("SECWORKS_DQS_KEY", DQS_KEY),
            ("SECWORKS_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("SECWORKS_TOKEN_KEY", &token_key),
            ("SECWORKS_LOG_FORMAT", "json"),
            ("RUST_LOG", "trace"),
        ],
    )
    .await;
    let login = |user: &'static str, password: &'static str| {
        server
            .client
            .post(format!("{}/graphql/tokens", server.base))
            .basic_auth(user, Some(password))
            .send()
    };
    assert_eq!(login(USER, WRONG_PASSWORD).await.unwrap().status(), 401);
    let issued: Value = login(USER, ADMIN_PASSWORD)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_owned();
    server
        .graphql(
            &token,
            "mutation { enqueue(ip: [\"127.0.0.2\", \"192.0.2.60\"]) }",
            json!({}),
        )
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let body = server
            .graphql(&token, "{ a: getIpDetails(ip: \"127.0.0.2\") { uuid } b: getIpDetails(ip: \"192.0.2.60\") { last_error } }", json!({}))
            .await;
        if !body["data"]["a"]["uuid"].is_null() && !body["data"]["b"]["last_error"].is_null() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        dns.last_query_name()
            .is_some_and(|name| name.contains(DQS_KEY))
    );

    // A user added from the command line, who logs in.
    let mut add = std::process::Command::new(env!("CARGO_BIN_EXE_secworks"))
        .args(["user", "add", "carol"])
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "trace")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "{NEW_USER_PASSWORD}").unwrap();
    let added = add.wait_with_output().unwrap();
    assert!(added.status.success(), "{added:?}");
    let carol: Value = login("carol", NEW_USER_PASSWORD)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let carol_token = carol["token"].as_str().unwrap().to_owned();

    let revoked = server
        .client
        .delete(format!("{}/graphql/tokens", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let refused = server
        .client
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let request_id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let log = server.stop().await;
    let printed = format!(
        "{log}{}{}",
        String::from_utf8_lossy(&added.stdout),
        String::from_utf8_lossy(&added.stderr)
    );
    // Verbose logging was on, as JSON, with the request id on the request's lines.
    assert!(
        log.contains(r#""level":"DEBUG""#),
        "verbose logging was not on"
    );
    let events: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "served" && e["span"]["id"] == request_id.as_str()),
        "no log line for request {request_id}"
    );

    let basic = |user: &str, password: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    };
    let secrets = [
        ("the DQS key", DQS_KEY.to_owned()),
        ("the admin password", ADMIN_PASSWORD.to_owned()),
        ("a wrong password", WRONG_PASSWORD.to_owned()),
        ("a new user's password", NEW_USER_PASSWORD.to_owned()),
        ("the token key", token_key.clone()),
        ("a token", token.clone()),
        (
            "a token's payload",
            token["v4.local.".len()..][..40].to_owned(),
        ),
        ("another token", carol_token),
        ("Basic credentials", basic(USER, ADMIN_PASSWORD)),
        ("Basic credentials", basic(USER, WRONG_PASSWORD)),
        ("Basic credentials", basic("carol", NEW_USER_PASSWORD)),
        ("the default password", PASSWORD.to_owned()),
    ];
    for (what, secret) in secrets {
        assert!(!printed.contains(&secret), "{what} reached the log");
    }
}
