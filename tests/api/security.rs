//! Abuse limits on the HTTP surface: failed-login limits, the request timeout, request ids.

use std::time::Duration;

use serde_json::Value;

use crate::clients::rest;
use crate::helpers::{PASSWORD, TestApp, TestDb, USER, spawn_with, start_dns, test_config};

async fn app_with(configure: impl FnOnce(&mut secworks::Config)) -> (TestApp, TestDb) {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let mut config = test_config(&db, &dns);
    configure(&mut config);
    (spawn_with(config, dns).await, db)
}

/// A login from `forwarded_for` (sent as X-Forwarded-For when given).
async fn login_from(
    app: &TestApp,
    user: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/graphql/tokens"))
        .basic_auth(user, Some(password));
    if let Some(addr) = forwarded_for {
        req = req.header("x-forwarded-for", format!("203.0.113.250, {addr}"));
    }
    req.send().await.unwrap()
}

/// Asserts a 429 with a whole-second `Retry-After` within `range`; returns the message.
async fn assert_throttled(resp: reqwest::Response, range: std::ops::RangeInclusive<u64>) -> String {
    assert_eq!(resp.status(), 429);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(range.contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "Too Many Requests");
    body["message"].as_str().unwrap().to_owned()
}

/// A client whose connections come from `local`, a loopback address of its own (Linux answers
/// on all of 127.0.0.0/8), so that the server sees another client address.
fn client_from(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login_with(
    client: &reqwest::Client,
    app: &TestApp,
    user: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/graphql/tokens"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failed_logins_are_limited_per_user_and_address_then_per_address() {
    let (app, _dir) = app_with(|config| {
        config.login_limits.per_user = "3/1h".parse().unwrap();
        config.login_limits.per_address = "5/1h".parse().unwrap();
    })
    .await;
    for _ in 0..3 {
        assert_eq!(login_from(&app, USER, "wrong", None).await.status(), 401);
    }
    // From this address the right password no longer helps: the name is refused here before
    // the password is checked, for about one refill interval (1 h / 3).
    let message = assert_throttled(login_from(&app, USER, PASSWORD, None).await, 1100..=1200).await;
    assert!(message.contains("too many failed logins"), "{message}");
    // The generated client sees the declared 429 and its Error body.
    match rest::basic(&app.base, USER, PASSWORD)
        .create_token()
        .send()
        .await
    {
        Err(rest::Error::ErrorResponse(refusal)) => {
            assert_eq!(refusal.status(), 429);
            assert_eq!(refusal.error, "Too Many Requests");
        }
        other => panic!("not throttled: {other:?}"),
    }
    // From another address the owner logs in.
    let owner = client_from("127.0.0.2");
    assert_eq!(login_with(&owner, &app, USER, PASSWORD).await.status(), 200);

    // Other names still get an answer, until the address has used up its own allowance.
    assert_eq!(login_from(&app, "mallory", "x", None).await.status(), 401);
    assert_eq!(login_from(&app, "trent", "x", None).await.status(), 401);
    assert_throttled(login_from(&app, "victor", "x", None).await, 700..=720).await;
}

#[tokio::test]
async fn an_attacker_failing_on_purpose_cannot_lock_the_owner_out() {
    let (app, _dir) = app_with(|_| {}).await;
    let attacker = client_from("127.0.0.3");
    let mut refused = 0;
    for _ in 0..50 {
        match login_with(&attacker, &app, USER, "guess")
            .await
            .status()
            .as_u16()
        {
            401 => {}
            429 => refused += 1,
            other => panic!("attacker answered {other}"),
        }
    }
    // The defaults (5/1m per name and address) stopped the guessing early on...
    assert_eq!(refused, 45);
    assert_eq!(
        login_with(&attacker, &app, USER, PASSWORD).await.status(),
        429
    );
    // ...and the owner, from another address, logs in at once.
    let owner = client_from("127.0.0.4");
    let resp = login_with(&owner, &app, USER, PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["token"].as_str().unwrap().starts_with("v4.local."));
}

#[tokio::test]
async fn a_name_guessed_from_many_addresses_still_lets_its_owner_in() {
    let (app, _dir) = app_with(|config| {
        config.login_limits.per_name = "6/1h".parse().unwrap();
    })
    .await;
    // Six addresses guess once each: each pair and address is far from its limit, the name
    // reaches its own.
    let guessers: Vec<reqwest::Client> = (10..16)
        .map(|n| client_from(&format!("127.0.0.{n}")))
        .collect();
    for guesser in &guessers {
        assert_eq!(login_with(guesser, &app, USER, "guess").await.status(), 401);
    }
    // Each guesser is refused now, even with the right password: its guesses are over.
    for guesser in &guessers {
        assert_throttled(login_with(guesser, &app, USER, PASSWORD).await, 1..=3600).await;
    }
    // A newcomer gets its password checked once: a wrong one is refused as wrong, and the next
    // attempt from there is not checked at all.
    let newcomer = client_from("127.0.0.20");
    assert_eq!(
        login_with(&newcomer, &app, USER, "guess").await.status(),
        401
    );
    assert_throttled(login_with(&newcomer, &app, USER, PASSWORD).await, 1..=3600).await;
    // The owner, who has not failed lately, gets a token.
    let owner = client_from("127.0.0.21");
    assert_eq!(login_with(&owner, &app, USER, PASSWORD).await.status(), 200);
    // Other names are untouched.
    assert_eq!(
        login_with(&guessers[0], &app, "alice", "x").await.status(),
        401
    );
}

#[tokio::test]
async fn successful_logins_are_never_limited() {
    let (app, _dir) = app_with(|config| {
        config.login_limits.per_user = "2/1h".parse().unwrap();
        config.login_limits.per_address = "2/1h".parse().unwrap();
    })
    .await;
    for _ in 0..6 {
        assert_eq!(login_from(&app, USER, PASSWORD, None).await.status(), 200);
    }
    // One failure leaves room; the count is of failures only.
    assert_eq!(login_from(&app, USER, "wrong", None).await.status(), 401);
    assert_eq!(login_from(&app, USER, PASSWORD, None).await.status(), 200);
}

#[tokio::test]
async fn a_trusted_proxy_header_tells_clients_apart_and_is_ignored_otherwise() {
    let (trusting, _d1) = app_with(|config| {
        config.login_limits.per_address = "2/1h".parse().unwrap();
        config.trust_forwarded_for = true;
    })
    .await;
    for user in ["a", "b"] {
        let resp = login_from(&trusting, user, "x", Some("198.51.100.1")).await;
        assert_eq!(resp.status(), 401);
    }
    assert_throttled(
        login_from(&trusting, "c", "x", Some("198.51.100.1")).await,
        1..=1800,
    )
    .await;
    // Another client behind the same proxy is not held back.
    assert_eq!(
        login_from(&trusting, "c", "x", Some("198.51.100.2"))
            .await
            .status(),
        401
    );

    // Without trust, the header is the client's own claim and changes nothing.
    let (direct, _d2) = app_with(|config| {
        config.login_limits.per_address = "2/1h".parse().unwrap();
    })
    .await;
    for (user, claimed) in [("a", "198.51.100.1"), ("b", "198.51.100.2")] {
        assert_eq!(
            login_from(&direct, user, "x", Some(claimed)).await.status(),
            401
        );
    }
    assert_throttled(
        login_from(&direct, "c", "x", Some("198.51.100.3")).await,
        1..=1800,
    )
    .await;
}

#[tokio::test]
async fn a_request_running_past_the_timeout_is_answered_503() {
    // Checking a password (argon2id) takes far longer than a millisecond.
    let (app, _dir) = app_with(|config| config.request_timeout = Duration::from_millis(1)).await;
    let resp = login_from(&app, USER, PASSWORD, None).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("SECWORKS_REQUEST_TIMEOUT"),
        "{body}"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let (app, _dir) = app_with(|_| {}).await;
    let id_of =
        |resp: &reqwest::Response| resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let first = app.client.get(app.url("/healthz")).send().await.unwrap();
    let second = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(second.status(), 404);
    let (first, second) = (id_of(&first), id_of(&second));
    assert!(uuid::Uuid::parse_str(&first).is_ok(), "{first}");
    assert_ne!(first, second);

    // A caller's own plain id is kept, so it can follow a request through; anything else
    // is replaced rather than copied into the logs.
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-7f3a.42")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&kept), "lb-7f3a.42");
    let replaced = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id\" injected=1")
        .send()
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(&id_of(&replaced)).is_ok());
}
