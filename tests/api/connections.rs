//! Connections that hold a slot without sending a request: the head deadline, the cap, and
//! running out of descriptors. A slow client must never keep anyone else out for long.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ChildServer, TestDb, spawn_with, start_dns, test_config};

/// What an attacker sends: the start of a request, then nothing.
const HALF_A_REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: secworks\r\n";

/// Opens `count` connections to `addr` that each send half a request and wait.
async fn slow_clients(addr: &str, count: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(HALF_A_REQUEST).await.expect("send");
        held.push(stream);
    }
    held
}

/// Waits until the server has closed every one of `streams` (read gives end of file or an
/// error); panics if one is still open after `limit`.
async fn all_closed_by_server(streams: Vec<TcpStream>, limit: Duration) {
    let closed = async {
        for mut stream in streams {
            let mut buf = [0u8; 1024];
            // A 408 or similar before the close is fine: read on to the end.
            while let Ok(1..) = stream.read(&mut buf).await {}
        }
    };
    tokio::time::timeout(limit, closed)
        .await
        .expect("the server closes connections whose request head never completes");
}

/// `GET /healthz` on a fresh connection, as a well-behaved client would.
async fn healthz(base: &str, limit: Duration) -> reqwest::StatusCode {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(limit)
        .build()
        .unwrap();
    client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("a well-behaved client is served")
        .status()
}

#[tokio::test]
async fn slow_connections_past_the_cap_time_out_and_everyone_else_is_served() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let mut config = test_config(&db, &dns);
    config.max_connections = Some(8);
    config.header_timeout = Duration::from_secs(1);
    let app = spawn_with(config, dns).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // Three times the cap: eight are taken in, the rest wait in the listen backlog.
    let slow = slow_clients(&addr, 24).await;
    // A client that behaves is served once the slow ones have run out of time.
    assert_eq!(healthz(&app.base, Duration::from_secs(20)).await, 200);
    all_closed_by_server(slow, Duration::from_secs(20)).await;

    // A client that opens a connection and sends nothing is closed just as soon.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
        .await
        .expect("a silent connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // Kept-alive connections are reused as before.
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let resp = client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    let metrics = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("secworks_http_connection_waits_total"),
        "the cap was reached and counted"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_server_keeps_accepting_after_descriptors_ran_out() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    // A cap far above what 96 descriptors allow, so that accept itself runs out.
    let server = ChildServer::start_with_open_files(
        &db,
        dns.addr(),
        &[
            ("SECWORKS_MAX_CONNECTIONS", "10000"),
            ("SECWORKS_HEADER_TIMEOUT", "2s"),
            ("SECWORKS_LOOKUP_CONCURRENCY", "4"),
        ],
        96,
    )
    .await;
    assert!(
        server
            .log()
            .contains("SECWORKS_MAX_CONNECTIONS leaves too few descriptors"),
        "{}",
        server.log()
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    let slow = slow_clients(&addr, 150).await;
    // The process is out of descriptors now; it says so, and once the slow connections have
    // timed out it serves again.
    assert_eq!(healthz(&server.base, Duration::from_secs(60)).await, 200);
    all_closed_by_server(slow, Duration::from_secs(60)).await;
    assert_eq!(healthz(&server.base, Duration::from_secs(10)).await, 200);
    let log = server.stop().await;
    let refusals = log.matches("cannot accept connections").count();
    assert_eq!(refusals, 1, "logged once a minute at most: {log}");
}
