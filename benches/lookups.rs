//! Lookups stored per second end to end, next to the raw rate of the same resolver against the
//! same DNS server, measured in the same run (absolute numbers drift on shared machines; the
//! ratio is the figure that means something).
//!
//! `cargo bench --bench lookups` — see docs/benchmarks.md. On PostgreSQL instead of SQLite:
//! `SECWORKS_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432 cargo bench --bench lookups`
//! (a database of its own is created there and dropped at the end).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secworks::lookup::EngineSettings;
use secworks::{Application, Config};
use secworks_dnsbl::test_server::TestDnsServer;
use secworks_dnsbl::{Catalogue, DnsblResolver, ResolverSettings, Zone, raw_rate};
use serde_json::{Value, json};

const ADDRESSES: usize = 10_000;
const CONCURRENCY: usize = 256;
const ROUNDS: usize = 5;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dns = Arc::new(TestDnsServer::start("zen.spamhaus.org").await?);
    let resolver_settings = ResolverSettings {
        server: Some(dns.addr()),
        timeout: Duration::from_secs(2),
        attempts: 2,
        zone: Zone::default(),
    };

    let resolver = DnsblResolver::new(resolver_settings.clone())?;

    // The list as the service asks it, ZEN by default.
    let catalogue = Catalogue::builtin()?;
    let zen = catalogue
        .get("spamhaus-zen")
        .ok_or("no spamhaus-zen in the catalogue")?;
    let dir = tempfile::tempdir()?;
    let database = BenchDatabase::create(dir.path()).await?;
    println!("database: {}", database.backend());
    let config = Config {
        host: "127.0.0.1".parse()?,
        port: 0,
        database_url: database.url.clone(),
        token_ttl: Duration::from_secs(3600),
        token_key: Some([7; 32]),
        admin_password: None,
        query_limits: secworks::graphql::QueryLimits {
            max_depth: 32,
            max_complexity: 1000,
            max_aliases: 100,
        },
        max_body_bytes: 1 << 20,
        max_enqueue: 10_000,
        max_watch_targets: 1_000_000,
        request_timeout: Duration::from_secs(30),
        login_limits: secworks::config::LoginLimits {
            per_user: "5/1m".parse()?,
            per_address: "30/1m".parse()?,
            per_name: "100/1h".parse()?,
        },
        trust_forwarded_for: false,
        metrics_per_target: false,
        shutdown_grace: Duration::from_secs(10),
        max_connections: None,
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        webhooks: secworks::webhooks::WebhookSettings::default(),
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
            min_fresh: Duration::from_secs(60),
            max_fresh: Duration::from_secs(86_400),
        },
        rechecks: secworks::rechecks::RecheckSettings {
            round: Duration::from_secs(1),
            qps: None,
            health_interval: Duration::from_secs(60),
        },
        retention: secworks::retention::RetentionSettings {
            jobs: None,
            history: None,
        },
        // ZEN alone, without its free-use budget: a benchmark sends more than a day's worth.
        blocklists: std::sync::Arc::new(secworks::blocklists::Blocklists::new(
            &secworks::blocklists::BlocklistSettings {
                budgets: Some("spamhaus-zen=none".into()),
                ..Default::default()
            },
        )?),
        clock: secworks::timestamp::Clock::system(),
    };
    let app = Application::build(config).await?;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until(std::future::pending()));
    let api = Api::new(base).await?;
    // Wait for the test points to pass, so the runs measure lookups, not start-up.
    while api.graphql("{ queueStatus { paused } }", json!({})).await?["data"]["queueStatus"]["paused"]
        != false
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    println!(
        "{ADDRESSES} addresses per run, concurrency {CONCURRENCY}, raw and end to end alternating"
    );
    println!(
        "{:>5} {:>14} {:>14} {:>8}",
        "run", "raw /s", "stored /s", "ratio"
    );
    let mut ratios = Vec::new();
    for run in 0..ROUNDS {
        // Raw: the resolver alone, the same concurrency, addresses no one has asked for yet.
        let raw_ips: Vec<IpAddr> = addresses(2 * run)
            .iter()
            .map(|a| a.parse())
            .collect::<Result<_, _>>()?;
        let raw = raw_rate(&resolver, zen, &raw_ips, CONCURRENCY).await;
        if raw.errors > 0 {
            return Err(format!("{} raw lookups failed", raw.errors).into());
        }
        // End to end: enqueue through GraphQL until every result is stored.
        let stored = api
            .enqueue_until_stored(addresses(2 * run + 1), (run + 1) * ADDRESSES)
            .await?;
        let ratio = stored / raw.per_second();
        println!(
            "{run:>5} {:>14.0} {stored:>14.0} {:>7.1}%",
            raw.per_second(),
            100.0 * ratio
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median ratio: {:.1}% of the raw rate",
        100.0 * ratios[ratios.len() / 2]
    );
    database.drop().await?;
    Ok(())
}

/// A SQLite file in `dir`, or a fresh database on the PostgreSQL server that
/// `SECWORKS_TEST_POSTGRES` names.
struct BenchDatabase {
    url: String,
    postgres: Option<(String, String)>,
}

impl BenchDatabase {
    async fn create(dir: &std::path::Path) -> Result<Self, Box<dyn std::error::Error>> {
        use sqlx::Connection;
        let Ok(server) = std::env::var("SECWORKS_TEST_POSTGRES") else {
            return Ok(Self {
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                postgres: None,
            });
        };
        let server = server.trim_end_matches('/').to_owned();
        let name = format!("secworks_bench_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        Ok(Self {
            url: format!("{server}/{name}"),
            postgres: Some((server, name)),
        })
    }

    fn backend(&self) -> &'static str {
        if self.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    async fn drop(self) -> Result<(), Box<dyn std::error::Error>> {
        use sqlx::Connection;
        if let Some((server, name)) = self.postgres {
            let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await?;
        }
        Ok(())
    }
}

struct Api {
    base: String,
    client: reqwest::Client,
    token: String,
}

impl Api {
    async fn new(base: String) -> Result<Self, Box<dyn std::error::Error>> {
        let client = reqwest::Client::new();
        let token: Value = client
            .post(format!("{base}/graphql/tokens"))
            .basic_auth("secureworks", Some("supersecret"))
            .send()
            .await?
            .json()
            .await?;
        let token = token["token"].as_str().ok_or("no token")?.to_owned();
        Ok(Self {
            base,
            client,
            token,
        })
    }

    async fn graphql(&self, query: &str, variables: Value) -> reqwest::Result<Value> {
        self.client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?
            .json()
            .await
    }

    /// Enqueues `ips` and returns lookups stored per second, from the enqueue request until
    /// `done_after` jobs are done.
    async fn enqueue_until_stored(
        &self,
        ips: Vec<String>,
        done_after: usize,
    ) -> Result<f64, Box<dyn std::error::Error>> {
        let started = Instant::now();
        let body = self
            .graphql(
                "mutation ($ip: [String!]!) { enqueue(ip: $ip) }",
                json!({ "ip": ips }),
            )
            .await?;
        if body["data"]["enqueue"] != json!(ips.len()) {
            return Err(format!("enqueue failed: {body}").into());
        }
        loop {
            let status = self
                .graphql("{ queueStatus { done failed } }", json!({}))
                .await?;
            let status = &status["data"]["queueStatus"];
            if status["failed"] != 0 {
                return Err(format!("lookups failed: {status}").into());
            }
            if status["done"] == json!(done_after) {
                return Ok(ips.len() as f64 / started.elapsed().as_secs_f64());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
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
