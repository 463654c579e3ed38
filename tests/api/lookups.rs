//! Lookups end to end: GraphQL → queue → workers → a real DNS server on loopback → store.

use std::time::Duration;

use secworks_dnsbl::test_server::TestAnswer;
use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_with, start_dns, test_config};

fn looked_up(details: &Value) -> bool {
    !details["uuid"].is_null()
}

#[tokio::test]
async fn enqueued_addresses_get_their_codes_and_decoded_listings() {
    let app = spawn_app().await;
    let token = app.token().await;
    app.enqueue(&token, &["127.0.0.2", "127.0.0.1", "2001:db8::2"])
        .await;

    let listed = app.wait_for_details(&token, "127.0.0.2", looked_up).await;
    assert_eq!(listed["response_code"], "127.0.0.2, 127.0.0.4, 127.0.0.10");
    assert_eq!(listed["listed"], true);
    assert_eq!(listed["last_error"], Value::Null);
    let lists: Vec<&str> = listed["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["list"].as_str().unwrap())
        .collect();
    let codes: Vec<&str> = listed["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["return_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["127.0.0.2", "127.0.0.4", "127.0.0.10"]);
    assert!(
        lists[0].starts_with("SBL") && lists[1].starts_with("XBL") && lists[2].starts_with("PBL"),
        "{lists:?}"
    );
    assert_eq!(listed["history"].as_array().unwrap().len(), 1);
    assert_eq!(listed["created_at"], listed["updated_at"]);

    let clean = app.wait_for_details(&token, "127.0.0.1", looked_up).await;
    assert_eq!(clean["response_code"], "No Response");
    assert_eq!(clean["listed"], false);
    assert_eq!(clean["listings"], json!([]));

    let v6 = app
        .wait_for_details(&token, "2001:0db8:0000::2", looked_up)
        .await;
    assert_eq!(v6["ip_address"], "2001:db8::2");
    assert_eq!(v6["response_code"], "127.0.0.2");

    let status = app
        .wait_for_idle_queue(&token, Duration::from_secs(10))
        .await;
    assert_eq!(status["done"], 3, "{status}");
    assert_eq!(status["paused"], false, "{status}");
}

#[tokio::test]
async fn a_re_lookup_moves_updated_at_and_keeps_uuid_and_created_at() {
    let app = spawn_app().await;
    let token = app.token().await;
    app.dns.set(
        "192.0.2.7".parse().unwrap(),
        TestAnswer::Records(vec!["127.0.0.3".parse().unwrap()]),
    );
    app.enqueue(&token, &["192.0.2.7"]).await;
    let first = app.wait_for_details(&token, "192.0.2.7", looked_up).await;
    assert_eq!(first["response_code"], "127.0.0.3");

    app.dns
        .set("192.0.2.7".parse().unwrap(), TestAnswer::NxDomain);
    app.enqueue(&token, &["192.0.2.7"]).await;
    // Wait for the new answer itself: under load an attempt may time out first and be retried.
    let second = app
        .wait_for_details(&token, "192.0.2.7", |d| d["response_code"] == "No Response")
        .await;
    assert_eq!(second["uuid"], first["uuid"]);
    assert_eq!(second["created_at"], first["created_at"]);
    assert!(
        second["updated_at"].as_str() > first["updated_at"].as_str(),
        "{first} {second}"
    );
    assert_eq!(second["response_code"], "No Response");
    assert_eq!(second["listed"], false);
    assert_eq!(
        app.count_rows("SELECT count(*) FROM lookups WHERE ip_address = '192.0.2.7'")
            .await,
        1
    );
}

#[tokio::test]
async fn error_answers_never_replace_a_good_result() {
    let app = spawn_app().await;
    let token = app.token().await;
    let errors = [
        (
            "192.0.2.10",
            TestAnswer::Records(vec!["127.255.255.254".parse().unwrap()]),
            "public",
        ),
        (
            "192.0.2.11",
            TestAnswer::Records(vec!["127.255.255.252".parse().unwrap()]),
            "typing",
        ),
        (
            "192.0.2.12",
            TestAnswer::Records(vec!["10.0.0.1".parse().unwrap()]),
            "127.0.0.0/8",
        ),
        ("192.0.2.13", TestAnswer::ServFail, "SERVFAIL"),
        ("192.0.2.14", TestAnswer::Refused, "REFUSED"),
        ("192.0.2.15", TestAnswer::Drop, "timeout"),
        (
            "192.0.2.16",
            TestAnswer::Records(vec![
                "127.0.0.2".parse().unwrap(),
                "127.255.255.254".parse().unwrap(),
            ]),
            "public",
        ),
    ];
    let good = TestAnswer::Records(vec!["127.0.0.2".parse().unwrap()]);
    for (ip, _, _) in &errors {
        app.dns.set(ip.parse().unwrap(), good.clone());
    }
    let ips: Vec<&str> = errors.iter().map(|(ip, _, _)| *ip).collect();
    app.enqueue(&token, &ips).await;
    for ip in &ips {
        app.wait_for_details(&token, ip, looked_up).await;
    }

    for (ip, answer, _) in &errors {
        app.dns.set(ip.parse().unwrap(), answer.clone());
    }
    app.enqueue(&token, &ips).await;
    for (ip, _, says) in &errors {
        let says_it = |d: &Value| {
            d["last_error"]
                .as_str()
                .is_some_and(|e| e.to_lowercase().contains(&says.to_lowercase()))
        };
        let details = app.wait_for_details(&token, ip, says_it).await;
        assert_eq!(details["response_code"], "127.0.0.2", "{ip}: {details}");
        assert_eq!(details["listed"], true, "{ip}");
        let error = details["last_error"].as_str().unwrap();
        assert!(
            error.to_lowercase().contains(&says.to_lowercase()),
            "{ip}: {error}"
        );
        let latest = &details["history"][0];
        assert_eq!(latest["response_code"], Value::Null, "{ip}");
        assert_eq!(latest["error"], error, "{ip}");
    }

    // Never looked up, and the blocklist fails: no result, and the error shows.
    app.dns
        .set("192.0.2.20".parse().unwrap(), TestAnswer::ServFail);
    app.enqueue(&token, &["192.0.2.20"]).await;
    let details = app
        .wait_for_details(&token, "192.0.2.20", |d| !d["last_error"].is_null())
        .await;
    assert_eq!(details["response_code"], "No records found.");
    assert_eq!(details["listed"], Value::Null);
}

#[tokio::test]
async fn excessive_queries_pause_the_whole_queue() {
    let app = spawn_app().await;
    let token = app.token().await;
    app.dns.set(
        "192.0.2.30".parse().unwrap(),
        TestAnswer::Records(vec!["127.255.255.255".parse().unwrap()]),
    );
    app.enqueue(&token, &["192.0.2.30"]).await;
    let details = app
        .wait_for_details(&token, "192.0.2.30", |d| !d["last_error"].is_null())
        .await;
    assert!(
        details["last_error"]
            .as_str()
            .unwrap()
            .contains("excessive"),
        "{details}"
    );

    app.enqueue(&token, &["192.0.2.31"]).await;
    let status = app.queue_status(&token).await;
    assert_eq!(status["paused"], true, "{status}");
    assert!(
        status["paused_reason"]
            .as_str()
            .unwrap()
            .contains("fewer queries"),
        "{status}"
    );
    // The pause lasts 5 s in tests; well inside it, the new job has not been tried.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting = app.details(&token, "192.0.2.31").await;
    assert_eq!(
        waiting["history"],
        json!([]),
        "looked up during the pause: {waiting}"
    );
    assert_eq!(app.queue_status(&token).await["pending"], 2);
    // After the pause the queue runs again.
    app.wait_for_details(&token, "192.0.2.31", looked_up).await;
}

#[tokio::test]
async fn every_job_finishes_after_the_dns_server_comes_back() {
    let app = spawn_app().await;
    let token = app.token().await;
    app.wait_for_idle_queue(&token, Duration::from_secs(5))
        .await;
    app.dns.set_down(true);
    let ips: Vec<String> = (1..=50).map(|i| format!("198.51.100.{i}")).collect();
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    app.enqueue(&token, &ips).await;
    // The test points fail while the server is down: lookups pause instead of failing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.queue_status(&token).await;
        if status["paused"] == true
            && status["paused_reason"]
                .as_str()
                .unwrap()
                .contains("test point")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never paused: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.dns.set_down(false);
    let status = app
        .wait_for_idle_queue(&token, Duration::from_secs(30))
        .await;
    assert_eq!(status["failed"], 0, "{status}");
    assert_eq!(
        app.count_rows("SELECT count(*) FROM lookups WHERE ip_address LIKE '198.51.100.%'")
            .await,
        50
    );
}

#[tokio::test]
async fn the_qps_cap_holds_and_no_job_is_looked_up_twice() {
    let dns = start_dns().await;
    let db = crate::helpers::TestDb::new().await;
    let mut config = test_config(&db, &dns);
    config.engine.qps = std::num::NonZeroU32::new(20);
    let app = spawn_with(config, dns).await;
    let token = app.token().await;
    app.wait_for_idle_queue(&token, Duration::from_secs(5))
        .await;
    let ips: Vec<String> = (1..=100).map(|i| format!("203.0.113.{i}")).collect();
    let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
    let started = tokio::time::Instant::now();
    app.enqueue(&token, &ips).await;
    app.wait_for_idle_queue(&token, Duration::from_secs(30))
        .await;
    // 100 lookups at 20 per second (a burst of 20, then 80 more) take 4 s at least.
    assert!(
        started.elapsed() >= Duration::from_millis(3900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        app.count_rows("SELECT count(*) FROM lookups WHERE ip_address LIKE '203.0.113.%'")
            .await,
        100
    );
    assert_eq!(
        app.count_rows("SELECT count(*) FROM lookup_history WHERE ip_address LIKE '203.0.113.%'")
            .await,
        100
    );
}

#[tokio::test]
async fn history_is_newest_first_and_bounded() {
    let app = spawn_app().await;
    let token = app.token().await;
    let ip = "192.0.2.70";
    for (round, answer) in ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .into_iter()
        .enumerate()
    {
        app.dns.set(
            ip.parse().unwrap(),
            TestAnswer::Records(vec![answer.parse().unwrap()]),
        );
        app.enqueue(&token, &[ip]).await;
        app.wait_for_details(&token, ip, |d| {
            d["history"].as_array().unwrap().len() == round + 1
        })
        .await;
    }
    let query = "query ($limit: Int) { getIpDetails(ip: \"192.0.2.70\") { history(limit: $limit) { response_code } } }";
    let body = app.graphql_ok(&token, query, json!({ "limit": 2 })).await;
    assert_eq!(
        body["data"]["getIpDetails"]["history"],
        json!([{ "response_code": "127.0.0.4" }, { "response_code": "127.0.0.3" }])
    );
    let body = app.graphql_ok(&token, query, json!({})).await;
    assert_eq!(
        body["data"]["getIpDetails"]["history"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let body = app.graphql_ok(&token, query, json!({ "limit": 101 })).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("between 0 and 100"),
        "{body}"
    );
}

#[tokio::test]
async fn the_dqs_key_reaches_the_blocklist_and_nothing_else() {
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz";
    let dns = std::sync::Arc::new(
        secworks_dnsbl::test_server::TestDnsServer::start(&format!("{KEY}.zen.dq.spamhaus.net"))
            .await
            .unwrap(),
    );
    let db = crate::helpers::TestDb::new().await;
    let mut config = test_config(&db, &dns);
    config.blocklists = std::sync::Arc::new(
        secworks::blocklists::Blocklists::new(&secworks::blocklists::BlocklistSettings {
            dqs_key: Some(KEY.to_owned()),
            ..Default::default()
        })
        .unwrap(),
    );
    let app = spawn_with(config, dns).await;
    let token = app.token().await;
    app.dns.set(
        "192.0.2.40".parse().unwrap(),
        TestAnswer::Records(vec!["127.255.255.250".parse().unwrap()]),
    );
    app.enqueue(&token, &["127.0.0.2", "192.0.2.40"]).await;
    let listed = app.wait_for_details(&token, "127.0.0.2", looked_up).await;
    assert_eq!(listed["response_code"], "127.0.0.2, 127.0.0.4, 127.0.0.10");
    let failed = app
        .wait_for_details(&token, "192.0.2.40", |d| !d["last_error"].is_null())
        .await;
    assert!(!failed.to_string().contains(KEY), "{failed}");
    let status = app.queue_status(&token).await;
    assert!(!status.to_string().contains(KEY), "{status}");
}

#[tokio::test]
async fn a_server_killed_mid_run_loses_and_duplicates_nothing() {
    use crate::helpers::ChildServer;
    const JOBS: usize = 5000;
    let dns = start_dns().await;
    let db = crate::helpers::TestDb::new().await;
    let ips: Vec<String> = (0..JOBS)
        .map(|i| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256))
        .collect();

    let first = ChildServer::start(&db, dns.addr(), &[("SECWORKS_LOOKUP_QPS", "1500")]).await;
    let token = first.token().await;
    first.enqueue(&token, &ips).await;
    // Kill it part way through.
    wait_for_count(
        &db,
        "SELECT count(*) FROM lookup_jobs WHERE state = 'done'",
        500,
    )
    .await;
    first.kill().await;
    let done_before: i64 = db
        .scalar("SELECT count(*) FROM lookup_jobs WHERE state = 'done'")
        .await;
    assert!(
        done_before < JOBS as i64,
        "the kill came too late to prove anything"
    );

    let second = ChildServer::start(&db, dns.addr(), &[]).await;
    let token = second.token().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let body = second
            .graphql(
                &token,
                "{ queueStatus { pending running failed } }",
                json!({}),
            )
            .await;
        let status = &body["data"]["queueStatus"];
        assert_eq!(status["failed"], 0, "{body}");
        if status["pending"] == 0 && status["running"] == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue never drained: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.stop().await;

    let jobs = JOBS as i64;
    assert_eq!(db.scalar("SELECT count(*) FROM lookups").await, jobs);
    assert_eq!(
        db.scalar("SELECT count(DISTINCT ip_address) FROM lookups WHERE ip_address LIKE '10.%'")
            .await,
        jobs
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM lookup_jobs WHERE state = 'done'")
            .await,
        jobs
    );
    assert_eq!(db.scalar("SELECT count(*) FROM lookup_jobs").await, jobs);
    // Each address was answered and stored once: a job killed before its result was written
    // left no trace, and one whose result was written was never redone.
    assert_eq!(
        db.scalar("SELECT count(*) FROM lookup_history WHERE response_code IS NOT NULL")
            .await,
        jobs
    );
}

#[tokio::test]
async fn sigterm_finishes_or_returns_every_job_and_exits_0() {
    use crate::helpers::ChildServer;
    const JOBS: usize = 2000;
    let dns = start_dns().await;
    let db = crate::helpers::TestDb::new().await;
    let ips: Vec<String> = (0..JOBS)
        .map(|i| format!("10.200.{}.{}", i / 256, i % 256))
        .collect();

    let first = ChildServer::start(&db, dns.addr(), &[("SECWORKS_LOOKUP_QPS", "400")]).await;
    let token = first.token().await;
    first.enqueue(&token, &ips).await;
    wait_for_count(
        &db,
        "SELECT count(*) FROM lookup_jobs WHERE state = 'done'",
        200,
    )
    .await;
    first.stop().await;

    // Nothing is left claimed by the stopped process: each job is done or waits again.
    assert_eq!(
        db.scalar("SELECT count(*) FROM lookup_jobs WHERE state = 'running'")
            .await,
        0
    );
    let waiting = db
        .scalar("SELECT count(*) FROM lookup_jobs WHERE state = 'pending'")
        .await;
    assert!(waiting > 0, "the stop came too late to prove anything");
    let done = db
        .scalar("SELECT count(*) FROM lookup_jobs WHERE state = 'done'")
        .await;
    assert_eq!(db.scalar("SELECT count(*) FROM lookups").await, done);

    let second = ChildServer::start(&db, dns.addr(), &[]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while db
        .scalar("SELECT count(*) FROM lookup_jobs WHERE state <> 'done'")
        .await
        > 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue never drained"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.stop().await;
    let jobs = JOBS as i64;
    assert_eq!(db.scalar("SELECT count(*) FROM lookups").await, jobs);
    assert_eq!(
        db.scalar("SELECT count(*) FROM lookup_history WHERE response_code IS NOT NULL")
            .await,
        jobs
    );
}

/// Polls `sql` until it counts at least `at_least`; panics after 60 s.
async fn wait_for_count(db: &crate::helpers::TestDb, sql: &str, at_least: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while db.scalar(sql).await < at_least {
        assert!(tokio::time::Instant::now() < deadline, "no progress: {sql}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_lookup_command_asks_once_and_prints() {
    let dns = start_dns().await;
    dns.set("192.0.2.50".parse().unwrap(), TestAnswer::ServFail);
    let run = |args: Vec<String>| {
        let dns = dns.addr().to_string();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_secworks"))
                .arg("lookup")
                .args(args)
                .env("SECWORKS_DNS_SERVER", dns)
                .env("SECWORKS_DNS_TIMEOUT", "300ms")
                .env_remove("SECWORKS_DQS_KEY")
                .env_remove("DATABASE_URL")
                .output()
                .await
                .unwrap()
        }
    };
    let output = run(vec![
        "127.0.0.2".into(),
        "127.0.0.1".into(),
        "2001:db8::2".into(),
    ])
    .await;
    // Exit 1: something is listed.
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("127.0.0.2\tspamhaus-zen\t127.0.0.2, 127.0.0.4, 127.0.0.10\tSBL"),
        "{stdout}"
    );
    assert_eq!(lines[1], "127.0.0.1\tspamhaus-zen\tNo Response");
    assert!(
        lines[2].starts_with("2001:db8::2\tspamhaus-zen\t127.0.0.2\t"),
        "{stdout}"
    );

    let output = run(vec!["192.0.2.50".into()]).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("192.0.2.50\tspamhaus-zen\terror: "),
        "{stdout}"
    );

    let output = run(vec!["1.2.3.4".into(), "nope".into()]).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("\"nope\" (argument 2)"),
        "{output:?}"
    );
}

/// Done jobs go after `SECWORKS_JOB_RETENTION`, history after `SECWORKS_HISTORY_RETENTION`,
/// from the first run at start; the results stay. The second server's clock is two hours
/// ahead of the first's (an injected clock: no waiting).
#[tokio::test]
async fn done_jobs_and_history_past_their_retention_go_and_results_stay() {
    let db = crate::helpers::TestDb::new().await;
    let dns = start_dns().await;
    let app = spawn_with(test_config(&db, &dns), dns.clone()).await;
    let token = app.token().await;
    app.enqueue(&token, &["127.0.0.2", "127.0.0.1"]).await;
    let status = app
        .wait_for_idle_queue(&token, Duration::from_secs(30))
        .await;
    assert_eq!(status["done"], 2, "{status}");
    app.stop().await;

    let mut config = test_config(&db, &dns);
    config.clock.advance(Duration::from_secs(2 * 3600));
    config.retention = secworks::retention::RetentionSettings {
        jobs: Some(Duration::from_secs(3600)),
        history: Some(Duration::from_secs(3600)),
    };
    let app = spawn_with(config, dns).await;
    let token = app.token().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.queue_status(&token).await["done"] != 0 {
        assert!(tokio::time::Instant::now() < deadline, "done jobs kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.count_rows("SELECT count(*) FROM lookup_jobs").await, 0);
    assert_eq!(
        app.count_rows("SELECT count(*) FROM lookup_history").await,
        0
    );
    let body = app
        .graphql_ok(
            &token,
            r#"{ getIpDetails(ip: "127.0.0.2") { response_code history { response_code } } }"#,
            json!({}),
        )
        .await;
    let details = &body["data"]["getIpDetails"];
    assert_eq!(details["response_code"], "127.0.0.2, 127.0.0.4, 127.0.0.10");
    assert_eq!(details["history"], json!([]));
    app.stop().await;
}

/// What another process writes (a replica's engine, `secworks import`) shows at once in a
/// getIpDetails that asks for more than the address's row, and within the bound on the copy
/// a server keeps of recently read rows in one that asks for the row alone (docs/scaling.md).
#[tokio::test]
async fn a_result_written_by_another_process_shows_within_the_bound() {
    const ROW: &str = r#"{ getIpDetails(ip: "127.0.0.2") { response_code } }"#;
    const WITH_HISTORY: &str =
        r#"{ getIpDetails(ip: "127.0.0.2") { response_code history(limit: 1) { looked_up_at } } }"#;
    let app = spawn_app().await;
    let token = app.token().await;
    app.enqueue(&token, &["127.0.0.2"]).await;
    app.wait_for_details(&token, "127.0.0.2", |d| d["listed"] == true)
        .await;
    let code = |body: Value| body["data"]["getIpDetails"]["response_code"].clone();
    // Read, and so kept.
    let stored = code(app.graphql_ok(&token, ROW, json!({})).await);
    assert_eq!(stored, "127.0.0.2, 127.0.0.4, 127.0.0.10");

    // Another process changes the row.
    crate::helpers::scalar_at(
        &app.database_url,
        "UPDATE lookups SET response_code = '127.0.0.3' WHERE ip_address = '127.0.0.2'
         RETURNING CAST(1 AS BIGINT)",
    )
    .await;
    let fresh = code(app.graphql_ok(&token, WITH_HISTORY, json!({})).await);
    assert_eq!(
        fresh, "127.0.0.3",
        "an answer that reads more reads the row now"
    );
    tokio::time::sleep(secworks::store::recent::KEPT_FOR + Duration::from_millis(20)).await;
    assert_eq!(
        code(app.graphql_ok(&token, ROW, json!({})).await),
        "127.0.0.3"
    );
}
