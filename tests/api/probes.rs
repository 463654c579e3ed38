//! `/healthz` and `/readyz`: unauthenticated probes for orchestrators and load balancers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with_dns_down};

async fn get(app: &crate::helpers::TestApp, path: &str) -> (u16, Value) {
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Polls `/readyz` until its `lookups` field starts with `prefix`; panics after 10 s.
async fn ready_with_lookups(app: &crate::helpers::TestApp, prefix: &str) -> (u16, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(app, "/readyz").await;
        if body["lookups"]
            .as_str()
            .is_some_and(|l| l.starts_with(prefix))
        {
            return (status, body);
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn healthz_answers_without_credentials() {
    let app = spawn_app().await;
    assert_eq!(
        get(&app, "/healthz").await,
        (200, json!({ "status": "ok" }))
    );
}

#[tokio::test]
async fn readyz_reports_the_database_and_the_workers() {
    let app = spawn_app().await;
    let (status, body) = ready_with_lookups(&app, "running").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "status": "ready", "database": "ok", "workers": "running", "lookups": "running" })
    );
}

#[tokio::test]
async fn paused_lookups_are_reported_but_keep_the_service_ready() {
    let app = spawn_app_with_dns_down().await;
    let (status, body) = ready_with_lookups(&app, "paused: ").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["lookups"].as_str().unwrap().contains("test point"),
        "{body}"
    );
}
