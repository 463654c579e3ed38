//! `/graphql/ws`: the graphql-transport-ws protocol with the bearer token in
//! `connection_init`, through a real WebSocket client.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{TestApp, spawn_app};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket to the app's `/graphql/ws`, offering `protocol`.
async fn connect(app: &TestApp, protocol: Option<&str>) -> Result<Socket, String> {
    let url = app.url("/graphql/ws").replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().unwrap();
    if let Some(protocol) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, response)) => {
            assert_eq!(
                response.headers()["sec-websocket-protocol"],
                "graphql-transport-ws"
            );
            Ok(socket)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The next message: a JSON text, or the close frame's code and reason. Panics after `wait`.
async fn next(socket: &mut Socket, wait: Duration) -> Result<Value, (u16, String)> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("a message in time")
            .expect("the connection is open")
            .expect("a message");
        match message {
            Message::Text(text) => return Ok(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => {
                let frame = frame.expect("a close code");
                return Err((u16::from(frame.code), frame.reason.to_string()));
            }
            _ => {}
        }
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bearer_token_in_connection_init_is_acknowledged_and_a_bad_one_refused() {
    let app = spawn_app().await;
    let token = app.token().await;

    let mut socket = connect(&app, Some("graphql-transport-ws")).await.unwrap();
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    let ack = next(&mut socket, Duration::from_secs(5)).await.unwrap();
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    // The protocol's own keep-alive is answered.
    send(&mut socket, json!({ "type": "ping" })).await;
    let pong = next(&mut socket, Duration::from_secs(5)).await.unwrap();
    assert_eq!(pong["type"], "pong", "{pong}");

    for payload in [
        json!({ "Authorization": "Bearer v4.local.not-a-token" }),
        json!({ "Authorization": token }),
        json!({}),
    ] {
        let mut socket = connect(&app, Some("graphql-transport-ws")).await.unwrap();
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await;
        let (code, reason) = next(&mut socket, Duration::from_secs(5))
            .await
            .expect_err("refused");
        assert_eq!(code, 4403, "{payload}: {reason}");
        assert!(!reason.contains(&token), "{reason}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_token_ends_the_connection() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut socket = connect(&app, Some("graphql-transport-ws")).await.unwrap();
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(
        next(&mut socket, Duration::from_secs(5)).await.unwrap()["type"],
        "connection_ack"
    );
    assert_eq!(app.revoke(&token).await.status(), 204);
    // Checked again every 5 s; allow for a slow machine.
    let (code, reason) = next(&mut socket, Duration::from_secs(30))
        .await
        .expect_err("closed");
    assert_eq!(code, 4403);
    assert!(reason.contains("revoked"), "{reason}");
    app.stop().await;
}

#[tokio::test]
async fn an_expired_token_ends_the_connection() {
    let db = crate::helpers::TestDb::new().await;
    let dns = crate::helpers::start_dns().await;
    let mut config = crate::helpers::test_config(&db, &dns);
    config.token_ttl = Duration::from_secs(1);
    let app = crate::helpers::spawn_with(config, dns).await;
    let token = app.token().await;
    let mut socket = connected(&app, &token).await;
    // The token runs out a second after it was issued; the next check (every 5 s) ends the
    // connection.
    let (code, reason) = next(&mut socket, Duration::from_secs(30))
        .await
        .expect_err("closed");
    assert_eq!(code, 4403);
    assert!(reason.contains("expired"), "{reason}");
    app.stop().await;
}

#[tokio::test]
async fn the_endpoint_speaks_only_graphql_transport_ws() {
    let app = spawn_app().await;
    let refused = connect(&app, Some("graphql-ws")).await.unwrap_err();
    assert!(refused.contains("400"), "{refused}");
    let refused = connect(&app, None).await.unwrap_err();
    assert!(refused.contains("400"), "{refused}");
    // A plain GET says what the endpoint is.
    let resp = app.client.get(app.url("/graphql/ws")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("WebSocket"),
        "{body}"
    );
    app.stop().await;
}

/// An initialised connection with `token`.
async fn connected(app: &TestApp, token: &str) -> Socket {
    let mut socket = connect(app, Some("graphql-transport-ws")).await.unwrap();
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(
        next(&mut socket, Duration::from_secs(5)).await.unwrap()["type"],
        "connection_ack"
    );
    socket
}

const EVENTS: &str = "subscription ($after: String, $watchlist: String) {
    listingEvents(after: $after, watchlist: $watchlist) {
      cursor target blocklist change return_codes previous_return_codes delist_url } }";

#[tokio::test]
async fn listing_events_arrive_as_they_happen_and_resume_after_a_cursor() {
    use secworks_dnsbl::test_server::TestAnswer;

    let app = spawn_app().await;
    let token = app.token().await;
    app.wait_for_idle_queue(&token, Duration::from_secs(5))
        .await;
    let mut socket = connected(&app, &token).await;
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": EVENTS } }),
    )
    .await;
    // Subscribed before the change: the event comes as it is stored.
    app.dns.set(
        "192.0.2.80".parse().unwrap(),
        TestAnswer::Records(vec!["127.0.0.2".parse().unwrap()]),
    );
    app.enqueue(&token, &["192.0.2.80"]).await;
    let listed = next(&mut socket, Duration::from_secs(20)).await.unwrap();
    assert_eq!(listed["type"], "next", "{listed}");
    assert_eq!(listed["id"], "1");
    let event = &listed["payload"]["data"]["listingEvents"];
    assert_eq!(event["target"], "192.0.2.80");
    assert_eq!(event["blocklist"], "spamhaus-zen");
    assert_eq!(event["change"], "LISTED");
    assert_eq!(event["return_codes"], json!(["127.0.0.2"]));
    assert_eq!(event["delist_url"], "https://check.spamhaus.org/");
    let cursor = event["cursor"].as_str().unwrap().to_owned();
    drop(socket);

    // Missed while away: a new subscription after the cursor gets it first.
    app.dns
        .set("192.0.2.80".parse().unwrap(), TestAnswer::NxDomain);
    app.enqueue(&token, &["192.0.2.80"]).await;
    app.wait_for_details(&token, "192.0.2.80", |d| d["listed"] == false)
        .await;
    let mut socket = connected(&app, &token).await;
    send(
        &mut socket,
        json!({ "id": "2", "type": "subscribe",
                "payload": { "query": EVENTS, "variables": { "after": cursor } } }),
    )
    .await;
    let delisted = next(&mut socket, Duration::from_secs(20)).await.unwrap();
    let event = &delisted["payload"]["data"]["listingEvents"];
    assert_eq!(event["change"], "DELISTED", "{delisted}");
    assert_eq!(event["previous_return_codes"], json!(["127.0.0.2"]));
    assert_eq!(event["delist_url"], Value::Null);

    // An unknown watchlist or a cursor we never gave refuses the subscription.
    for (id, variables, problem) in [
        ("3", json!({ "watchlist": "nope" }), "no watchlist named"),
        ("4", json!({ "after": "x1" }), "not a cursor"),
    ] {
        send(
            &mut socket,
            json!({ "id": id, "type": "subscribe",
                    "payload": { "query": EVENTS, "variables": variables } }),
        )
        .await;
        // An execution error: one result with the error and no data, then the end.
        let refused = next(&mut socket, Duration::from_secs(5)).await.unwrap();
        assert_eq!(refused["type"], "next", "{refused}");
        assert_eq!(refused["id"], id);
        assert_eq!(refused["payload"]["data"], Value::Null);
        let error = &refused["payload"]["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
        assert!(
            error["message"].as_str().unwrap().contains(problem),
            "{refused}"
        );
        let complete = next(&mut socket, Duration::from_secs(5)).await.unwrap();
        assert_eq!(complete, json!({ "type": "complete", "id": id }));
    }
    app.stop().await;
}

#[tokio::test]
async fn one_connection_runs_at_most_a_hundred_subscriptions() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut socket = connected(&app, &token).await;
    for id in 0..=100 {
        send(
            &mut socket,
            json!({ "id": id.to_string(), "type": "subscribe",
                    "payload": { "query": "subscription { listingEvents { cursor } }" } }),
        )
        .await;
    }
    let refused = next(&mut socket, Duration::from_secs(10)).await.unwrap();
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "100");
    assert!(
        refused["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 100 subscriptions"),
        "{refused}"
    );
    // Ending one makes room for another.
    send(&mut socket, json!({ "id": "7", "type": "complete" })).await;
    send(
        &mut socket,
        json!({ "id": "101", "type": "subscribe",
                "payload": { "query": "subscription { listingEvents { cursor } }" } }),
    )
    .await;
    send(&mut socket, json!({ "type": "ping" })).await;
    loop {
        let message = next(&mut socket, Duration::from_secs(10)).await.unwrap();
        assert_ne!(message["type"], "error", "refused: {message}");
        if message["type"] == "pong" {
            break;
        }
    }
    app.stop().await;
}
