//! Configuration, from the environment (and the matching flags).
//!
//! Secrets (`SECWORKS_TOKEN_KEY`, `SECWORKS_ADMIN_PASSWORD`) are read from the environment
//! only: a flag would put them in the process list.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secworks_dnsbl::{ResolverSettings, Zone};

use crate::auth::FailureLimit;
pub use crate::auth::LoginLimits;
use crate::blocklists::{BlocklistError, BlocklistSettings, Blocklists};
use crate::graphql::QueryLimits;
use crate::lookup::EngineSettings;
use crate::rechecks::RecheckSettings;
use crate::retention::{Retention, RetentionSettings, parse_retention};
use crate::webhooks::WebhookSettings;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Settings of the server, each with its environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        help_heading = "Server",
        env = "HOST",
        value_name = "IP",
        default_value = "127.0.0.1"
    )]
    pub host: IpAddr,

    /// TCP port to listen on; 0 picks a free one.
    #[arg(
        long,
        help_heading = "Server",
        env = "PORT",
        value_name = "PORT",
        default_value_t = 5000
    )]
    pub port: u16,

    /// Take the client address from the last `X-Forwarded-For` entry (set it only behind a
    /// proxy that appends one), for login limits and logs.
    #[arg(long, help_heading = "Server", env = "SECWORKS_TRUST_FORWARDED_FOR", value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,

    /// On SIGTERM or SIGINT, how long requests and lookups in flight may take to finish.
    #[arg(long, help_heading = "Server", env = "SECWORKS_SHUTDOWN_GRACE", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub dns: DnsArgs,

    #[command(flatten)]
    pub lists: BlocklistArgs,

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Most addresses one `enqueue` takes.
    #[arg(long, help_heading = "Limits", env = "SECWORKS_MAX_ENQUEUE", value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_enqueue: u32,

    /// Most addresses and domains all watchlists together hold, CIDR ranges expanded.
    #[arg(long, help_heading = "Limits", env = "SECWORKS_MAX_WATCH_TARGETS", value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_watch_targets: u64,

    /// Largest `/graphql` request body, in bytes; bigger ones answer 413.
    #[arg(long, help_heading = "Limits", env = "SECWORKS_MAX_BODY_BYTES", value_name = "BYTES", default_value_t = 1 << 20, value_parser = clap::value_parser!(u32).range(1024..))]
    pub max_body_bytes: u32,

    /// Deepest GraphQL query accepted (at least 14, which the standard introspection query needs).
    #[arg(long, help_heading = "Limits", env = "SECWORKS_GRAPHQL_MAX_DEPTH", value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(14..))]
    pub graphql_max_depth: u16,

    /// Most fields (aliases included) one GraphQL query may select (at least 200, which the
    /// standard introspection query needs).
    #[arg(long, help_heading = "Limits", env = "SECWORKS_GRAPHQL_MAX_COMPLEXITY", value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(200..))]
    pub graphql_max_complexity: u32,

    /// Most aliased fields one GraphQL query may hold.
    #[arg(long, help_heading = "Limits", env = "SECWORKS_GRAPHQL_MAX_ALIASES", value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub graphql_max_aliases: u32,

    /// Longest time one HTTP request may take before it is answered 503.
    #[arg(long, help_heading = "Limits", env = "SECWORKS_REQUEST_TIMEOUT", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Most HTTP connections open at once; further ones wait until one closes. Default: the
    /// open-file limit less room for the database and DNS queries.
    #[arg(long, help_heading = "Limits", env = "SECWORKS_MAX_CONNECTIONS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// Longest time a request head may take to arrive complete, counted from the connection's
    /// opening or the previous response (so it also ends idle HTTP/1.1 keep-alive).
    #[arg(long, help_heading = "Limits", env = "SECWORKS_HEADER_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,

    /// Longest time a connection may stay open with no request in flight (HTTP/2 included).
    #[arg(long, help_heading = "Limits", env = "SECWORKS_IDLE_TIMEOUT", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Lifetime of issued tokens: seconds, or a duration such as `90m` or `1h`.
    #[arg(long, help_heading = "Authentication", env = "SECWORKS_TOKEN_TTL", value_name = "DURATION", default_value = "1h", value_parser = parse_ttl)]
    pub token_ttl: Duration,

    /// Failed logins allowed per user name from one client address (IPv6: per /64), as
    /// `<failures>/<period>`; beyond them that name answers 429 to that address until the
    /// period refills.
    #[arg(
        long,
        help_heading = "Authentication",
        env = "SECWORKS_LOGIN_FAILURES_PER_USER",
        value_name = "FAILURES/PERIOD",
        default_value = "5/1m"
    )]
    pub login_failures_per_user: FailureLimit,

    /// Failed logins allowed per client address (IPv6: per /64), as `<failures>/<period>`.
    #[arg(
        long,
        help_heading = "Authentication",
        env = "SECWORKS_LOGIN_FAILURES_PER_ADDRESS",
        value_name = "FAILURES/PERIOD",
        default_value = "30/1m"
    )]
    pub login_failures_per_address: FailureLimit,

    /// Failed logins allowed per user name across all addresses; beyond them only addresses
    /// without a recent failure for the name get their password checked.
    #[arg(
        long,
        help_heading = "Authentication",
        env = "SECWORKS_LOGIN_FAILURES_PER_NAME",
        value_name = "FAILURES/PERIOD",
        default_value = "100/1h"
    )]
    pub login_failures_per_name: FailureLimit,

    /// Log lines as human-readable text or as JSON objects (one per line).
    #[arg(
        long,
        help_heading = "Logging and metrics",
        env = "SECWORKS_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Serve `secworks_target_listed{target,blocklist}` in /metrics: one series per watched
    /// target and enabled list that has answered about it (at most 100,000 per scrape).
    #[arg(long, help_heading = "Logging and metrics", env = "SECWORKS_METRICS_PER_TARGET", value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set)]
    pub metrics_per_target: bool,

    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// Which blocklists are queried; shared by the server and `secworks lookup`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "DNS and blocklists")]
pub struct BlocklistArgs {
    /// Blocklists to query, as catalogue ids separated by commas (`secworks blocklists` lists
    /// them); default: spamhaus-zen.
    #[arg(long, env = "SECWORKS_BLOCKLISTS", value_name = "ID,...")]
    pub blocklists: Option<String>,

    /// TOML file of blocklists that add to or replace the built-in catalogue's entries.
    #[arg(long, env = "SECWORKS_BLOCKLISTS_FILE", value_name = "PATH")]
    pub blocklists_file: Option<PathBuf>,

    /// Daily query budgets as id=queries (or id=none), separated by commas; a list without
    /// one here has its documented free-use limit as budget.
    #[arg(long, env = "SECWORKS_DAILY_BUDGETS", value_name = "ID=QUERIES,...")]
    pub daily_budgets: Option<String>,
}

impl BlocklistArgs {
    /// The catalogue and enabled set; ZEN's zone from `SECWORKS_DNSBL_ZONE`, keyed lists'
    /// key from `SECWORKS_DQS_KEY`.
    pub fn blocklists(&self, dns: &DnsArgs) -> Result<Blocklists, ConfigError> {
        Ok(Blocklists::new(&BlocklistSettings {
            enabled: self.blocklists.clone(),
            file: self.blocklists_file.clone(),
            zen_zone: Some(dns.dnsbl_zone.clone()),
            dqs_key: secret_var("SECWORKS_DQS_KEY")?,
            budgets: self.daily_budgets.clone(),
        })?)
    }
}

/// The database; shared by the server and the administration commands.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseArgs {
    /// Database: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/NAME`. The server
    /// and `import-pysecworks` create a missing SQLite file; `user` and `token` never do.
    #[arg(
        long,
        env = "DATABASE_URL",
        value_name = "URL",
        default_value = "sqlite://app.db"
    )]
    pub database_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// How blocklist queries are made; shared by the server and `secworks lookup`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "DNS and blocklists")]
pub struct DnsArgs {
    /// Spamhaus ZEN's zone, for mirrors and tests (ignored when SECWORKS_DQS_KEY is set).
    #[arg(
        long,
        env = "SECWORKS_DNSBL_ZONE",
        value_name = "ZONE",
        default_value = "zen.spamhaus.org"
    )]
    pub dnsbl_zone: String,

    /// Upstream DNS server as ip:port; without it, the system's resolv.conf.
    #[arg(long, env = "SECWORKS_DNS_SERVER", value_name = "IP:PORT")]
    pub dns_server: Option<SocketAddr>,

    /// How long to wait for one DNS answer.
    #[arg(long, env = "SECWORKS_DNS_TIMEOUT", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub dns_timeout: Duration,

    /// How many times to send a query before the attempt fails.
    #[arg(long, env = "SECWORKS_DNS_ATTEMPTS", value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub dns_attempts: u8,
}

/// How the lookup workers run.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Lookups")]
pub struct EngineArgs {
    /// Lookups in flight at once.
    #[arg(long, env = "SECWORKS_LOOKUP_CONCURRENCY", value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub lookup_concurrency: u16,

    /// Blocklist lookups per second at most (Spamhaus's free use is about 3 per second).
    #[arg(long, env = "SECWORKS_LOOKUP_QPS", value_name = "N")]
    pub lookup_qps: Option<NonZeroU32>,

    /// How long a claimed job stays claimed before another worker may take it back.
    #[arg(long, env = "SECWORKS_LOOKUP_LEASE", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub lookup_lease: Duration,

    /// Delay before retrying a failed lookup; doubles with each attempt, up to 10 minutes.
    #[arg(long, env = "SECWORKS_LOOKUP_RETRY_BASE", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub lookup_retry_base: Duration,

    /// Attempts before a lookup is given up as failed.
    #[arg(long, env = "SECWORKS_LOOKUP_MAX_ATTEMPTS", value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub lookup_max_attempts: u32,

    /// How often the blocklist's test points are checked.
    #[arg(long, env = "SECWORKS_HEALTH_INTERVAL", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub health_interval: Duration,

    /// How often the re-check planner queues each list's watched targets that fall due.
    #[arg(long, env = "SECWORKS_RECHECK_ROUND", value_name = "DURATION", default_value = "30s", value_parser = parse_round)]
    pub recheck_round: Duration,

    /// How long a blocklist's lookups wait after it answers "excessive queries".
    #[arg(long, env = "SECWORKS_RATE_LIMIT_PAUSE", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub rate_limit_pause: Duration,

    /// The shortest time an answer counts as fresh, whatever its DNS TTL.
    #[arg(long, env = "SECWORKS_MIN_FRESH", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub min_fresh: Duration,

    /// The longest time an answer counts as fresh, whatever its DNS TTL.
    #[arg(long, env = "SECWORKS_MAX_FRESH", value_name = "DURATION", default_value = "1d", value_parser = parse_duration)]
    pub max_fresh: Duration,

    /// How long done lookup jobs are kept (their answers stay); `none` keeps them all.
    #[arg(long, env = "SECWORKS_JOB_RETENTION", value_name = "DURATION|none", default_value = "7d", value_parser = parse_retention)]
    pub job_retention: Retention,

    /// How long each lookup attempt stays in the history; `none` keeps them all.
    #[arg(long, env = "SECWORKS_HISTORY_RETENTION", value_name = "DURATION|none", default_value = "none", value_parser = parse_retention)]
    pub history_retention: Retention,
}

impl EngineArgs {
    pub fn settings(&self) -> EngineSettings {
        EngineSettings {
            concurrency: usize::from(self.lookup_concurrency),
            qps: self.lookup_qps,
            lease: self.lookup_lease,
            retry_base: self.lookup_retry_base,
            retry_max: Duration::from_secs(600),
            max_attempts: self.lookup_max_attempts,
            health_interval: self.health_interval,
            rate_limit_pause: self.rate_limit_pause,
            min_fresh: self.min_fresh,
            max_fresh: self.max_fresh,
        }
    }
}

impl EngineArgs {
    pub fn retention(&self) -> RetentionSettings {
        RetentionSettings {
            jobs: self.job_retention.0,
            history: self.history_retention.0,
        }
    }

    pub fn rechecks(&self) -> RecheckSettings {
        RecheckSettings {
            round: self.recheck_round,
            qps: self.lookup_qps,
            health_interval: self.health_interval,
        }
    }
}

impl DnsArgs {
    /// The resolver settings, with the DQS key from the environment when it is set.
    pub fn settings(&self) -> Result<ResolverSettings, ConfigError> {
        let zone = match secret_var("SECWORKS_DQS_KEY")? {
            Some(key) => {
                Zone::dqs(&key).map_err(|e| ConfigError::Dns("SECWORKS_DQS_KEY", e.to_string()))?
            }
            None => Zone::standard(&self.dnsbl_zone)
                .map_err(|e| ConfigError::Dns("SECWORKS_DNSBL_ZONE", e.to_string()))?,
        };
        Ok(ResolverSettings {
            server: self.dns_server,
            timeout: self.dns_timeout,
            attempts: usize::from(self.dns_attempts),
            zone,
        })
    }
}

/// Documents the variables that have no flag, in `--help`.
pub const SECRET_VARIABLES_HELP: &str = "\
Secrets, read from the environment only:
  SECWORKS_TOKEN_KEY       base64 of 32 random bytes that encrypt tokens; without it a key is
                           generated on first start and kept in the database
  SECWORKS_ADMIN_PASSWORD  password of the user `secureworks` created on an empty database
                           (default: `supersecret`, with a warning to change it)
  SECWORKS_DQS_KEY         Spamhaus Data Query Service key; when set, the Spamhaus lists are
                           queried through DQS (<address>.<key>.zen.dq.spamhaus.net), and the
                           lists that need a key (spamhaus-zrd, spamhaus-authbl) can be enabled";

/// Everything the server needs to start.
#[derive(Clone)]
pub struct Config {
    pub host: IpAddr,
    pub port: u16,
    pub database_url: String,
    pub token_ttl: Duration,
    pub token_key: Option<[u8; 32]>,
    pub admin_password: Option<String>,
    pub resolver: ResolverSettings,
    pub blocklists: Arc<Blocklists>,
    pub engine: EngineSettings,
    pub rechecks: RecheckSettings,
    pub retention: RetentionSettings,
    /// The lookup engine's clock; tests move it forward.
    pub clock: crate::timestamp::Clock,
    pub query_limits: QueryLimits,
    pub max_body_bytes: usize,
    pub max_enqueue: usize,
    pub max_watch_targets: u64,
    pub request_timeout: Duration,
    pub login_limits: LoginLimits,
    pub trust_forwarded_for: bool,
    /// Whether /metrics serves a series per watched target and list.
    pub metrics_per_target: bool,
    pub shutdown_grace: Duration,
    /// `None`: derived from the open-file limit at start.
    pub max_connections: Option<usize>,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub webhooks: WebhookSettings,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database_url", &redact_url(&self.database_url))
            .field("token_ttl", &self.token_ttl)
            .field("token_key", &self.token_key.map(|_| "<set>"))
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("SECWORKS_TOKEN_KEY: {0}")]
    TokenKey(String),
    #[error("{0}: not valid Unicode")]
    NotUnicode(&'static str),
    #[error("SECWORKS_ADMIN_PASSWORD: must not be empty")]
    EmptyAdminPassword,
    #[error("{0}: {1}")]
    Dns(&'static str, String),
    #[error(
        "SECWORKS_LOOKUP_LEASE: {lease:?} must be more than twice the longest lookup \
         (SECWORKS_DNS_TIMEOUT × SECWORKS_DNS_ATTEMPTS = {lookup:?})"
    )]
    LeaseTooShort { lease: Duration, lookup: Duration },
    #[error(transparent)]
    Blocklists(#[from] BlocklistError),
    #[error("SECWORKS_MIN_FRESH: {min:?} is longer than SECWORKS_MAX_FRESH ({max:?})")]
    FreshBounds { min: Duration, max: Duration },
}

impl Config {
    /// Completes the flag settings with the secrets from the environment.
    pub fn from_args(args: ServeArgs) -> Result<Self, ConfigError> {
        let token_key = secret_var("SECWORKS_TOKEN_KEY")?
            .as_deref()
            .map(parse_token_key)
            .transpose()?;
        let admin_password = secret_var("SECWORKS_ADMIN_PASSWORD")?;
        if admin_password.as_deref() == Some("") {
            return Err(ConfigError::EmptyAdminPassword);
        }
        let resolver = args.dns.settings()?;
        let blocklists = Arc::new(args.lists.blocklists(&args.dns)?);
        if args.engine.min_fresh > args.engine.max_fresh {
            return Err(ConfigError::FreshBounds {
                min: args.engine.min_fresh,
                max: args.engine.max_fresh,
            });
        }
        // A lookup in flight must finish well inside its lease, or another worker would take
        // the job back and ask again.
        let longest_lookup = resolver
            .timeout
            .saturating_mul(u32::try_from(resolver.attempts).unwrap_or(u32::MAX));
        if args.engine.lookup_lease <= longest_lookup.saturating_mul(2) {
            return Err(ConfigError::LeaseTooShort {
                lease: args.engine.lookup_lease,
                lookup: longest_lookup,
            });
        }
        Ok(Self {
            max_body_bytes: args.max_body_bytes as usize,
            max_enqueue: args.max_enqueue as usize,
            max_watch_targets: args.max_watch_targets,
            query_limits: QueryLimits {
                max_depth: usize::from(args.graphql_max_depth),
                max_complexity: args.graphql_max_complexity as usize,
                max_aliases: args.graphql_max_aliases as usize,
            },
            request_timeout: args.request_timeout,
            login_limits: LoginLimits {
                per_user: args.login_failures_per_user,
                per_address: args.login_failures_per_address,
                per_name: args.login_failures_per_name,
            },
            trust_forwarded_for: args.trust_forwarded_for,
            metrics_per_target: args.metrics_per_target,
            shutdown_grace: args.shutdown_grace,
            max_connections: args.max_connections.map(|n| n as usize),
            header_timeout: args.header_timeout,
            idle_timeout: args.idle_timeout,
            resolver,
            blocklists,
            engine: args.engine.settings(),
            rechecks: args.engine.rechecks(),
            retention: args.engine.retention(),
            webhooks: args.webhooks.settings(),
            clock: crate::timestamp::Clock::system(),
            host: args.host,
            port: args.port,
            database_url: args.database.database_url,
            token_ttl: args.token_ttl,
            token_key,
            admin_password,
        })
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Webhooks")]
pub struct WebhookArgs {
    /// Longest time one webhook delivery attempt may take, connecting included.
    #[arg(long, env = "SECWORKS_WEBHOOK_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub webhook_timeout: Duration,

    /// Let webhooks reach addresses that are not global (loopback, private, link-local, ...):
    /// only for receivers on a trusted network.
    #[arg(long, env = "SECWORKS_WEBHOOK_ALLOW_PRIVATE", value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,
}

impl WebhookArgs {
    pub fn settings(&self) -> WebhookSettings {
        WebhookSettings {
            timeout: self.webhook_timeout,
            allow_private: self.webhook_allow_private,
        }
    }
}

/// A URL without its password, for Debug output.
fn redact_url(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://…{}", &url[at..]),
        _ => url.to_owned(),
    }
}

fn secret_var(name: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode(name)),
    }
}

/// Decodes a token key; the message never repeats the key.
pub fn parse_token_key(text: &str) -> Result<[u8; 32], ConfigError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| ConfigError::TokenKey("not valid base64".into()))?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| ConfigError::TokenKey(format!("must decode to 32 bytes, got {len}")))
}

/// The longest duration any setting takes. Durations are added to the clock (leases, retries,
/// pauses), and an instant past year 9999 cannot be represented: a year keeps far from it.
const LONGEST: Duration = Duration::from_secs(366 * 24 * 3600);

/// Seconds, or a duration such as `500ms`, `90s` or `1h`; never zero, at most a year.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("expected seconds or a duration such as `1h`: {e}"))?,
    };
    if duration.is_zero() {
        return Err("must be more than zero".into());
    }
    if duration > LONGEST {
        return Err("must be at most a year".into());
    }
    Ok(duration)
}

/// A planner round: one second to an hour.
fn parse_round(text: &str) -> Result<Duration, String> {
    let round = parse_duration(text)?;
    if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&round) {
        return Err("must be from 1s to 1h".into());
    }
    Ok(round)
}

fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = parse_duration(text)?;
    if ttl < Duration::from_secs(1) {
        return Err("must be at least one second".into());
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@db:5432/x"),
            "postgres://…@db:5432/x"
        );
        assert_eq!(redact_url("sqlite://app.db"), "sqlite://app.db");
    }

    #[test]
    fn durations_are_bounded_so_that_adding_them_to_the_clock_cannot_overflow() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("365d").unwrap(),
            Duration::from_secs(365 * 86_400)
        );
        assert_eq!(
            parse_duration("10000y").unwrap_err(),
            "must be at most a year"
        );
        assert_eq!(
            parse_duration("99999999999999").unwrap_err(),
            "must be at most a year"
        );
    }

    #[test]
    fn parses_ttls() {
        assert_eq!(parse_ttl("3600").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("90m").unwrap(), Duration::from_secs(5400));
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("soon").is_err());
    }

    #[test]
    fn token_key_errors_do_not_repeat_the_key() {
        let short = STANDARD.encode([1u8; 16]);
        let err = parse_token_key(&short).unwrap_err().to_string();
        assert_eq!(err, "SECWORKS_TOKEN_KEY: must decode to 32 bytes, got 16");
        assert!(
            parse_token_key("%%%")
                .unwrap_err()
                .to_string()
                .contains("base64")
        );
        assert_eq!(
            parse_token_key(&STANDARD.encode([9u8; 32])).unwrap(),
            [9u8; 32]
        );
    }
}
