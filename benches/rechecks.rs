//! The re-check planner at scale, on SQLite: planning a round over 1,000,000 watched addresses
//! (time and memory), and re-checks stored per second against the plain `enqueue` rate of the
//! same engine, measured side by side in one run.
//!
//! `cargo bench --bench rechecks` — see docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secworks::blocklists::{BlocklistSettings, Blocklists};
use secworks::lookup::{EngineSettings, LookupEngine};
use secworks::rechecks::{Planner, RecheckSettings};
use secworks::store::recent::RecentResults;
use secworks::store::{self, NewJob, Store, Target, WatchEntry, WatchlistName};
use secworks_dnsbl::test_server::TestDnsServer;
use secworks_dnsbl::{DnsblResolver, ResolverSettings, Zone};

type Error = Box<dyn std::error::Error>;

/// Watched addresses in the planning part: fifteen /16s, four /20s, two /24s and 64 more.
const WATCHED: u64 = 1_000_000;
/// Addresses per run in the throughput part, as in the lookups benchmark.
const ADDRESSES: usize = 10_000;
const RUNS: usize = 5;
const ZEN: &str = "spamhaus-zen";

#[tokio::main]
async fn main() -> Result<(), Error> {
    secworks::memory::return_large_blocks();
    let dns = TestDnsServer::start("zen.spamhaus.org").await?;
    let resolver = ResolverSettings {
        server: Some(dns.addr()),
        timeout: Duration::from_secs(2),
        attempts: 2,
        zone: Zone::default(),
    };
    planning(&resolver).await?;
    throughput(&resolver).await?;
    Ok(())
}

struct Stack {
    store: Arc<dyn Store>,
    engine: LookupEngine,
    planner: Planner,
    _dir: tempfile::TempDir,
}

async fn stack(resolver: &ResolverSettings, budgets: &str) -> Result<Stack, Error> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = store::connect(&url).await?;
    let lists = Arc::new(Blocklists::new(&BlocklistSettings {
        budgets: Some(budgets.to_owned()),
        ..BlocklistSettings::default()
    })?);
    let clock = secworks::timestamp::Clock::system();
    let engine = LookupEngine::start(
        store.clone(),
        store.clone(),
        Arc::new(RecentResults::new(store.clone())),
        DnsblResolver::new(resolver.clone())?,
        &lists,
        EngineSettings {
            concurrency: 256,
            qps: None,
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(10),
            max_attempts: 8,
            health_interval: Duration::from_secs(60),
            rate_limit_pause: Duration::from_secs(60),
            min_fresh: Duration::from_secs(60),
            max_fresh: Duration::from_secs(86_400),
        },
        clock,
    );
    let planner = Planner::new(
        store.clone(),
        lists,
        engine.handle(),
        RecheckSettings {
            round: Duration::from_secs(30),
            qps: None,
            health_interval: Duration::from_secs(60),
        },
    );
    // The test points pass before anything is measured.
    while engine
        .handle()
        .status()
        .lists
        .iter()
        .any(|l| l.pause.is_some())
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Stack {
        store,
        engine,
        planner,
        _dir: dir,
    })
}

async fn put(store: &dyn Store, name: &str, entries: &[String]) -> Result<(), Error> {
    let name: WatchlistName = name.parse()?;
    let entries = WatchEntry::parse_all(entries).map_err(|bad| format!("{bad:?}"))?;
    store
        .put_watchlist(
            &name,
            &entries,
            time::Duration::hours(6),
            u64::MAX,
            &[ZEN],
            secworks::timestamp::now(),
        )
        .await?;
    Ok(())
}

/// One watchlist per range (a watchlist write expands its entries in memory, so they are
/// written a range at a time): 1,000,000 addresses in all.
async fn watch_a_million(store: &dyn Store) -> Result<(), Error> {
    let mut lists: Vec<Vec<String>> = (0..15).map(|i| vec![format!("10.{i}.0.0/16")]).collect();
    lists.push((0..4).map(|i| format!("10.15.{}.0/20", i * 16)).collect());
    lists.push(vec!["10.15.64.0/24".into(), "10.15.65.0/24".into()]);
    lists.push((0..64).map(|i| format!("10.15.66.{i}")).collect());
    for (n, entries) in lists.iter().enumerate() {
        put(store, &format!("fleet-{n}"), entries).await?;
    }
    Ok(())
}

/// The process's resident set now and at its peak since the last reset, in MiB.
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Starts a new peak: the kernel's high-water mark is set back to the resident set now.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Times one planner round at the clock's instant and prints it as a row labelled `label`.
async fn timed_round(
    s: &Stack,
    clock: &secworks::timestamp::Clock,
    label: &str,
) -> Result<(), Error> {
    reset_peak();
    let started = Instant::now();
    let rounds = s.planner.round(clock.now()).await?;
    let took = started.elapsed();
    let (now, peak) = rss();
    let zen = rounds
        .iter()
        .find(|r| r.blocklist == ZEN)
        .ok_or("ZEN was not planned")?;
    println!(
        "{label:>7} {:>10.1} {:>8} {:>8} {now:>10.1} {peak:>12.1}",
        took.as_secs_f64() * 1000.0,
        zen.queued,
        zen.plan.targets_due,
    );
    Ok(())
}

async fn planning(resolver: &ResolverSettings) -> Result<(), Error> {
    // ZEN with its default budget: 270,000 a day against 4,000,000 wanted.
    let s = stack(resolver, "").await?;
    let started = Instant::now();
    watch_a_million(s.store.as_ref()).await?;
    println!(
        "planning: {WATCHED} watched addresses written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:>7} {:>10} {:>8} {:>8} {:>10} {:>12}",
        "round", "time ms", "queued", "due", "RSS MiB", "peak MiB"
    );
    let clock = secworks::timestamp::Clock::system();
    for round in 0..6 {
        timed_round(&s, &clock, &round.to_string()).await?;
        if round == 0 {
            println!(
                "        (round 0 brings the schedule in line: 1,000,000 rows written, and \
                 purges the log of the writes)"
            );
        }
        // The next round 30 s on, as the planner would run it.
        clock.advance(Duration::from_secs(30));
    }
    // One address more on a watchlist while 1,000,000 are watched: the round's sync applies
    // that one change, not the million.
    let name: WatchlistName = "fleet-17".parse()?;
    let one = WatchEntry::parse_all(&["10.15.67.1"]).map_err(|bad| format!("{bad:?}"))?;
    s.store
        .add_watch_entries(&name, &one, u64::MAX, &[ZEN], clock.now())
        .await?;
    timed_round(&s, &clock, "+1 addr").await?;
    let plans = s.planner.plans().await?;
    for (list, plan) in plans {
        println!(
            "plan of {list}: {} targets, stretch {:.1}, effective interval {:?}, allowance {}",
            plan.targets, plan.stretch, plan.effective_interval, plan.allowance
        );
    }
    s.engine.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

fn addresses(run: usize) -> Vec<String> {
    (0..ADDRESSES)
        .map(|i| format!("10.{}.{}.{}", 100 + run, i / 256, i % 256))
        .collect()
}

async fn until_done(store: &dyn Store, done: i64) -> Result<(), Error> {
    loop {
        let counts = store.queue_counts().await?;
        if counts.failed > 0 {
            return Err(format!("lookups failed: {counts:?}").into());
        }
        if counts.done >= done {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn throughput(resolver: &ResolverSettings) -> Result<(), Error> {
    let s = stack(resolver, "spamhaus-zen=none").await?;
    println!("\nre-checks: {ADDRESSES} addresses per run, plain enqueue and planner alternating");
    println!(
        "{:>5} {:>14} {:>14} {:>8}",
        "run", "enqueue /s", "planner /s", "ratio"
    );
    let mut done = 0;
    let mut ratios = Vec::new();
    for run in 0..RUNS {
        // Plain: the jobs queued as `enqueue` queues them, until all are stored.
        let plain = addresses(2 * run);
        let started = Instant::now();
        let jobs: Vec<NewJob> = plain
            .iter()
            .map(|a| NewJob {
                target: Target::parse(a).expect("an address"),
                blocklist: ZEN.to_owned(),
            })
            .collect();
        s.store
            .enqueue(&jobs, false, secworks::timestamp::now())
            .await?;
        s.engine.handle().wake();
        done += ADDRESSES as i64;
        until_done(s.store.as_ref(), done).await?;
        let enqueued = ADDRESSES as f64 / started.elapsed().as_secs_f64();

        // Planned: the same number of new addresses put on a watchlist and one planner round
        // (without a budget a round takes up to 50,000), until all are stored.
        let watched = addresses(2 * run + 1);
        let started = Instant::now();
        put(s.store.as_ref(), &format!("run-{run}"), &watched).await?;
        let rounds = s.planner.round(secworks::timestamp::now()).await?;
        let queued: u64 = rounds.iter().map(|r| r.queued).sum();
        if queued != ADDRESSES as u64 {
            return Err(format!("the round queued {queued} of {ADDRESSES}").into());
        }
        done += ADDRESSES as i64;
        until_done(s.store.as_ref(), done).await?;
        let planned = ADDRESSES as f64 / started.elapsed().as_secs_f64();
        let ratio = planned / enqueued;
        println!(
            "{run:>5} {enqueued:>14.0} {planned:>14.0} {:>7.1}%",
            100.0 * ratio
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median ratio: {:.1}% of the plain enqueue rate",
        100.0 * ratios[ratios.len() / 2]
    );
    s.engine.shutdown(Duration::from_secs(5)).await;
    Ok(())
}
