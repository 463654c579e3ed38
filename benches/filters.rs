//! `lookups` filters and `/export/lookups` over 1,000,000 stored results, on SQLite: each
//! filter's page (newest change first, 50 results) and total count as the resolver asks for
//! them (together), p50 and p99 of 200 runs, with ZEN the one counted list (the default) and,
//! for three filters, with a second list counted; then the whole export streamed (time, rows a
//! second, peak memory).
//!
//! `cargo bench --bench filters` — see docs/benchmarks.md.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use secworks::http::export::{self, Format};
use secworks::store::{
    self, Address, LookupFilter, LookupRecord, Store, StoredAnswer, WatchEntry, WatchlistName,
};
use secworks_dnsbl::{AddressRange, Outcome};
use time::OffsetDateTime;

type Error = Box<dyn std::error::Error>;

const RESULTS: u32 = 1_000_000;
/// One in fifty is listed.
const LISTED_EVERY: u32 = 50;
const RUNS: usize = 200;
const ZEN: &str = "spamhaus-zen";
const OTHER: &str = "barracuda";

#[tokio::main]
async fn main() -> Result<(), Error> {
    secworks::memory::return_large_blocks();
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = store::connect(&url).await?;
    let now = OffsetDateTime::now_utc();
    let filled = Instant::now();
    fill(store.as_ref(), now).await?;
    println!(
        "{RESULTS} stored results (1 in {LISTED_EVERY} listed, one /16 watched) written in {:.1} s",
        filled.elapsed().as_secs_f64()
    );

    let all = LookupFilter {
        lists: vec![ZEN.to_owned()],
        ..LookupFilter::default()
    };
    let range = |text: &str| text.parse::<AddressRange>().ok();
    let cases: Vec<(&str, LookupFilter)> = vec![
        ("no filter", all.clone()),
        (
            "listed: true",
            LookupFilter {
                listed: Some(true),
                ..all.clone()
            },
        ),
        (
            "listed: false",
            LookupFilter {
                listed: Some(false),
                ..all.clone()
            },
        ),
        (
            "blocklist + listed: true",
            LookupFilter {
                blocklist: Some(ZEN.to_owned()),
                listed: Some(true),
                ..all.clone()
            },
        ),
        (
            "within /24",
            LookupFilter {
                within: range("10.1.2.0/24"),
                ..all.clone()
            },
        ),
        (
            "within /16",
            LookupFilter {
                within: range("10.3.0.0/16"),
                ..all.clone()
            },
        ),
        (
            "watchlist (65,536)",
            LookupFilter {
                watchlist: "fleet".parse::<WatchlistName>().ok(),
                ..all.clone()
            },
        ),
        (
            "watchlist + listed: true",
            LookupFilter {
                watchlist: "fleet".parse::<WatchlistName>().ok(),
                listed: Some(true),
                ..all.clone()
            },
        ),
        (
            "changed_since (last hour)",
            LookupFilter {
                changed_since: Some(now - time::Duration::hours(1)),
                ..all.clone()
            },
        ),
        (
            "listed + within /16",
            LookupFilter {
                listed: Some(true),
                within: range("10.3.0.0/16"),
                ..all.clone()
            },
        ),
        (
            "blocklist (ZEN answered)",
            LookupFilter {
                blocklist: Some(ZEN.to_owned()),
                ..all.clone()
            },
        ),
        (
            "listed: false + last hour",
            LookupFilter {
                listed: Some(false),
                changed_since: Some(now - time::Duration::hours(1)),
                ..all.clone()
            },
        ),
        // Two counted lists (the second answered nothing here): still the kept verdict.
        (
            "2 lists: no filter",
            LookupFilter {
                lists: vec![OTHER.to_owned(), ZEN.to_owned()],
                ..LookupFilter::default()
            },
        ),
        (
            "2 lists: listed: true",
            LookupFilter {
                lists: vec![OTHER.to_owned(), ZEN.to_owned()],
                listed: Some(true),
                ..LookupFilter::default()
            },
        ),
        (
            "2 lists: within /16",
            LookupFilter {
                lists: vec![OTHER.to_owned(), ZEN.to_owned()],
                within: range("10.3.0.0/16"),
                ..LookupFilter::default()
            },
        ),
    ];
    println!(
        "\n{:<28} {:>10} {:>10} {:>10} {:>9}",
        "filter", "found", "p50 ms", "p99 ms", "≤ 50 ms"
    );
    for (label, filter) in &cases {
        let mut times = Vec::with_capacity(RUNS);
        let mut found = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let (page, total) = tokio::try_join!(
                store.lookups_by_change(filter, None, 51),
                store.count_lookups(filter)
            )?;
            times.push(started.elapsed());
            assert!(page.len() as u64 <= total);
            found = total;
        }
        times.sort();
        let p50 = times[RUNS / 2];
        let p99 = times[RUNS * 99 / 100];
        println!(
            "{label:<28} {found:>10} {:>10.2} {:>10.2} {:>9}",
            ms(p50),
            ms(p99),
            if p99 <= Duration::from_millis(50) {
                "yes"
            } else {
                "no"
            }
        );
    }

    println!(
        "\n{:<22} {:>10} {:>9} {:>12} {:>10} {:>12} {:>12}",
        "export", "rows", "time s", "rows/s", "MiB out", "RSS at start", "peak RSS MiB"
    );
    for format in [Format::Csv, Format::Ndjson] {
        // The peak is set back to the resident set now: what the filters above left (SQLite's
        // page caches, the allocator's free memory); the export's own growth is the difference.
        reset_peak();
        let at_start = peak_rss();
        let started = Instant::now();
        let mut stream = Box::pin(export::rows(store.clone(), all.clone(), format));
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            bytes += chunk.len();
            lines += chunk.iter().filter(|&&b| b == b'\n').count();
        }
        let took = started.elapsed().as_secs_f64();
        let rows = if format == Format::Csv {
            lines - 1
        } else {
            lines
        };
        println!(
            "{:<22} {rows:>10} {took:>9.2} {:>12.0} {:>10.1} {at_start:>12.1} {:>12.1}",
            format.content_type().split(';').next().unwrap_or_default(),
            rows as f64 / took,
            bytes as f64 / 1_048_576.0,
            peak_rss()
        );
    }
    Ok(())
}

/// 1,000,000 results from 10.0.0.0 on, one in fifty listed by ZEN, changed over the last
/// 1,000,000 seconds (newest last), and a watchlist of the /16 10.5.0.0.
async fn fill(store: &dyn Store, now: OffsetDateTime) -> Result<(), Error> {
    const BATCH: u32 = 50_000;
    let listed = StoredAnswer::from(Outcome::Listed(vec![std::net::Ipv4Addr::new(127, 0, 0, 2)]));
    let clean = StoredAnswer::from(Outcome::NotListed);
    for start in (0..RESULTS).step_by(BATCH as usize) {
        let records: Vec<LookupRecord> = (start..start + BATCH)
            .map(|i| {
                let at = now - time::Duration::seconds(i64::from(RESULTS - i));
                LookupRecord {
                    uuid: format!("00000000-0000-4000-8000-{i:012}"),
                    address: Address::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(
                        0x0a00_0000 + i,
                    ))),
                    answer: if i % LISTED_EVERY == 0 {
                        listed.clone()
                    } else {
                        clean.clone()
                    },
                    created_at: at,
                    updated_at: at,
                }
            })
            .collect();
        store.import(&[], &records, now).await?;
    }
    let entries = WatchEntry::parse_all(&["10.5.0.0/16"]).map_err(|e| format!("{e:?}"))?;
    let name: WatchlistName = "fleet".parse().map_err(|e| format!("{e:?}"))?;
    store
        .put_watchlist(
            &name,
            &entries,
            time::Duration::hours(6),
            2_000_000,
            &[ZEN],
            now,
        )
        .await?;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The peak resident set since the last reset, in MiB.
fn peak_rss() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Starts a new peak: the kernel's high-water mark is set back to the resident set now.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
