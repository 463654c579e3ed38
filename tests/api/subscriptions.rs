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
