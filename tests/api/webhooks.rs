//! Webhooks: listing events POSTed, signed, to a real receiver on loopback, every event at
//! least once and in order, across a server restart and a receiver outage; retries and the
//! failing mark on the service's clock; the address checks at creation and at delivery; no
//! redirect followed.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hmac::{KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use secworks_dnsbl::test_server::TestAnswer;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::helpers::{TestApp, TestDb, scalar_at, spawn_with, start_dns, test_config};

const CREATE: &str = "mutation ($url: String!, $watchlist: String) {
    createWebhook(url: $url, watchlist: $watchlist) {
      secret webhook { id url watchlist created_at last_delivery_at last_status pending failing } } }";
const LIST: &str =
    "{ webhooks { id url watchlist created_at last_delivery_at last_status pending failing } }";
const DELETE: &str = "mutation ($id: ID!) { deleteWebhook(id: $id) }";

/// How the receiver answers.
const ACCEPT: u8 = 0;
const FAIL: u8 = 1;
const REDIRECT: u8 = 2;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on loopback that records every request; it answers 204, 500 or a
/// redirect, or is down (its port closed) until brought up again on the same port.
struct Receiver {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    seen: Arc<Mutex<Vec<Received>>>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Self {
            addr: listener.local_addr().unwrap(),
            mode: Arc::new(AtomicU8::new(ACCEPT)),
            seen: Arc::default(),
            server: Mutex::new(None),
        };
        receiver.serve(listener);
        receiver
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/secworks", self.addr)
    }

    fn serve(&self, listener: TcpListener) {
        let (mode, seen) = (self.mode.clone(), self.seen.clone());
        let server = tokio::spawn(async move {
            // Dropped with this task: going down closes the open connections too.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (mode, seen) = (mode.clone(), seen.clone());
                connections.spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: Request<hyper::body::Incoming>| {
                            let (mode, seen) = (mode.clone(), seen.clone());
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body.collect().await?.to_bytes();
                                seen.lock().unwrap().push(Received {
                                    path: parts.uri.path().to_owned(),
                                    headers: parts.headers,
                                    body,
                                });
                                let response = match mode.load(Ordering::SeqCst) {
                                    ACCEPT => Response::builder().status(StatusCode::NO_CONTENT),
                                    FAIL => Response::builder().status(500),
                                    _ => Response::builder()
                                        .status(StatusCode::TEMPORARY_REDIRECT)
                                        .header("location", "/elsewhere"),
                                };
                                Ok::<_, hyper::Error>(
                                    response.body(Full::new(Bytes::from("ok"))).unwrap(),
                                )
                            }
                        },
                    );
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        *self.server.lock().unwrap() = Some(server);
    }

    /// Closes the port: deliveries fail to connect.
    fn down(&self) {
        if let Some(server) = self.server.lock().unwrap().take() {
            server.abort();
        }
    }

    /// Listens again on the same port.
    async fn up(&self) {
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                // The aborted task may not have dropped its listener yet.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.serve(listener);
    }

    fn answer(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received; panics after 30 s.
    async fn wait(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.seen();
            if done(&seen) {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting for {what}; received {:#?}",
                seen.iter().map(Received::json).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Checks a delivery's signature with the specification's algorithm: HMAC-SHA256 with the
/// base64-decoded secret over `{id}.{timestamp}.{body}`, among the `v1,<base64>` entries.
fn assert_signed(secret: &str, received: &Received) {
    let header = |name: &str| {
        received.headers[name]
            .to_str()
            .unwrap_or_else(|_| panic!("{name} is not text"))
            .to_owned()
    };
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    timestamp.parse::<i64>().expect("a Unix timestamp");
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&received.body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    let signatures = header("webhook-signature");
    assert!(
        signatures
            .split(' ')
            .any(|entry| entry.strip_prefix("v1,") == Some(expected.as_str())),
        "no valid signature in {signatures:?}"
    );
    assert_eq!(
        received.headers["content-type"], "application/json",
        "{received:?}"
    );
}

struct Hooked {
    app: TestApp,
    token: String,
}

impl Hooked {
    async fn query(&self, query: &str, variables: Value) -> Value {
        self.app.graphql_ok(&self.token, query, variables).await
    }

    /// Creates a webhook; returns its id and secret.
    async fn create(&self, url: &str, watchlist: Option<&str>) -> (String, String) {
        let body = self
            .query(CREATE, json!({ "url": url, "watchlist": watchlist }))
            .await;
        assert!(body["errors"].is_null(), "{body}");
        let created = &body["data"]["createWebhook"];
        let webhook = &created["webhook"];
        assert_eq!(webhook["url"], url);
        assert_eq!(webhook["pending"], 0);
        assert_eq!(webhook["failing"], false);
        assert!(webhook["last_status"].is_null());
        (
            webhook["id"].as_str().unwrap().to_owned(),
            created["secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn webhooks(&self) -> Vec<Value> {
        let body = self.query(LIST, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["webhooks"].as_array().unwrap().clone()
    }

    async fn webhook(&self, id: &str) -> Value {
        self.webhooks()
            .await
            .into_iter()
            .find(|w| w["id"] == id)
            .unwrap_or_else(|| panic!("no webhook {id}"))
    }

    /// Polls webhook `id` until `done` holds; panics after 30 s.
    async fn wait_webhook(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let webhook = self.webhook(id).await;
            if done(&webhook) {
                return webhook;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting on {webhook}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The list answers `answer` about `ip`, which is looked up until that is stored.
    async fn answer(&self, ip: &str, answer: &[u8]) {
        let records = if answer.is_empty() {
            TestAnswer::NxDomain
        } else {
            TestAnswer::Records(
                answer
                    .iter()
                    .map(|&c| Ipv4Addr::new(127, 0, 0, c))
                    .collect(),
            )
        };
        self.app.dns.set(ip.parse().unwrap(), records);
        let expected = if answer.is_empty() {
            "No Response".to_owned()
        } else {
            answer
                .iter()
                .map(|c| format!("127.0.0.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.app.enqueue(&self.token, &[ip]).await;
        self.app
            .wait_for_details(&self.token, ip, |d| d["response_code"] == expected.as_str())
            .await;
    }
}

async fn hooked(db: &TestDb, dns: &Arc<secworks_dnsbl::test_server::TestDnsServer>) -> Hooked {
    hooked_with(db, dns, |_| {}).await
}

async fn hooked_with(
    db: &TestDb,
    dns: &Arc<secworks_dnsbl::test_server::TestDnsServer>,
    change: impl FnOnce(&mut secworks::Config),
) -> Hooked {
    let mut config = test_config(db, dns);
    change(&mut config);
    let app = spawn_with(config, dns.clone()).await;
    let token = app.token().await;
    Hooked { app, token }
}

/// Each event's id, in the order first received.
fn event_ids(received: &[Received]) -> Vec<i64> {
    let mut ids: Vec<i64> = Vec::new();
    for r in received {
        let id: i64 = r.json()["data"]["id"].as_str().unwrap().parse().unwrap();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

#[tokio::test]
async fn every_event_arrives_signed_and_in_order_across_a_restart_and_an_outage() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let receiver = Receiver::start().await;
    let t = hooked(&db, &dns).await;
    let (id, secret) = t.create(&receiver.url(), None).await;
    assert!(secret.starts_with("whsec_"), "{secret}");

    // Listed, delisted, listed again, listed with other codes.
    let ip = "192.0.2.10";
    t.answer(ip, &[2]).await;
    t.answer(ip, &[]).await;
    t.answer(ip, &[2]).await;
    t.answer(ip, &[2, 4]).await;
    let seen = receiver
        .wait("four events", |seen| event_ids(seen).len() >= 4)
        .await;
    let bodies: Vec<Value> = seen.iter().map(Received::json).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "listing.listed",
            "listing.delisted",
            "listing.listed",
            "listing.changed"
        ]
    );
    let data = &bodies[3]["data"];
    assert_eq!(data["target"], ip);
    assert_eq!(data["blocklist"], "spamhaus-zen");
    assert_eq!(data["change"], "CHANGED");
    assert_eq!(data["return_codes"], json!(["127.0.0.2", "127.0.0.4"]));
    assert_eq!(data["previous_return_codes"], json!(["127.0.0.2"]));
    assert_eq!(data["cursor"], data["id"]);
    assert_eq!(bodies[3]["timestamp"], data["at"]);
    assert!(bodies[1]["data"]["delist_url"].is_null());
    for received in &seen {
        assert_eq!(received.path, "/hooks/secworks");
        assert_signed(&secret, received);
    }
    let webhook = t
        .wait_webhook(&id, |w| w["pending"] == 0 && w["last_status"] == 204)
        .await;
    assert!(webhook["last_delivery_at"].is_string(), "{webhook}");

    // The receiver fails: the event waits, and is tried again under the same webhook-id.
    receiver.answer(FAIL);
    t.answer(ip, &[]).await;
    t.wait_webhook(&id, |w| w["last_status"] == 500 && w["pending"] == 1)
        .await;
    let failed = receiver.wait("a retry", |seen| seen.len() >= 6).await;
    assert_eq!(
        failed[4].headers["webhook-id"],
        failed[5].headers["webhook-id"]
    );

    // Stopped with the event undelivered; the next server on the database sends it.
    t.app.stop().await;
    receiver.answer(ACCEPT);
    let mut clock = None;
    let t = hooked_with(&db, &dns, |config| clock = Some(config.clock.clone())).await;
    let clock = clock.unwrap();
    t.wait_webhook(&id, |w| w["pending"] == 0 && w["last_status"] == 204)
        .await;
    let seen = receiver.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.json()["type"], "listing.delisted");
    assert_eq!(last.headers["webhook-id"], failed[4].headers["webhook-id"]);
    assert_signed(&secret, last);

    // The receiver is down (its port closed) through two changes, then up: both arrive, in
    // order, after the retries (the clock is moved past the backoff).
    receiver.down();
    let other = "192.0.2.11";
    t.answer(ip, &[2]).await;
    t.answer(other, &[3]).await;
    t.wait_webhook(&id, |w| w["pending"] == 2).await;
    let failures = "SELECT CAST(failures AS BIGINT) FROM webhooks";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while scalar_at(&db_url(&t), failures).await < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no failed attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    receiver.up().await;
    clock.advance(Duration::from_secs(3600));
    let seen = receiver
        .wait("the events missed while down", |seen| {
            event_ids(seen).len() == 7
        })
        .await;
    t.wait_webhook(&id, |w| w["pending"] == 0 && w["last_status"] == 204)
        .await;

    // Every event of the log, at least once, first seen in id order, each signed.
    let ids = event_ids(&seen);
    let logged = scalar_at(&db_url(&t), "SELECT count(*) FROM listing_events").await;
    assert_eq!(ids.len() as i64, logged);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    for received in &seen {
        assert_signed(&secret, received);
    }
    let last_two: Vec<(String, String)> = seen[seen.len() - 2..]
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["data"]["target"].as_str().unwrap().to_owned(),
                body["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        last_two,
        [
            (ip.to_owned(), "listing.listed".to_owned()),
            (other.to_owned(), "listing.listed".to_owned())
        ]
    );
    t.app.stop().await;
}

fn db_url(t: &Hooked) -> String {
    t.app.database_url.clone()
}

#[tokio::test]
async fn a_webhook_failing_for_a_day_is_marked_until_a_success_and_keeps_its_events() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let receiver = Receiver::start().await;
    let mut clock = None;
    let t = hooked_with(&db, &dns, |config| clock = Some(config.clock.clone())).await;
    let clock = clock.unwrap();
    let (id, _) = t.create(&receiver.url(), None).await;

    receiver.answer(FAIL);
    t.answer("192.0.2.20", &[2]).await;
    let webhook = t
        .wait_webhook(&id, |w| w["last_status"] == 500 && w["pending"] == 1)
        .await;
    assert_eq!(webhook["failing"], false);

    // A day later, still failing: marked, the event kept.
    clock.advance(Duration::from_secs(25 * 3600));
    let webhook = t.wait_webhook(&id, |w| w["failing"] == true).await;
    assert_eq!(webhook["pending"], 1);
    assert_eq!(webhook["last_status"], 500);

    // The next attempt (at most an hour later) succeeds and clears the mark.
    receiver.answer(ACCEPT);
    clock.advance(Duration::from_secs(3600));
    t.wait_webhook(&id, |w| {
        w["failing"] == false && w["pending"] == 0 && w["last_status"] == 204
    })
    .await;
    let ids = event_ids(&receiver.seen());
    assert_eq!(ids.len(), 1);
    t.app.stop().await;
}

#[tokio::test]
async fn only_global_addresses_are_taken_without_the_setting() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let t = hooked_with(&db, &dns, |config| config.webhooks.allow_private = false).await;
    let refused = [
        (
            "http://127.0.0.1:8080/hook",
            "127.0.0.1 is a loopback address",
        ),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://[::1]/", "::1 is a loopback address"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a link-local address",
        ),
        ("http://localhost:9/", "is a loopback address"),
        ("ftp://example.com/", "scheme `ftp` is not http or https"),
        ("https://user:pw@example.com/", "must not hold a user name"),
        ("not a url", "not a URL"),
    ];
    for (url, reason) in refused {
        let body = t.query(CREATE, json!({ "url": url })).await;
        let error = &body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{url}: {body}"
        );
        let message = error["message"].as_str().unwrap();
        assert!(message.starts_with("argument `url`"), "{message}");
        assert!(message.contains(reason), "{url}: {message}");
    }
    // A global address passes the check; a watchlist that does not exist is named.
    let body = t
        .query(
            CREATE,
            json!({ "url": "https://93.184.216.34/hook", "watchlist": "nope" }),
        )
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("no watchlist named \"nope\""), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let body = t
        .query(
            CREATE,
            json!({ "url": "https://93.184.216.34/", "watchlist": "Bad Name" }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(t.webhooks().await.is_empty(), "nothing is stored");
    t.app.stop().await;
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_not_reached_at_delivery_without_the_setting() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let receiver = Receiver::start().await;
    // Created while private addresses were allowed.
    let t = hooked(&db, &dns).await;
    let url = format!("http://localhost:{}/hook", receiver.addr.port());
    let (id, _) = t.create(&url, None).await;
    t.app.stop().await;

    // Delivered by a server that does not allow them: the resolved address is refused.
    let t = hooked_with(&db, &dns, |config| config.webhooks.allow_private = false).await;
    t.answer("192.0.2.30", &[2]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while scalar_at(&db_url(&t), "SELECT CAST(failures AS BIGINT) FROM webhooks").await < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no attempt made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let webhook = t.webhook(&id).await;
    assert_eq!(webhook["pending"], 1);
    assert!(webhook["last_status"].is_null(), "{webhook}");
    assert!(receiver.seen().is_empty(), "the receiver was reached");

    // Deleted: gone from the list; a second delete finds nothing.
    let deleted = t.query(DELETE, json!({ "id": id })).await;
    assert_eq!(deleted["data"]["deleteWebhook"], true, "{deleted}");
    let again = t.query(DELETE, json!({ "id": id })).await;
    assert_eq!(again["data"]["deleteWebhook"], false);
    assert!(t.webhooks().await.is_empty());
    t.app.stop().await;
}

#[tokio::test]
async fn a_redirect_is_an_answer_not_followed() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let receiver = Receiver::start().await;
    receiver.answer(REDIRECT);
    let t = hooked(&db, &dns).await;
    let (id, _) = t.create(&receiver.url(), None).await;
    t.answer("192.0.2.40", &[2]).await;
    let webhook = t.wait_webhook(&id, |w| w["last_status"] == 307).await;
    assert_eq!(webhook["pending"], 1);
    // Give a followed redirect time to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paths: Vec<String> = receiver.seen().into_iter().map(|r| r.path).collect();
    assert!(paths.iter().all(|p| p == "/hooks/secworks"), "{paths:?}");
    t.app.stop().await;
}
