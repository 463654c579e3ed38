//! PgStore against a real PostgreSQL: each test gets a fresh database, and two `PgStore`s on
//! it stand for two replicas (two pools, so two sets of server sessions: to PostgreSQL they are
//! as separate as two processes).
//!
//! The server is the one `SECWORKS_TEST_POSTGRES` names (`postgres://user@host:port`, where a
//! test may create and drop databases), by default `postgres://postgres@127.0.0.1:5432`.
//! Without a reachable server these tests report themselves skipped and pass, so that a plain
//! `cargo test --workspace` works anywhere; under `CI=true` an unreachable server fails them.

use std::collections::HashSet;
use std::io::Write as _;
use std::net::ToSocketAddrs as _;
use std::str::FromStr as _;
use std::sync::{Arc, OnceLock};

use std::net::Ipv4Addr;

use secworks_store_api::{
    Accounts, Address, Attempt, ClaimedJob, Import, ImportedUser, JobOutcome, JobResult,
    LookupRecord, Outcome, Queue, Results, StoredAnswer,
};
use secworks_store_postgres::PgStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The variable that names the test server, for every PostgreSQL test in the workspace.
const SERVER_VAR: &str = "SECWORKS_TEST_POSTGRES";
const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// The test server, or `None` when it cannot be reached outside CI: the caller then skips.
fn server() -> Option<&'static str> {
    static SERVER: OnceLock<Option<String>> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        let url = std::env::var(SERVER_VAR)
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let url = url.trim_end_matches('/').to_owned();
        match reachable(&url) {
            Ok(()) => Some(url),
            Err(why) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
                panic!("CI=true and no PostgreSQL for the tests at {url} ({SERVER_VAR}): {why}")
            }
            Err(why) => {
                // Past the test harness's capture, which only takes print!/eprint!.
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping the PostgreSQL tests: no server at {url} ({why}); run .ci/postgres \
                     to start one, or set {SERVER_VAR}=postgres://user@host:port"
                );
                None
            }
        }
    });
    let server = server.as_deref();
    if server.is_none() {
        let test = std::thread::current().name().unwrap_or("?").to_owned();
        let _ = writeln!(std::io::stderr(), "skipped {test}: no PostgreSQL");
    }
    server
}

/// Whether a TCP connection to the server opens within a second (a socket path counts).
fn reachable(url: &str) -> Result<(), String> {
    let options = PgConnectOptions::from_str(url).map_err(|e| format!("not a URL: {e}"))?;
    if options.get_socket().is_some() || options.get_host().starts_with('/') {
        return Ok(());
    }
    let target = (options.get_host(), options.get_port());
    let addrs = target
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", options.get_host()))?;
    let mut last = String::from("no address");
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// The server's maintenance database, where test databases are created and dropped.
fn maintenance_url(server: &str) -> String {
    format!("{server}/postgres")
}

/// A database of its own, dropped (with any connections still open) when this goes away,
/// also when the test panics.
struct TestDb {
    name: String,
    url: String,
    server: &'static str,
}

impl TestDb {
    /// A fresh database, or `None` when the tests are to be skipped (see [`server`]).
    async fn new() -> Option<TestDb> {
        let server = server()?;
        let name = format!("secworks_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&maintenance_url(server))
            .await
            .expect("connect to the PostgreSQL server (SECWORKS_TEST_POSTGRES)");
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin
            .close()
            .await
            .expect("close the maintenance connection");
        Some(TestDb {
            url: format!("{server}/{name}"),
            name,
            server,
        })
    }

    async fn store(&self) -> Arc<PgStore> {
        Arc::new(PgStore::connect(&self.url).await.expect("connect PgStore"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let admin_url = maintenance_url(self.server);
        // Drop cannot await, and the test's runtime may be gone: a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

fn at(offset: Duration) -> OffsetDateTime {
    OffsetDateTime::now_utc() + offset
}

fn now() -> OffsetDateTime {
    at(Duration::ZERO)
}

/// A listing with these return codes (127.0.0.x), or not listed for none.
fn listed(codes: &[u8]) -> Outcome {
    if codes.is_empty() {
        return Outcome::NotListed;
    }
    Outcome::Listed(codes.iter().map(|&c| Ipv4Addr::new(127, 0, 0, c)).collect())
}

fn answer(job: &ClaimedJob, outcome: Outcome, when: OffsetDateTime) -> JobOutcome {
    JobOutcome {
        job_id: job.id,
        lease_token: job.lease_token.clone(),
        address: job.address,
        at: when,
        result: JobResult::Answer(outcome),
    }
}

/// Claims due jobs for `lease`, as a worker would.
async fn claim(store: &PgStore, limit: u32, lease: Duration) -> Vec<ClaimedJob> {
    store
        .claim_jobs(limit, now(), at(lease))
        .await
        .expect("claim jobs")
}

fn addresses(range: std::ops::Range<u32>) -> Vec<Address> {
    range
        .map(|i| Address::from(std::net::IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i))))
        .collect()
}

fn address(text: &str) -> Address {
    text.parse().expect("an address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_look_every_address_up_exactly_once() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (a, b) = (db.store().await, db.store().await);
    // Overlapping batches through both replicas at once: the overlap joins the pending jobs.
    let all = addresses(0..2000);
    let (first, second) = (all[..1200].to_vec(), all[800..].to_vec());
    let (x, y) = tokio::join!(
        async {
            for chunk in first.chunks(100) {
                a.enqueue(chunk, now()).await?;
            }
            Ok::<_, secworks_store_api::StoreError>(())
        },
        async {
            for chunk in second.chunks(100).rev() {
                b.enqueue(chunk, now()).await?;
            }
            Ok::<_, secworks_store_api::StoreError>(())
        }
    );
    x.unwrap();
    y.unwrap();
    assert_eq!(a.queue_counts().await.unwrap().pending, 2000);

    // Workers on both replicas claim and answer until nothing is left.
    let mut workers = Vec::new();
    for store in [a.clone(), b.clone(), a.clone(), b.clone()] {
        workers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let jobs = claim(&store, 37, Duration::minutes(5)).await;
                if jobs.is_empty() {
                    return claimed;
                }
                let outcomes: Vec<_> = jobs
                    .iter()
                    .map(|job| answer(job, listed(&[2]), now()))
                    .collect();
                store.record_outcomes(&outcomes, now()).await.unwrap();
                claimed.extend(jobs.into_iter().map(|job| job.address));
            }
        }));
    }
    let mut seen = HashSet::new();
    for worker in workers {
        for ip in worker.await.unwrap() {
            assert!(seen.insert(ip), "{ip} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 2000);
    let counts = b.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running, counts.done), (0, 0, 2000));
    for ip in [&all[0], &all[999], &all[1999]] {
        assert_eq!(a.history(ip, 10).await.unwrap().len(), 1, "history of {ip}");
        assert_eq!(
            b.lookup(ip).await.unwrap().unwrap().answer,
            StoredAnswer::Blocklist(listed(&[2]))
        );
    }
}

#[tokio::test]
async fn a_late_outcome_of_a_reclaimed_job_is_dropped() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (a, b) = (db.store().await, db.store().await);
    let ip = address("192.0.2.1");
    a.enqueue(&[ip, ip], now()).await.unwrap();
    b.enqueue(&[ip], now()).await.unwrap();
    assert_eq!(b.queue_counts().await.unwrap().pending, 1);
    // Replica a claims with a lease that has already run out: it "died".
    let stale = claim(&a, 10, Duration::milliseconds(-1)).await;
    assert_eq!(stale.len(), 1);
    assert_eq!(b.reclaim_expired(now()).await.unwrap(), 1);
    let fresh = claim(&b, 10, Duration::minutes(5)).await;
    assert_eq!(fresh.len(), 1);
    assert_eq!((fresh[0].id, fresh[0].attempts), (stale[0].id, 2));
    assert_ne!(fresh[0].lease_token, stale[0].lease_token);

    // The stale claim's answer is dropped; the live one is stored, once.
    a.record_outcomes(&[answer(&stale[0], listed(&[4]), now())], now())
        .await
        .unwrap();
    assert_eq!(a.lookup(&ip).await.unwrap(), None);
    b.record_outcomes(&[answer(&fresh[0], listed(&[2]), now())], now())
        .await
        .unwrap();
    a.record_outcomes(&[answer(&stale[0], listed(&[4]), now())], now())
        .await
        .unwrap();
    assert_eq!(
        a.lookup(&ip).await.unwrap().unwrap().answer,
        StoredAnswer::Blocklist(listed(&[2]))
    );
    assert_eq!(a.history(&ip, 10).await.unwrap().len(), 1);
    assert_eq!(a.queue_counts().await.unwrap().done, 1);
}

#[tokio::test]
async fn answers_of_one_address_keep_uuid_and_never_go_back_in_time() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let store = db.store().await;
    let ip = address("2001:db8::1");
    // Two jobs of one address: one running, then one queued again and claimed.
    store.enqueue(&[ip], now()).await.unwrap();
    let first = claim(&store, 10, Duration::minutes(5)).await;
    store.enqueue(&[ip], now()).await.unwrap();
    let second = claim(&store, 10, Duration::minutes(5)).await;
    assert_ne!(first[0].id, second[0].id);

    // Both answers in one batch, the later one first.
    let (early, late) = (
        datetime!(2024-01-01 00:00:00.000001 UTC),
        datetime!(2024-01-01 00:00:00.000002 UTC),
    );
    store
        .record_outcomes(
            &[
                answer(&second[0], listed(&[10]), late),
                answer(&first[0], listed(&[2]), early),
            ],
            now(),
        )
        .await
        .unwrap();
    let stored = store.lookup(&ip).await.unwrap().unwrap();
    assert_eq!(
        (&stored.answer, stored.created_at),
        (&StoredAnswer::Blocklist(listed(&[10])), late)
    );
    assert_eq!(stored.updated_at, late);

    // An older answer changes nothing but the history; a newer one keeps uuid and created_at.
    store.enqueue(&[ip], now()).await.unwrap();
    let third = claim(&store, 10, Duration::minutes(5)).await;
    store
        .record_outcomes(&[answer(&third[0], Outcome::NotListed, early)], now())
        .await
        .unwrap();
    assert_eq!(store.lookup(&ip).await.unwrap().unwrap(), stored);
    store.enqueue(&[ip], now()).await.unwrap();
    let fourth = claim(&store, 10, Duration::minutes(5)).await;
    let later = datetime!(2024-01-02 00:00 UTC);
    store
        .record_outcomes(&[answer(&fourth[0], Outcome::NotListed, later)], now())
        .await
        .unwrap();
    let moved = store.lookup(&ip).await.unwrap().unwrap();
    assert_eq!(
        (moved.uuid, moved.created_at),
        (stored.uuid, stored.created_at)
    );
    assert_eq!(
        (moved.answer, moved.updated_at),
        (StoredAnswer::Blocklist(Outcome::NotListed), later)
    );
    let history = store.history(&ip, 10).await.unwrap();
    let times: Vec<_> = history.iter().map(|h| h.looked_up_at).collect();
    assert_eq!(times, [later, early, early, late]);
}

#[tokio::test]
async fn a_retried_job_gives_way_to_a_pending_one() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let store = db.store().await;
    let ip = address("198.51.100.7");
    store.enqueue(&[ip], now()).await.unwrap();
    let running = claim(&store, 10, Duration::minutes(5)).await;
    store.enqueue(&[ip], now()).await.unwrap();
    let retry = JobOutcome {
        result: JobResult::Retry {
            error: "timed out".to_owned(),
            run_after: at(Duration::minutes(1)),
        },
        ..answer(&running[0], Outcome::NotListed, now())
    };
    store.record_outcomes(&[retry], now()).await.unwrap();
    let counts = store.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 0));
    let history = store.history(&ip, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].attempt, Attempt::Error("timed out".to_owned()));

    // A released job gives its attempt back.
    let pending = claim(&store, 10, Duration::minutes(5)).await;
    assert_eq!(pending[0].attempts, 1);
    let release = JobOutcome {
        result: JobResult::Release,
        ..answer(&pending[0], Outcome::NotListed, now())
    };
    store.record_outcomes(&[release], now()).await.unwrap();
    let again = claim(&store, 10, Duration::minutes(5)).await;
    assert_eq!((again[0].id, again[0].attempts), (pending[0].id, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_agree_on_first_user_and_token_key() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (a, b) = tokio::join!(db.store(), db.store());
    let stores = [a, b];
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let store = stores[usize::from(i % 2)].clone();
        tasks.push(tokio::spawn(async move {
            let created = store
                .create_first_user(&format!("admin{i}"), "hash", now())
                .await
                .unwrap();
            let key = store.token_key_or_insert([i; 32], now()).await.unwrap();
            (created, key)
        }));
    }
    let mut created = 0;
    let mut keys = HashSet::new();
    for task in tasks {
        let (made, key) = task.await.unwrap();
        created += usize::from(made);
        keys.insert(key);
    }
    assert_eq!(created, 1);
    assert_eq!(keys.len(), 1);
    assert_eq!(stores[0].list_users().await.unwrap().len(), 1);
    assert!(
        !stores[1]
            .create_first_user("late", "hash", now())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn timestamps_come_back_as_they_went_in() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (a, b) = (db.store().await, db.store().await);
    let created = datetime!(2022-02-08 06:10:00.591595 UTC);
    let updated = datetime!(2023-12-31 23:59:59.999999 UTC);
    let record = LookupRecord {
        uuid: "8e7e8fb1-4b1b-4519-8203-23004ceffc93".to_owned(),
        address: address("203.0.113.9"),
        answer: StoredAnswer::Blocklist(listed(&[2])),
        created_at: created,
        updated_at: updated,
    };
    let user = ImportedUser {
        username: "imported".to_owned(),
        password_hash: "hash".to_owned(),
    };
    let now = datetime!(2024-06-01 12:00:00.000001 UTC);
    let counts = a
        .import(
            std::slice::from_ref(&user),
            std::slice::from_ref(&record),
            now,
        )
        .await
        .unwrap();
    assert_eq!((counts.users, counts.lookups), (1, 1));
    let again = a
        .import(&[user], std::slice::from_ref(&record), now)
        .await
        .unwrap();
    assert_eq!((again.users, again.lookups), (0, 0));
    assert_eq!(
        b.lookup(&record.address).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        b.history(&record.address, 5).await.unwrap()[0].looked_up_at,
        updated
    );

    let users = b.list_users().await.unwrap();
    assert_eq!(
        (users[0].created_at, users[0].tokens_not_before),
        (now, Some(now))
    );
    // Another replica sees a revocation at once.
    let not_before = datetime!(2024-06-01 12:00:01.000002 UTC);
    assert!(a.revoke_all_tokens("imported", not_before).await.unwrap());
    a.revoke_token("jti-1", at(Duration::hours(1)), now)
        .await
        .unwrap();
    let standing = b.token_standing("jti-1", "imported").await.unwrap();
    assert!(standing.revoked && standing.user_exists);
    assert_eq!(standing.not_before, Some(not_before));
    assert_eq!(
        b.purge_expired_revocations(at(Duration::hours(2)))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returning_jobs_to_the_queue_races_enqueue_safely() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (a, b) = tokio::join!(db.store(), db.store());
    let all = addresses(0..100);
    a.enqueue(&all, now()).await.unwrap();
    // Replica a keeps returning its jobs (retry now) while replica b queues the same
    // addresses again: both make pending jobs of the same addresses at once.
    let writer = tokio::spawn({
        let a = a.clone();
        async move {
            for _ in 0..10 {
                let jobs = claim(&a, 100, Duration::minutes(5)).await;
                let outcomes: Vec<_> = jobs
                    .iter()
                    .map(|job| JobOutcome {
                        result: JobResult::Retry {
                            error: "timed out".to_owned(),
                            run_after: now(),
                        },
                        ..answer(job, Outcome::NotListed, now())
                    })
                    .collect();
                a.record_outcomes(&outcomes, now()).await.unwrap();
            }
        }
    });
    for _ in 0..10 {
        let mut shuffled = all.clone();
        shuffled.reverse();
        b.enqueue(&shuffled, now()).await.unwrap();
    }
    writer.await.unwrap();
    let counts = b.queue_counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (100, 0));
}
