//! Shutdown of the real binary: the grace period, and a second signal.

use std::time::Duration;

use secworks_dnsbl::test_server::TestAnswer;

use crate::helpers::{ChildServer, TestDb, start_dns};

/// A server whose lookups hang: the blocklist never answers and the DNS timeout is long,
/// so shutdown has lookups in flight to wait for.
async fn server_with_hanging_lookups(
    extra: &[(&str, &str)],
) -> (
    ChildServer,
    TestDb,
    std::sync::Arc<secworks_dnsbl::test_server::TestDnsServer>,
) {
    let dns = start_dns().await;
    let db = TestDb::new().await;
    let mut env = vec![
        ("SECWORKS_DNS_TIMEOUT", "30s"),
        ("SECWORKS_LOOKUP_LEASE", "120s"),
    ];
    env.extend_from_slice(extra);
    let server = ChildServer::start(&db, dns.addr(), &env).await;
    // The test points answer (so lookups start); the addresses asked for never do.
    dns.set_default(TestAnswer::Drop);
    let token = server.token().await;
    let ips: Vec<String> = (1..=5).map(|i| format!("198.51.100.{i}")).collect();
    server.enqueue(&token, &ips).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = server
            .graphql(&token, "{ queueStatus { running } }", serde_json::json!({}))
            .await;
        if status["data"]["queueStatus"]["running"] == 5 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lookups did not start: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (server, db, dns)
}

#[tokio::test]
async fn shutdown_waits_no_longer_than_the_grace_period_and_exits_0() {
    let (mut server, _dir, _dns) =
        server_with_hanging_lookups(&[("SECWORKS_SHUTDOWN_GRACE", "1s")]).await;
    server.signal("TERM");
    // The lookups would take 30 s; the grace period of 1 s ends the wait long before.
    let status = server
        .exited_within(Duration::from_secs(15))
        .await
        .expect("exits after the grace period");
    assert!(status.success(), "{status}: {}", server.log());
    assert!(
        server.log().contains("after the grace period"),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let (mut server, _dir, _dns) =
        server_with_hanging_lookups(&[("SECWORKS_SHUTDOWN_GRACE", "60s")]).await;
    server.signal("TERM");
    // Draining: the lookups hold it up.
    assert!(server.exited_within(Duration::from_secs(1)).await.is_none());
    server.signal("INT");
    let status = server
        .exited_within(Duration::from_secs(10))
        .await
        .expect("exits on the second signal");
    assert_eq!(status.code(), Some(130), "{}", server.log());
    assert!(server.log().contains("second signal"), "{}", server.log());
}
