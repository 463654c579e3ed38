//! `POST /graphql/tokens` and `DELETE /graphql/tokens`, and every way a bearer token is refused.

use std::time::Duration;

use pasetors::claims::Claims;
use pasetors::keys::SymmetricKey;
use pasetors::local;
use pasetors::version4::V4;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

use crate::helpers::{
    PASSWORD, TEST_KEY, TestDb, USER, assert_unauthorized, spawn_app, spawn_with, start_dns,
    test_config,
};

const QUERY: &str = r#"{ getIpDetails(ip: "127.0.0.2") { response_code } }"#;

#[tokio::test]
async fn issues_a_bearer_token_for_good_credentials() {
    let app = spawn_app().await;
    let resp = app.login(USER, PASSWORD).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = resp.json().await.unwrap();
    assert!(body["token"].as_str().unwrap().starts_with("v4.local."));
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");
    let expires_at = OffsetDateTime::parse(body["expires_at"].as_str().unwrap(), &Rfc3339).unwrap();
    let from_now = expires_at - OffsetDateTime::now_utc();
    assert!(
        (3590..=3600).contains(&from_now.whole_seconds()),
        "{from_now}"
    );

    let token = body["token"].as_str().unwrap();
    let resp = app.graphql(token, QUERY, json!({})).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn refuses_bad_and_missing_credentials() {
    let app = spawn_app().await;
    for (user, password) in [(USER, "wrong"), ("nobody", PASSWORD), ("", "")] {
        let (challenge, body) = assert_unauthorized(app.login(user, password).await, "Basic").await;
        assert!(challenge.contains("realm=\"secworks\""));
        assert_eq!(body, json!({ "error": "Unauthorized" }));
    }
    let missing = app
        .client
        .post(app.url("/graphql/tokens"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(missing, "Basic").await;
    let garbage = app
        .client
        .post(app.url("/graphql/tokens"))
        .header("authorization", "Basic %%%not-base64")
        .send()
        .await
        .unwrap();
    assert_unauthorized(garbage, "Basic").await;
    let wrong_scheme = app
        .client
        .post(app.url("/graphql/tokens"))
        .bearer_auth("v4.local.x")
        .send()
        .await
        .unwrap();
    assert_unauthorized(wrong_scheme, "Basic").await;
}

#[tokio::test]
async fn revoked_tokens_are_dead_everywhere() {
    let app = spawn_app().await;
    let token = app.token().await;
    let other = app.token().await;
    assert_eq!(app.revoke(&token).await.status(), 204);

    let (challenge, body) =
        assert_unauthorized(app.graphql(&token, QUERY, json!({})).await, "Bearer").await;
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(body["message"], "token revoked");
    assert_unauthorized(app.revoke(&token).await, "Bearer").await;
    // Revoking one token leaves the user's other tokens alone.
    assert_eq!(app.graphql(&other, QUERY, json!({})).await.status(), 200);
    assert_eq!(
        app.count_rows("SELECT count(*) FROM revoked_tokens").await,
        1
    );
}

#[tokio::test]
async fn refuses_missing_and_malformed_bearer_tokens() {
    let app = spawn_app().await;
    let missing = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap();
    let (challenge, _) = assert_unauthorized(missing, "Bearer").await;
    assert!(
        !challenge.contains("error="),
        "no error code without credentials: {challenge}"
    );
    let missing_delete = app
        .client
        .delete(app.url("/graphql/tokens"))
        .send()
        .await
        .unwrap();
    assert_unauthorized(missing_delete, "Bearer").await;

    for (token, reason) in [
        ("garbage", "malformed token"),
        ("v4.public.abc", "malformed token"),
        ("v4.local.", "malformed token"),
    ] {
        let (_, body) =
            assert_unauthorized(app.graphql(token, QUERY, json!({})).await, "Bearer").await;
        assert_eq!(body["message"], reason, "{token}");
        let (_, body) = assert_unauthorized(app.revoke(token).await, "Bearer").await;
        assert_eq!(body["message"], reason, "{token}");
    }
}

#[tokio::test]
async fn refuses_tampered_foreign_expired_and_future_tokens() {
    let app = spawn_app().await;
    let good = app.token().await;
    let mut tampered = good.clone().into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();

    let now = OffsetDateTime::now_utc();
    let hour = time::Duration::hours(1);
    let cases = [
        (tampered, "invalid token"),
        (
            mint(&[1; 32], "secworks", now - hour, now + hour),
            "invalid token",
        ),
        (
            mint(&TEST_KEY, "secworks", now - 2 * hour, now - hour),
            "token expired",
        ),
        (
            mint(&TEST_KEY, "secworks", now + hour, now + 2 * hour),
            "token not yet valid",
        ),
        (
            mint(&TEST_KEY, "someone-else", now - hour, now + hour),
            "token has the wrong issuer",
        ),
    ];
    for (token, reason) in cases {
        let (_, body) =
            assert_unauthorized(app.graphql(&token, QUERY, json!({})).await, "Bearer").await;
        assert_eq!(body["message"], reason);
        let (_, body) = assert_unauthorized(app.revoke(&token).await, "Bearer").await;
        assert_eq!(body["message"], reason);
    }
    // The same minting with the right key, issuer and times is accepted: the cases above fail
    // for the reason they name, not because the test mints tokens wrongly.
    let fine = mint(&TEST_KEY, "secworks", now - hour, now + hour);
    assert_eq!(app.graphql(&fine, QUERY, json!({})).await.status(), 200);
}

#[tokio::test]
async fn tokens_expire_after_the_configured_ttl() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let mut config = test_config(&db, &dns);
    config.token_ttl = Duration::from_secs(1);
    let app = spawn_with(config, dns.clone()).await;
    let token = app.token().await;
    assert_eq!(app.graphql(&token, QUERY, json!({})).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, body) =
        assert_unauthorized(app.graphql(&token, QUERY, json!({})).await, "Bearer").await;
    assert_eq!(body["message"], "token expired");
}

#[tokio::test]
async fn a_generated_key_survives_a_restart() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let mut config = test_config(&db, &dns);
    config.token_key = None;
    let app = spawn_with(config.clone(), dns.clone()).await;
    let token = app.token().await;
    app.stop().await;

    let app = spawn_with(config, dns.clone()).await;
    assert_eq!(app.graphql(&token, QUERY, json!({})).await.status(), 200);
    // The generated key is not the test key: a token of the test key is refused.
    let now = OffsetDateTime::now_utc();
    let foreign = mint(
        &TEST_KEY,
        "secworks",
        now - time::Duration::minutes(1),
        now + time::Duration::hours(1),
    );
    assert_unauthorized(app.graphql(&foreign, QUERY, json!({})).await, "Bearer").await;
}

#[tokio::test]
async fn the_admin_password_replaces_the_default_on_an_empty_database() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let mut config = test_config(&db, &dns);
    config.admin_password = Some("a much better secret".into());
    let app = spawn_with(config.clone(), dns.clone()).await;
    assert_unauthorized(app.login(USER, PASSWORD).await, "Basic").await;
    assert_eq!(app.login(USER, "a much better secret").await.status(), 200);
    app.stop().await;

    // Only an empty database gets a first user: restarting with another password changes nothing.
    config.admin_password = Some("another".into());
    let app = spawn_with(config, dns.clone()).await;
    assert_eq!(app.login(USER, "a much better secret").await.status(), 200);
    assert_eq!(app.count_rows("SELECT count(*) FROM users").await, 1);
}

/// A token sealed with `key`, as secworks would seal it but with chosen claims.
fn mint(
    key: &[u8; 32],
    issuer: &str,
    not_before: OffsetDateTime,
    expires: OffsetDateTime,
) -> String {
    let fmt = |t: OffsetDateTime| t.replace_nanosecond(0).unwrap().format(&Rfc3339).unwrap();
    let mut claims = Claims::new().unwrap();
    claims.issuer(issuer).unwrap();
    claims.subject(USER).unwrap();
    claims
        .token_identifier(&uuid::Uuid::new_v4().to_string())
        .unwrap();
    claims.issued_at(&fmt(not_before)).unwrap();
    claims.not_before(&fmt(not_before)).unwrap();
    claims.expiration(&fmt(expires)).unwrap();
    let key = SymmetricKey::<V4>::from(key).unwrap();
    local::encrypt(&key, &claims, None, None).unwrap()
}

#[tokio::test]
async fn purging_drops_only_revocations_of_expired_tokens() {
    let db = TestDb::new().await;
    let store = secworks::store::connect(db.url()).await.unwrap();
    let now = secworks::timestamp::now();
    store
        .revoke_token("old", datetime!(2020-01-01 00:00 UTC), now)
        .await
        .unwrap();
    store
        .revoke_token("live", datetime!(2999-01-01 00:00 UTC), now)
        .await
        .unwrap();
    assert_eq!(store.purge_expired_revocations(now).await.unwrap(), 1);
    let revoked = |jti: &'static str| {
        let store = store.clone();
        async move { store.token_standing(jti, "nobody").await.unwrap().revoked }
    };
    assert!(!revoked("old").await);
    assert!(revoked("live").await);
}

#[tokio::test]
async fn an_undeclared_method_on_the_token_route_answers_405_with_allow() {
    let app = spawn_app().await;
    for method in ["GET", "PUT", "PATCH"] {
        let resp = app
            .client
            .request(method.parse().unwrap(), app.url("/graphql/tokens"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{method}");
        assert_eq!(resp.headers()["allow"], "DELETE, POST");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "Method Not Allowed");
    }
}
