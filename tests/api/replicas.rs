//! Several server processes on one database, as replicas behind a load balancer run: on
//! PostgreSQL when the suite runs there (SECWORKS_TEST_POSTGRES), else on one SQLite file.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ChildServer, TestDb, after_the_revocation_bound, start_dns};

const QUEUE: &str = "{ queueStatus { pending running done failed } }";
const ANSWERS_10: &str = "SELECT count(*) FROM lookup_history WHERE ip_address LIKE '10.%' AND response_code IS NOT NULL";
const ANSWERS_10_3: &str = "SELECT count(*) FROM lookup_history
     WHERE ip_address LIKE '10.3.%' AND response_code IS NOT NULL";

/// Polls until no job waits or runs, through `server`; panics after `limit`.
async fn wait_until_drained(server: &ChildServer, token: &str, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let body = server.graphql(token, QUEUE, json!({})).await;
        let status = &body["data"]["queueStatus"];
        if status["pending"] == 0 && status["running"] == 0 {
            return status.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue never drained: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn addresses(count: usize, second_octet: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("10.{second_octet}.{}.{}", i / 256, i % 256))
        .collect()
}

#[tokio::test]
async fn two_replicas_share_the_work_and_store_each_address_exactly_once() {
    const EACH: usize = 5_000;
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let a = ChildServer::start(&db, dns.addr(), &[]).await;
    let b = ChildServer::start(&db, dns.addr(), &[]).await;
    let (token_a, token_b) = (a.token().await, b.token().await);
    // Enqueued through both, 10,000 in all; the second half overlaps nothing.
    let (first, second) = (addresses(EACH, 1), addresses(EACH, 2));
    tokio::join!(a.enqueue(&token_a, &first), b.enqueue(&token_b, &second));
    let status = wait_until_drained(&a, &token_a, Duration::from_secs(240)).await;
    assert_eq!(status["done"], 2 * EACH, "{status}");
    assert_eq!(status["failed"], 0, "{status}");

    let all = (2 * EACH) as i64;
    assert_eq!(
        db.scalar("SELECT count(*) FROM lookups WHERE ip_address LIKE '10.%'")
            .await,
        all
    );
    // One answer stored per address: no job was looked up and written by both replicas.
    // (Attempts that timed out under the load are in the history too, as errors.)
    assert_eq!(db.scalar(ANSWERS_10).await, all);
    assert_eq!(
        db.scalar("SELECT count(*) FROM lookup_jobs WHERE state = 'done'")
            .await,
        all
    );
    // Neither replica hit an error on the shared database along the way.
    let (log_a, log_b) = (a.stop().await, b.stop().await);
    assert!(
        !log_a.contains("ERROR") && !log_b.contains("ERROR"),
        "{log_a}\n{log_b}"
    );
}

/// Revocation across processes: at once by the replica that revoked, within the documented
/// bound by the other (each keeps revocations in memory; docs/security.md).
#[tokio::test]
async fn a_token_revoked_through_one_replica_is_refused_by_the_other_within_the_bound() {
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let a = ChildServer::start(&db, dns.addr(), &[]).await;
    let b = ChildServer::start(&db, dns.addr(), &[]).await;
    let (token, other) = (a.token().await, a.token().await);
    let query = |server: &ChildServer, token: &str| {
        server
            .client
            .post(format!("{}/graphql", server.base))
            .bearer_auth(token)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
    };
    // Issued by one, accepted by the other: the key lives in the database.
    assert_eq!(query(&b, &token).await.unwrap().status(), 200);
    let revoked = a
        .client
        .delete(format!("{}/graphql/tokens", a.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let refused = query(&a, &token).await.unwrap();
    assert_eq!(
        refused.status(),
        401,
        "the revoking replica refuses it at once"
    );
    after_the_revocation_bound().await;
    for server in [&a, &b] {
        let refused = query(server, &token).await.unwrap();
        assert_eq!(refused.status(), 401);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["message"], "token revoked");
        // Only that token.
        assert_eq!(query(server, &other).await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn when_one_replica_is_killed_the_other_finishes_its_jobs() {
    const JOBS: usize = 3_000;
    let db = TestDb::new().await;
    let dns = start_dns().await;
    // The first replica is slow (a rate cap), so it holds claimed jobs when it dies.
    let a = ChildServer::start(&db, dns.addr(), &[("SECWORKS_LOOKUP_QPS", "300")]).await;
    let token = a.token().await;
    a.enqueue(&token, &addresses(JOBS, 3)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while db
        .scalar("SELECT count(*) FROM lookup_jobs WHERE state = 'done'")
        .await
        < 300
    {
        assert!(tokio::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = ChildServer::start(&db, dns.addr(), &[]).await;
    a.kill().await;
    let running = db
        .scalar("SELECT count(*) FROM lookup_jobs WHERE state = 'running'")
        .await;
    let done = db
        .scalar("SELECT count(*) FROM lookup_jobs WHERE state = 'done'")
        .await;
    assert!(
        done < JOBS as i64,
        "the kill came too late to prove anything"
    );

    let token = b.token().await;
    let status = wait_until_drained(&b, &token, Duration::from_secs(120)).await;
    assert_eq!(
        status["done"], JOBS,
        "{status} ({running} were held by the killed replica)"
    );
    let jobs = JOBS as i64;
    assert_eq!(
        db.scalar("SELECT count(*) FROM lookups WHERE ip_address LIKE '10.3.%'")
            .await,
        jobs
    );
    assert_eq!(db.scalar(ANSWERS_10_3).await, jobs);
    b.stop().await;
}
