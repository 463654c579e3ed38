//! The re-check planner: watched targets re-checked on schedule against each list, within its
//! daily budget over a simulated day (the engine's clock moved, never slept on), intervals
//! stretched listed-and-changed first, `recheckPlan`, and replicas sharing one database.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use secworks::blocklists::{BlocklistSettings, Blocklists};
use secworks::lookup::LookupEngine;
use secworks::rechecks::{Planner, RecheckSettings};
use secworks::store::recent::RecentResults;
use secworks::store::{self, Store};
use secworks::timestamp::{Clock, next_midnight, utc_day};
use secworks_dnsbl::test_server::{TestAnswer, TestDnsServer};
use secworks_dnsbl::{Catalogue, DnsblResolver, Target};
use secworks_store_api::{NewJob, WatchEntry, WatchlistName};
use serde_json::{Value, json};

use crate::helpers::{
    TestDb, scalar_at, spawn_with, start_dns, test_config, test_engine, test_resolver,
};

const ZEN: &str = "spamhaus-zen";

const PLAN: &str = "{ recheckPlan { blocklist daily_budget queries_today projected_today
    targets_due effective_interval stretched } }";

/// The store, a lookup engine and a planner on one database, driven step by step by a test:
/// one process of secworks without its HTTP side.
struct Stack {
    store: Arc<dyn Store>,
    engine: Option<LookupEngine>,
    planner: Planner,
}

impl Stack {
    async fn start(
        url: &str,
        dns: &TestDnsServer,
        lists: &Arc<Blocklists>,
        clock: &Clock,
        settings: RecheckSettings,
    ) -> Self {
        let store = store::connect(url).await.unwrap();
        let mut engine_settings = test_engine();
        engine_settings.health_interval = settings.health_interval;
        let engine = LookupEngine::start(
            store.clone(),
            store.clone(),
            Arc::new(RecentResults::new(store.clone())),
            DnsblResolver::new(test_resolver(dns)).unwrap(),
            lists,
            engine_settings,
            clock.clone(),
        );
        let planner = Planner::new(store.clone(), lists.clone(), engine.handle(), settings);
        Self {
            store,
            engine: Some(engine),
            planner,
        }
    }

    /// Waits until no job of any list waits or runs, or what waits waits for tomorrow's
    /// budget; panics after 60 s.
    async fn drain(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let engine = self.engine.as_ref().map(LookupEngine::handle);
        loop {
            let counts = self.store.queue_counts().await.unwrap();
            if counts.running == 0
                && (counts.pending == 0
                    || engine.as_ref().is_some_and(|engine| {
                        engine.status().lists.iter().all(|list| {
                            matches!(list.pause, Some(secworks::lookup::Pause::OverBudget { .. }))
                        })
                    }))
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the queue never drained: {counts:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(mut self) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown(Duration::from_secs(5)).await;
        }
    }
}

fn zen_lists(budget: &str) -> Arc<Blocklists> {
    Arc::new(
        Blocklists::new(&BlocklistSettings {
            budgets: Some(budget.to_owned()),
            ..BlocklistSettings::default()
        })
        .unwrap(),
    )
}

async fn watch(store: &dyn Store, name: &str, entries: &[&str], interval: time::Duration) {
    let name: WatchlistName = name.parse().unwrap();
    let entries: BTreeSet<WatchEntry> = WatchEntry::parse_all(entries).unwrap();
    store
        .put_watchlist(
            &name,
            &entries,
            interval,
            1_000_000,
            &[ZEN],
            secworks::timestamp::now(),
        )
        .await
        .unwrap();
}

/// ZEN's answers stored for each of `addresses`.
async fn answers(url: &str, addresses: &[String]) -> Vec<i64> {
    let mut counts = Vec::new();
    for address in addresses {
        counts.push(zen_answers(url, address).await);
    }
    counts
}

/// Moves `clock` to one second past the next midnight UTC, so a test sees a whole UTC day.
fn to_next_day(clock: &Clock) {
    let now = clock.now();
    let ahead = next_midnight(now) - now + time::Duration::SECOND;
    clock.advance(Duration::try_from(ahead).unwrap());
}

#[tokio::test]
async fn over_a_simulated_day_the_budget_holds_and_listed_and_changed_targets_come_first() {
    const BUDGET: u64 = 10_000;
    const STEP: Duration = Duration::from_secs(600);
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let clock = Clock::system();
    let lists = zen_lists("spamhaus-zen=10000");
    let settings = RecheckSettings {
        round: STEP,
        qps: None,
        // One check a simulated ten minutes: the budget pays for 144 × its test points.
        health_interval: STEP,
    };
    let stack = Stack::start(db.url(), &dns, &lists, &clock, settings).await;
    // 102,400 addresses every 6 h need 409,600 queries a day: 41 times the budget.
    watch(
        stack.store.as_ref(),
        "fleet",
        &["10.0.0.0/16", "10.1.0.0/17", "10.1.128.0/20"],
        time::Duration::hours(6),
    )
    .await;
    // The day starts; 100 of the addresses are listed, and 20 more were listed and have just
    // been delisted.
    to_next_day(&clock);
    let listed: Vec<String> = (0..100).map(|i| format!("10.0.7.{i}")).collect();
    let delisted: Vec<String> = (0..20).map(|i| format!("10.1.9.{i}")).collect();
    for address in listed.iter().chain(&delisted) {
        dns.set(
            address.parse().unwrap(),
            TestAnswer::Records(vec!["127.0.0.2".parse().unwrap()]),
        );
    }
    let queue = |addresses: &[String]| {
        addresses
            .iter()
            .map(|a| NewJob {
                target: Target::parse(a).unwrap(),
                blocklist: ZEN.to_owned(),
            })
            .collect::<Vec<_>>()
    };
    let seed: Vec<String> = listed.iter().chain(&delisted).cloned().collect();
    stack
        .store
        .enqueue(&queue(&seed), false, clock.now())
        .await
        .unwrap();
    stack.drain().await;
    for address in &delisted {
        dns.set(address.parse().unwrap(), TestAnswer::NxDomain);
    }
    stack
        .store
        .enqueue(&queue(&delisted), false, clock.now())
        .await
        .unwrap();
    stack.drain().await;

    let day = utc_day(clock.now());
    let spent_on = |store: Arc<dyn Store>| async move {
        store
            .queries_on(day)
            .await
            .unwrap()
            .into_iter()
            .find(|(list, _)| list == ZEN)
            .map_or(0, |(_, queries)| queries)
    };
    let mut stretched = false;
    let mut planned = 0;
    for step in 0..144 {
        let rounds = stack.planner.round(clock.now()).await.unwrap();
        stretched |= rounds.iter().any(|r| r.plan.stretched);
        planned += rounds.iter().map(|r| r.queued).sum::<u64>();
        stack.drain().await;
        let spent = spent_on(stack.store.clone()).await;
        assert!(spent <= BUDGET, "{spent} queries spent of {BUDGET}");
        if step == 72 {
            // Noon: half the day's budget, not all of it in the morning.
            assert!((4_500..=5_500).contains(&spent), "{spent} spent by noon");
        }
        clock.advance(STEP);
    }
    // The planner itself never planned past the budget (the engine's own check aside).
    assert!(planned <= BUDGET, "{planned} re-checks planned");
    assert_eq!(utc_day(clock.now()), day.next_day().unwrap());
    assert!(stretched, "409,600 a day against 10,000 must stretch");
    // Spread over the whole day, and nearly all of it spent.
    let spent = spent_on(stack.store.clone()).await;
    assert!((9_000..=BUDGET).contains(&spent), "{spent} of {BUDGET}");

    // Listed and just-delisted targets kept their 6 h (checked at 6, 12 and 18 h, and the
    // seeding answers), while the rest took turns, none checked twice in the day.
    for (address, count) in listed.iter().chain(&delisted).zip(
        answers(db.url(), &listed).await.into_iter().chain(
            answers(db.url(), &delisted)
                .await
                .into_iter()
                .map(|c| c - 1),
        ),
    ) {
        assert!(count >= 4, "{address} answered {count} times");
    }
    let twice = scalar_at(
        db.url(),
        "SELECT count(*) FROM (SELECT ip_address FROM lookup_history
           WHERE response_code IS NOT NULL AND ip_address NOT LIKE '10.0.7.%'
             AND ip_address NOT LIKE '10.1.9.%'
           GROUP BY ip_address HAVING count(*) > 1) AS again",
    )
    .await;
    assert_eq!(twice, 0, "an unlisted target was checked twice in one day");
    let others = scalar_at(
        db.url(),
        "SELECT count(*) FROM lookup_history WHERE response_code IS NOT NULL
           AND ip_address NOT LIKE '10.0.7.%' AND ip_address NOT LIKE '10.1.9.%'",
    )
    .await;
    assert!(others > 5_000, "only {others} unlisted targets checked");
    stack.stop().await;
}

#[tokio::test]
async fn two_replicas_never_check_one_target_twice_in_a_round() {
    const STEP: Duration = Duration::from_secs(3_600);
    let db = TestDb::new().await;
    let dns = start_dns().await;
    let clock = Clock::system();
    let lists = zen_lists("spamhaus-zen=none");
    let settings = RecheckSettings {
        // A claim lasts three rounds: an hour.
        round: Duration::from_secs(1_200),
        qps: None,
        health_interval: STEP,
    };
    let a = Stack::start(db.url(), &dns, &lists, &clock, settings.clone()).await;
    let b = Stack::start(db.url(), &dns, &lists, &clock, settings).await;
    watch(
        a.store.as_ref(),
        "fleet",
        &["10.2.0.0/22", "10.2.8.0/23"],
        time::Duration::hours(1),
    )
    .await;
    watch(
        b.store.as_ref(),
        "edge",
        &["10.2.8.0/24", "10.2.16.0/24"],
        time::Duration::hours(1),
    )
    .await;
    let targets = 1_024 + 512 + 256;
    for hour in 1..=4_i64 {
        // Both plan at once, several times over: one of them holds the claim and queues
        // each due target once; the other's rounds find nothing of its own to do.
        for _ in 0..3 {
            let now = clock.now();
            let (ra, rb) = tokio::join!(a.planner.round(now), b.planner.round(now));
            let queued: u64 = ra
                .unwrap()
                .iter()
                .chain(rb.unwrap().iter())
                .map(|r| r.queued)
                .sum();
            assert!(queued == 0 || queued == targets, "{queued} queued at once");
        }
        a.drain().await;
        b.drain().await;
        let counts = scalar_at(
            db.url(),
            "SELECT count(*) FROM lookup_history WHERE response_code IS NOT NULL",
        )
        .await;
        assert_eq!(counts, hour * targets as i64, "after round {hour}");
        let most = scalar_at(
            db.url(),
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM lookup_history
               WHERE response_code IS NOT NULL GROUP BY ip_address) AS per_target",
        )
        .await;
        assert_eq!(most, hour, "a target was checked twice in round {hour}");
        clock.advance(STEP + Duration::from_secs(1));
    }
    // The holder stops; once its claim runs out, the other takes the list over.
    a.stop().await;
    let rounds = b.planner.round(clock.now()).await.unwrap();
    assert_eq!(rounds.iter().map(|r| r.queued).sum::<u64>(), targets);
    b.drain().await;
    assert_eq!(
        scalar_at(
            db.url(),
            "SELECT count(*) FROM lookup_history WHERE response_code IS NOT NULL"
        )
        .await,
        5 * targets as i64
    );
    b.stop().await;
}

/// A server with ZEN, SpamCop and DBL over the test DNS server playing every zone.
async fn spawn_monitoring(budgets: Option<&str>) -> (crate::helpers::TestApp, Clock, TestDb) {
    let db = TestDb::new().await;
    let catalogue = Catalogue::builtin().unwrap();
    let dns = Arc::new(
        TestDnsServer::start_catalogue(&catalogue, None)
            .await
            .unwrap(),
    );
    let mut config = test_config(&db, &dns);
    config.blocklists = Arc::new(
        Blocklists::new(&BlocklistSettings {
            enabled: Some("spamhaus-zen,spamcop,spamhaus-dbl".to_owned()),
            budgets: budgets.map(str::to_owned),
            ..BlocklistSettings::default()
        })
        .unwrap(),
    );
    // Test points once a minute: the budget pays for 1,440 checks a day of each point.
    config.engine.health_interval = Duration::from_secs(60);
    config.rechecks.health_interval = Duration::from_secs(60);
    let clock = config.clock.clone();
    let app = spawn_with(config, dns).await;
    (app, clock, db)
}

async fn plans(app: &crate::helpers::TestApp, token: &str) -> Vec<Value> {
    let body = app.graphql_ok(token, PLAN, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["recheckPlan"].as_array().unwrap().clone()
}

fn plan_of<'a>(plans: &'a [Value], list: &str) -> &'a Value {
    plans
        .iter()
        .find(|plan| plan["blocklist"] == list)
        .unwrap_or_else(|| panic!("no plan for {list}: {plans:?}"))
}

/// Polls `count` until it reaches `want`; panics after 30 s, or if it goes past.
async fn wait_for(what: &str, want: i64, count: impl AsyncFn() -> i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = count().await;
        if got >= want {
            assert_eq!(got, want, "{what}");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {got} of {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// ZEN's answers stored for `address` (its history; errors left out).
async fn zen_answers(url: &str, address: &str) -> i64 {
    scalar_at(
        url,
        &format!(
            "SELECT count(*) FROM lookup_history
             WHERE ip_address = '{address}' AND response_code IS NOT NULL"
        ),
    )
    .await
}

#[tokio::test]
async fn a_watchlist_is_rechecked_on_schedule_against_each_list_it_fits() {
    let (app, clock, _db) = spawn_monitoring(None).await;
    let token = app.token().await;
    let spamcop = Catalogue::builtin().unwrap();
    let spamcop = spamcop.get("spamcop").unwrap();
    app.dns
        .answer(
            spamcop,
            &Target::parse("192.0.2.11").unwrap(),
            TestAnswer::Records(vec!["127.0.0.2".parse().unwrap()]),
        )
        .unwrap();
    let put = app
        .graphql_ok(
            &token,
            "mutation { putWatchlist(name: \"mail\", interval: \"1h\",
               targets: [\"192.0.2.10\", \"192.0.2.11\", \"mail.example.com\"]) { target_count } }",
            json!({}),
        )
        .await;
    assert_eq!(put["data"]["putWatchlist"]["target_count"], 3, "{put}");
    // Never enqueued: the planner queues each target on each list that answers for it, two
    // addresses on ZEN and SpamCop, the domain on DBL.
    let url = app.database_url.clone();
    let answered = "SELECT count(*) FROM list_results WHERE state IN ('listed', 'not_listed')";
    wait_for("answers", 5, async || scalar_at(&url, answered).await).await;
    wait_for("ZEN's first answer", 1, async || {
        zen_answers(&url, "192.0.2.10").await
    })
    .await;
    let listed = app
        .graphql_ok(
            &token,
            "{ watchlist(name: \"mail\") { listed_count } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["data"]["watchlist"]["listed_count"], 1, "{listed}");

    let now = plans(&app, &token).await;
    assert_eq!(now.len(), 3, "{now:?}");
    let zen = plan_of(&now, ZEN);
    assert_eq!(zen["targets_due"], 0, "{zen}");
    assert_eq!(zen["effective_interval"], "1h", "{zen}");
    assert_eq!(zen["stretched"], false, "{zen}");
    assert_eq!(zen["daily_budget"], 270_000, "{zen}");
    assert!(zen["queries_today"].as_i64().unwrap() >= 2, "{zen}");
    assert!(
        zen["projected_today"].as_i64().unwrap() >= zen["queries_today"].as_i64().unwrap(),
        "{zen}"
    );
    assert_eq!(plan_of(&now, "spamhaus-dbl")["effective_interval"], "1h");

    // An hour on, each is due again and checked again, once.
    clock.advance(Duration::from_secs(3_601));
    for address in ["192.0.2.10", "192.0.2.11"] {
        wait_for("ZEN's second answer", 2, async || {
            zen_answers(&url, address).await
        })
        .await;
    }
    let due = plans(&app, &token).await;
    assert_eq!(plan_of(&due, ZEN)["targets_due"], 0, "{due:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_budget_too_small_for_the_watchlists_is_reported_stretched() {
    let (app, _clock, _db) = spawn_monitoring(Some("spamhaus-zen=20000")).await;
    let token = app.token().await;
    let put = app
        .graphql_ok(
            &token,
            "mutation { putWatchlist(name: \"fleet\", interval: \"1h\",
               targets: [\"10.9.0.0/20\"]) { target_count } }",
            json!({}),
        )
        .await;
    assert_eq!(put["data"]["putWatchlist"]["target_count"], 4_096, "{put}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let zen = loop {
        let plans = plans(&app, &token).await;
        let zen = plan_of(&plans, ZEN).clone();
        if zen["stretched"] == true {
            break zen;
        }
        assert!(tokio::time::Instant::now() < deadline, "{zen}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // 98,304 queries a day wanted; the budget leaves 20,000 less the test points' share.
    let interval = zen["effective_interval"].as_str().unwrap();
    let minutes: i64 = interval.strip_suffix('m').unwrap().parse().unwrap();
    assert!(
        (60 * 98_304 / 20_000..=60 * 98_304 / 10_000).contains(&minutes),
        "{zen}"
    );
    assert!(zen["projected_today"].as_i64().unwrap() <= 20_000, "{zen}");
    assert!(zen["targets_due"].as_i64().unwrap() > 0, "{zen}");
    // The process that plans the list says so on /metrics too, by the same factor, once its
    // round (which queues what the budget allows now) is over.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let factor = metrics.lines().find_map(|line| {
            line.strip_prefix("secworks_blocklist_recheck_stretch{blocklist=\"spamhaus-zen\"} ")
                .map(|value| value.parse::<f64>().unwrap())
        });
        if factor.is_some_and(|factor| factor > 4.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stretch {factor:?} in\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}
