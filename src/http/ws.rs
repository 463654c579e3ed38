//! `/graphql/ws`: GraphQL over WebSocket, the graphql-transport-ws protocol, for subscriptions.
//!
//! A browser cannot set headers on a WebSocket, so the bearer token comes in the payload of
//! `connection_init` (`{"Authorization": "Bearer <token>"}`) and is checked like the HTTP
//! bearer. It is checked again every few seconds: a token that is revoked or expires ends the
//! connection (close code 4403) within [`RECHECK`], and with it every subscription on it. A
//! client that does not send `connection_init` in time is closed with 4408, as the protocol
//! says.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_graphql::http::{WebSocket as GraphqlWebSocket, WebSocketProtocols, WsMessage};
use futures_util::{SinkExt, StreamExt, future};
use poem::web::Data;
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketConfig, WebSocketStream};
use poem::{IntoResponse, Request, Response, handler};

use super::AppState;
use super::error::HttpError;
use crate::auth::{AuthError, Principal};

/// The one protocol spoken: `graphql-transport-ws` (the older `graphql-ws` is not).
const PROTOCOL: &str = "graphql-transport-ws";
/// How often a connection's token is checked again.
pub const RECHECK: Duration = Duration::from_secs(5);
/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Subscriptions one connection may run at once; each reads the event log every 250 ms.
const MAX_SUBSCRIPTIONS: usize = 100;
/// Largest message a client may send: a subscription document and its variables.
const MAX_MESSAGE: usize = 256 << 10;

/// Close code for a refused or withdrawn token (graphql-transport-ws: "Forbidden").
const FORBIDDEN: u16 = 4403;
/// Close code for a client that never initialised (graphql-transport-ws).
const INIT_TIMED_OUT: u16 = 4408;

#[handler]
pub async fn subscribe(
    req: &Request,
    ws: poem::Result<WebSocket>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let Ok(ws) = ws else {
        return HttpError::BadRequest(format!(
            "/graphql/ws is a WebSocket endpoint ({PROTOCOL}): connect with a GraphQL \
             WebSocket client"
        ))
        .graphql_response();
    };
    let offered = req
        .headers()
        .get_all(poem::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case(PROTOCOL));
    if !offered {
        return HttpError::BadRequest(format!(
            "Sec-WebSocket-Protocol: offer {PROTOCOL}, the only protocol /graphql/ws speaks"
        ))
        .graphql_response();
    }
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_MESSAGE);
    config.max_frame_size = Some(MAX_MESSAGE);
    let state = state.clone();
    ws.protocols([PROTOCOL])
        .config(config)
        .on_upgrade(move |socket| serve(socket, state))
        .into_response()
}

/// Runs one connection until the client leaves, the protocol ends it, or its token stops
/// being valid.
async fn serve(socket: WebSocketStream, state: Arc<AppState>) {
    let (mut sink, incoming) = socket.split();
    // The subscriptions running on this connection, by id: a `subscribe` beyond
    // MAX_SUBSCRIPTIONS is answered with an error here and never reaches the protocol layer.
    let running = Arc::new(Mutex::new(HashSet::<String>::new()));
    let (over_tx, mut over) = tokio::sync::mpsc::unbounded_channel::<String>();
    // Only text and binary frames carry protocol messages; a read error ends the input.
    let incoming = incoming
        .take_while(|message| future::ready(message.is_ok()))
        .filter_map({
            let running = running.clone();
            move |message| {
                let bytes = match message {
                    Ok(Message::Text(text)) => Some(text.into_bytes()),
                    Ok(Message::Binary(bytes)) => Some(bytes),
                    _ => None,
                };
                let bytes = bytes.filter(|bytes| admit(bytes, &running, &over_tx));
                future::ready(bytes)
            }
        });
    // The token `connection_init` presented, for the checks that follow.
    let presented: Arc<Mutex<Option<String>>> = Arc::default();
    // Set when `connection_init` is refused: the protocol layer closes with 1002 (protocol
    // error), and graphql-transport-ws says a refused init is 4403 (Forbidden).
    let refused = Arc::new(AtomicBool::new(false));
    let on_init = {
        let presented = presented.clone();
        let refused = refused.clone();
        let auth = state.auth.clone();
        move |payload: serde_json::Value| async move {
            let checked = match bearer_of(&payload) {
                Ok(token) => auth
                    .authenticate(&token)
                    .await
                    .map(|principal| (token, principal))
                    .map_err(|e| async_graphql::Error::new(refusal(&e))),
                Err(e) => Err(e),
            };
            let (token, principal) =
                checked.inspect_err(|_| refused.store(true, Ordering::Relaxed))?;
            *presented.lock().unwrap_or_else(PoisonError::into_inner) = Some(token);
            let mut data = async_graphql::Data::default();
            data.insert::<Principal>(principal);
            Ok(data)
        }
    };
    let mut protocol = GraphqlWebSocket::new(
        state.schema.clone(),
        incoming,
        WebSocketProtocols::GraphQLWS,
    )
    .on_connection_init(on_init);
    let started = tokio::time::Instant::now();
    let mut recheck = tokio::time::interval_at(started + RECHECK, RECHECK);
    loop {
        tokio::select! {
            message = protocol.next() => match message {
                Some(WsMessage::Text(text)) => {
                    ended(&text, &running);
                    if sink.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let code = if refused.load(Ordering::Relaxed) { FORBIDDEN } else { code };
                    let _ = sink.send(close(code, reason)).await;
                    return;
                }
                None => return,
            },
            Some(id) = over.recv() => {
                let refusal = serde_json::json!({
                    "type": "error",
                    "id": id,
                    "payload": [{ "message": format!(
                        "at most {MAX_SUBSCRIPTIONS} subscriptions at once on one connection"
                    ) }],
                });
                if sink.send(Message::Text(refusal.to_string())).await.is_err() {
                    return;
                }
            }
            _ = recheck.tick() => {
                let token = presented.lock().unwrap_or_else(PoisonError::into_inner).clone();
                let end = match token {
                    None if started.elapsed() >= INIT_TIMEOUT => {
                        Some((INIT_TIMED_OUT, "Connection initialisation timeout".to_owned()))
                    }
                    None => None,
                    Some(token) => match state.auth.authenticate(&token).await {
                        Ok(_) => None,
                        // The database did not answer: that says nothing about the token.
                        Err(AuthError::Store(e)) => {
                            tracing::warn!(error = %e, "cannot recheck a subscription's token");
                            None
                        }
                        Err(e) => Some((FORBIDDEN, refusal(&e))),
                    },
                };
                if let Some((code, reason)) = end {
                    let _ = sink.send(close(code, reason)).await;
                    return;
                }
            }
        }
    }
}

/// Whether a client message goes on to the protocol layer: every message does except a
/// `subscribe` beyond [`MAX_SUBSCRIPTIONS`], whose id goes to `over` to be refused. A
/// `complete` from the client ends its subscription here too.
fn admit(
    bytes: &[u8],
    running: &Mutex<HashSet<String>>,
    over: &tokio::sync::mpsc::UnboundedSender<String>,
) -> bool {
    let Ok(message) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return true;
    };
    let Some(id) = message.get("id").and_then(serde_json::Value::as_str) else {
        return true;
    };
    let mut running = running.lock().unwrap_or_else(PoisonError::into_inner);
    match message.get("type").and_then(serde_json::Value::as_str) {
        Some("subscribe") if !running.contains(id) && running.len() >= MAX_SUBSCRIPTIONS => {
            let _ = over.send(id.to_owned());
            false
        }
        Some("subscribe") => {
            running.insert(id.to_owned());
            true
        }
        Some("complete") => {
            running.remove(id);
            true
        }
        _ => true,
    }
}

/// Forgets a subscription the server ended (`complete` or `error` for its id).
fn ended(text: &str, running: &Mutex<HashSet<String>>) {
    // Most messages are `next`: a cheap look before parsing.
    if !(text.contains("\"complete\"") || text.contains("\"error\"")) {
        return;
    }
    if let Ok(message) = serde_json::from_str::<serde_json::Value>(text)
        && matches!(
            message.get("type").and_then(serde_json::Value::as_str),
            Some("complete" | "error")
        )
        && let Some(id) = message.get("id").and_then(serde_json::Value::as_str)
    {
        running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

/// The token of a `connection_init` payload, `{"Authorization": "Bearer <token>"}`.
fn bearer_of(payload: &serde_json::Value) -> async_graphql::Result<String> {
    let header = payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            async_graphql::Error::new(
                "connection_init: the payload must be {\"Authorization\": \"Bearer <token>\"}",
            )
        })?;
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
            Ok(token.trim().to_owned())
        }
        _ => Err(async_graphql::Error::new(
            "connection_init: Authorization must be \"Bearer <token>\"",
        )),
    }
}

/// Why a token is refused, in words safe to send (never the token).
fn refusal(error: &AuthError) -> String {
    match error {
        AuthError::Store(_) => "cannot check the token now".to_owned(),
        other => format!("token refused: {other}"),
    }
}

fn close(code: u16, reason: String) -> Message {
    // A close reason is at most 123 bytes (RFC 6455 §5.5); ours are short, but be sure.
    let mut reason = reason;
    if reason.len() > 120 {
        let mut cut = 120;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    Message::Close(Some((CloseCode::from(code), reason)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_token_comes_from_the_init_payload() {
        assert_eq!(
            bearer_of(&json!({ "Authorization": "Bearer v4.local.abc" })).unwrap(),
            "v4.local.abc"
        );
        assert_eq!(
            bearer_of(&json!({ "authorization": "bearer v4.local.abc" })).unwrap(),
            "v4.local.abc"
        );
        for bad in [
            json!({}),
            json!(null),
            json!({ "Authorization": "v4.local.abc" }),
            json!({ "Authorization": "Basic abc" }),
            json!({ "Authorization": 5 }),
        ] {
            assert!(bearer_of(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subscriptions_beyond_the_cap_are_refused_until_one_ends() {
        let running = Mutex::new(HashSet::new());
        let (over_tx, mut over) = tokio::sync::mpsc::unbounded_channel();
        let sub = |id: usize| json!({ "id": id.to_string(), "type": "subscribe" }).to_string();
        for id in 0..MAX_SUBSCRIPTIONS {
            assert!(admit(sub(id).as_bytes(), &running, &over_tx));
        }
        assert!(!admit(
            sub(MAX_SUBSCRIPTIONS).as_bytes(),
            &running,
            &over_tx
        ));
        assert_eq!(over.try_recv().unwrap(), MAX_SUBSCRIPTIONS.to_string());
        // Other messages pass, and a running id may be sent again (the protocol refuses it).
        assert!(admit(br#"{"type":"ping"}"#, &running, &over_tx));
        assert!(admit(sub(0).as_bytes(), &running, &over_tx));
        // The client ends one, the server ends another: two places free again.
        assert!(admit(
            br#"{"id":"1","type":"complete"}"#,
            &running,
            &over_tx
        ));
        ended(r#"{"id":"2","type":"complete"}"#, &running);
        ended(r#"{"id":"3","type":"next","payload":{}}"#, &running);
        assert!(admit(sub(1000).as_bytes(), &running, &over_tx));
        assert!(admit(sub(1001).as_bytes(), &running, &over_tx));
        assert!(!admit(sub(1002).as_bytes(), &running, &over_tx));
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        let Message::Close(Some((_, reason))) = close(FORBIDDEN, "é".repeat(100)) else {
            panic!("not a close frame");
        };
        assert!(reason.len() <= 123);
    }
}
