//! Lookups stored per second end to end, next to the raw rate of the same resolver against the
//! same DNS server, measured in the same run (absolute numbers drift on shared machines; the
//! ratio is the figure that means something).
//!
//! `cargo bench --bench lookups` — see docs/benchmarks.md.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secworks::lookup::EngineSettings;
use secworks::{Application, Config};
use secworks_dnsbl::test_server::TestDnsServer;
use secworks_dnsbl::{DnsblResolver, ResolverSettings, Zone, raw_rate};
use serde_json::{Value, json};

const ADDRESSES: usize = 10_000;
const CONCURRENCY: usize = 256;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dns = Arc::new(TestDnsServer::start("zen.spamhaus.org").await?);
    let resolver_settings = ResolverSettings {
        server: Some(dns.addr()),
        timeout: Duration::from_secs(2),
        attempts: 2,
        zone: Zone::default(),
    };

    // Raw: the resolver alone, the same concurrency, addresses no one has asked for yet.
    let resolver = DnsblResolver::new(resolver_settings.clone())?;
    let raw_ips: Vec<IpAddr> = addresses(1)
        .iter()
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let raw = raw_rate(&resolver, &raw_ips, CONCURRENCY).await;
    let raw_per_second = raw.per_second();

    // End to end: enqueue through GraphQL, until every result is stored.
    let dir = tempfile::tempdir()?;
    let config = Config {
        host: "127.0.0.1".parse()?,
        port: 0,
        database_url: format!("sqlite://{}", dir.path().join("bench.db").display()),
        token_ttl: Duration::from_secs(3600),
        token_key: Some([7; 32]),
        admin_password: None,
        resolver: resolver_settings,
        engine: EngineSettings {
            concurrency: CONCURRENCY,
            qps: None,
            lease: Duration::from_secs(60),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(10),
            max_attempts: 8,
            health_interval: Duration::from_secs(60),
            rate_limit_pause: Duration::from_secs(60),
        },
    };
    let app = Application::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{base}/graphql/tokens"))
        .basic_auth("secureworks", Some("supersecret"))
        .send()
        .await?
        .json()
        .await?;
    let token = token["token"].as_str().ok_or("no token")?.to_owned();
    let graphql = |query: &'static str, variables: Value| {
        let request = client
            .post(format!("{base}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": query, "variables": variables }));
        async move { request.send().await?.json::<Value>().await }
    };
    // Wait for the test points to pass, so the run measures lookups, not start-up.
    while graphql("{ queueStatus { paused } }", json!({})).await?["data"]["queueStatus"]["paused"]
        == true
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let ips = addresses(2);
    let started = Instant::now();
    let body = graphql(
        "mutation ($ip: [String!]!) { enqueue(ip: $ip) }",
        json!({ "ip": ips }),
    )
    .await?;
    if body["data"]["enqueue"] != json!(ADDRESSES) {
        return Err(format!("enqueue failed: {body}").into());
    }
    let enqueued = started.elapsed();
    loop {
        let status = graphql("{ queueStatus { done failed } }", json!({})).await?;
        let status = &status["data"]["queueStatus"];
        if status["failed"] != 0 {
            return Err(format!("lookups failed: {status}").into());
        }
        if status["done"] == json!(ADDRESSES) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let elapsed = started.elapsed();
    let e2e_per_second = ADDRESSES as f64 / elapsed.as_secs_f64();

    println!("addresses:            {ADDRESSES}, concurrency {CONCURRENCY}");
    println!(
        "raw resolver:         {:>9.0} lookups/s ({} in {:.2?})",
        raw_per_second, raw.lookups, raw.elapsed
    );
    println!(
        "end to end (stored):  {:>9.0} lookups/s ({ADDRESSES} in {elapsed:.2?}; enqueue took {enqueued:.2?})",
        e2e_per_second
    );
    println!(
        "ratio:                {:>9.1} % of raw",
        100.0 * e2e_per_second / raw_per_second
    );
    Ok(())
}

/// `ADDRESSES` distinct addresses in 10.<block>.0.0/16 and on.
fn addresses(block: usize) -> Vec<String> {
    (0..ADDRESSES)
        .map(|i| {
            format!(
                "10.{}.{}.{}",
                block * 16 + i / 65536,
                (i / 256) % 256,
                i % 256
            )
        })
        .collect()
}
