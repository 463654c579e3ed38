//! What operators see: Prometheus metrics, structured logs with request ids, and never a
//! secret in a log line.

use std::io::Write;
use std::time::Duration;

use secworks_dnsbl::test_server::{TestAnswer, TestDnsServer};
use serde_json::{Value, json};

use crate::helpers::{
    ChildServer, PASSWORD, TestApp, TestDb, USER, spawn_app, spawn_with, start_dns, test_config,
};

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

async fn scrape(app: &TestApp) -> String {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// The value of the one sample that starts with `series`, if there is one.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// A server whose ZEN has a daily budget of 1000 queries and with per-target metrics `on` or
/// off; the database lives as long as the second value.
async fn app_with_metrics(per_target: bool) -> (TestApp, TestDb) {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let mut config = test_config(&db, &dns);
    config.blocklists = std::sync::Arc::new(
        secworks::blocklists::Blocklists::new(&secworks::blocklists::BlocklistSettings {
            zen_zone: Some("zen.spamhaus.org".into()),
            budgets: Some("spamhaus-zen=1000".into()),
            ..Default::default()
        })
        .unwrap(),
    );
    config.metrics_per_target = per_target;
    (spawn_with(config, dns).await, db)
}

#[tokio::test]
async fn per_list_gauges_show_health_budget_and_queries_sent() {
    let (app, _db) = app_with_metrics(false).await;
    let token = app.token().await;
    app.enqueue(&token, &["192.0.2.181"]).await;
    app.wait_for_idle_queue(&token, Duration::from_secs(30))
        .await;
    let text = scrape(&app).await;
    const ZEN: &str = r#"{blocklist="spamhaus-zen"}"#;
    let value = |name: &str| {
        sample(&text, &format!("{name}{ZEN}")).unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    };
    assert_eq!(value("secworks_blocklist_healthy"), 1.0);
    assert_eq!(value("secworks_blocklist_paused"), 0.0);
    let today = value("secworks_blocklist_queries_today");
    assert!(today >= 1.0, "{text}");
    assert_eq!(value("secworks_blocklist_budget_remaining"), 1000.0 - today);
    // Counted where they are sent: the lookup and the test point checks, in every server of
    // this test process (the recorder is shared), so at least what this one sent.
    assert!(value("secworks_blocklist_queries_total") >= today, "{text}");
    for described in [
        "# HELP secworks_blocklist_healthy",
        "# HELP secworks_blocklist_budget_remaining",
        "# TYPE secworks_blocklist_queries_total counter",
    ] {
        assert!(text.contains(described), "no {described} in:\n{text}");
    }
    assert!(!text.contains("secworks_target_listed"), "{text}");
}

/// Watches two addresses, one of them listed, and looks up a third that is not watched.
async fn watch_and_look_up(app: &TestApp, token: &str, watched: [&str; 2], other: &str) {
    app.dns.set(
        watched[0].parse().unwrap(),
        TestAnswer::Records(vec!["127.0.0.2".parse().unwrap()]),
    );
    app.dns.set(
        other.parse().unwrap(),
        TestAnswer::Records(vec!["127.0.0.2".parse().unwrap()]),
    );
    let put = app
        .graphql_ok(
            token,
            "mutation ($targets: [String!]!) {
               putWatchlist(name: \"metrics\", targets: $targets) { target_count } }",
            json!({ "targets": watched }),
        )
        .await;
    assert_eq!(put["data"]["putWatchlist"]["target_count"], 2, "{put}");
    app.enqueue(token, &[watched[0], watched[1], other]).await;
    app.wait_for_idle_queue(token, Duration::from_secs(30))
        .await;
}

#[tokio::test]
async fn per_target_series_show_each_watched_targets_answers_when_turned_on() {
    let (app, _db) = app_with_metrics(true).await;
    let token = app.token().await;
    watch_and_look_up(&app, &token, ["192.0.2.191", "192.0.2.192"], "192.0.2.193").await;
    let text = scrape(&app).await;
    for expected in [
        r#"secworks_target_listed{target="192.0.2.191",blocklist="spamhaus-zen"} 1"#,
        r#"secworks_target_listed{target="192.0.2.192",blocklist="spamhaus-zen"} 0"#,
        "# TYPE secworks_target_listed gauge",
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "no {expected} in:\n{text}"
        );
    }
    assert!(!text.contains(r#"target="192.0.2.193""#), "{text}");

    // Not watched any more: no series left behind.
    app.graphql_ok(
        &token,
        "mutation { deleteWatchlist(name: \"metrics\") }",
        json!({}),
    )
    .await;
    let text = scrape(&app).await;
    assert!(!text.contains("secworks_target_listed"), "{text}");
}

#[tokio::test]
async fn per_target_series_are_absent_when_turned_off() {
    let (app, _db) = app_with_metrics(false).await;
    let token = app.token().await;
    watch_and_look_up(&app, &token, ["192.0.2.194", "192.0.2.195"], "192.0.2.196").await;
    let text = scrape(&app).await;
    assert!(!text.contains("secworks_target_listed"), "{text}");
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
