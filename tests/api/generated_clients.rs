//! Each published contract, driven end to end by the client a user would generate from it.

use cynic::{MutationBuilder, QueryBuilder};
use secworks_dnsbl::test_server::TestAnswer;

use crate::clients::graphql::{self, Enqueue, EnqueueVariables, IpDetails, IpVariables};
use crate::clients::rest;
use crate::helpers::{PASSWORD, USER, spawn_app};

#[tokio::test]
async fn the_generated_token_client_issues_and_revokes_tokens() {
    let app = spawn_app().await;
    let issued = rest::basic(&app.base, USER, PASSWORD)
        .create_token()
        .send()
        .await
        .expect("a token");
    assert_eq!(issued.status(), 200);
    let token = issued.into_inner();
    assert!(token.token.starts_with("v4.local."));
    assert_eq!(token.token_type, "Bearer");
    let lifetime = token.expires_at - chrono::Utc::now();
    assert!(
        (3590..=3600).contains(&lifetime.num_seconds()),
        "{lifetime}"
    );
    assert!((3590..=3600).contains(&token.expires_in));

    let revoked = rest::bearer(&app.base, &token.token)
        .revoke_token()
        .send()
        .await
        .expect("revoked");
    assert_eq!(revoked.status(), 204);

    // The spec's 401 bodies decode into its Error type.
    match rest::bearer(&app.base, &token.token)
        .revoke_token()
        .send()
        .await
    {
        Err(rest::Error::ErrorResponse(refusal)) => {
            assert_eq!(refusal.status(), 401);
            assert!(refusal.headers().contains_key("www-authenticate"));
            assert_eq!(refusal.error, "Unauthorized");
            assert_eq!(refusal.message.as_deref(), Some("token revoked"));
        }
        other => panic!("a revoked token was not refused: {other:?}"),
    }
    match rest::basic(&app.base, USER, "wrong")
        .create_token()
        .send()
        .await
    {
        Err(rest::Error::ErrorResponse(refusal)) => {
            assert_eq!(refusal.status(), 401);
            assert_eq!(refusal.error, "Unauthorized");
        }
        other => panic!("a wrong password was not refused: {other:?}"),
    }
}

#[tokio::test]
async fn the_typed_graphql_client_enqueues_and_reads_results() {
    let app = spawn_app().await;
    app.dns.set(
        "127.0.0.2".parse().unwrap(),
        TestAnswer::Records(vec![
            "127.0.0.2".parse().unwrap(),
            "127.0.0.4".parse().unwrap(),
        ]),
    );
    let token = app.token().await;

    let unknown = graphql::run(
        &app.base,
        &token,
        IpDetails::build(IpVariables {
            ip: "192.0.2.1".into(),
        }),
    )
    .await;
    let unknown = unknown
        .data
        .and_then(|d| d.get_ip_details)
        .expect("a Lookup");
    assert_eq!(unknown.response_code, "No records found.");
    assert_eq!(unknown.uuid, None);

    let taken = graphql::run(
        &app.base,
        &token,
        Enqueue::build(EnqueueVariables {
            ip: vec!["127.0.0.2".into()],
        }),
    )
    .await;
    assert_eq!(taken.data.and_then(|d| d.enqueue), Some(1));
    app.wait_for_details(&token, "127.0.0.2", |d| d["listed"] == true)
        .await;

    let stored = graphql::run(
        &app.base,
        &token,
        IpDetails::build(IpVariables {
            ip: "127.0.0.2".into(),
        }),
    )
    .await;
    let stored = stored
        .data
        .and_then(|d| d.get_ip_details)
        .expect("a Lookup");
    assert_eq!(stored.response_code, "127.0.0.2, 127.0.0.4");
    assert!(stored.uuid.is_some());
    let lists: Vec<&str> = stored.listings.iter().map(|l| l.list.as_str()).collect();
    assert!(
        lists.len() == 2 && lists[0].starts_with("SBL") && lists[1].starts_with("XBL"),
        "{lists:?}"
    );
    assert_eq!(
        stored.history[0].response_code,
        Some(stored.response_code.clone())
    );

    // A bad address is a GraphQL error the typed client surfaces, and nothing is queued.
    let refused = graphql::run(
        &app.base,
        &token,
        Enqueue::build(EnqueueVariables {
            ip: vec!["198.51.100.7".into(), "not-an-ip".into()],
        }),
    )
    .await;
    let errors = refused.errors.expect("an error");
    assert!(errors[0].message.contains("not-an-ip"), "{errors:?}");
}
