//! Asking a blocklist through hickory-resolver, with every failure named.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::{DnsHandle, FirstAnswer, RetryDnsHandle};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::{DnsRequestOptions, DnsResponse, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig, TokioResolver};
use thiserror::Error;

use crate::classify::{Answer, classify};
use crate::error::LookupError;
use crate::outcome::Outcome;
use crate::query_name::query_name;
use crate::zone::Zone;

/// How to reach the blocklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverSettings {
    /// The DNS server to ask (UDP, falling back to TCP for truncated answers). `None` uses
    /// the name servers of the system's `resolv.conf`; [`DnsblResolver::query_list`] asks
    /// them in that order, moving on only when one is silent.
    pub server: Option<SocketAddr>,
    /// How long one attempt may take. A lookup takes at most about `timeout × attempts`.
    pub timeout: Duration,
    /// How many times a query is sent before a timeout or server failure is reported (≥ 1).
    pub attempts: usize,
    /// The blocklist zone.
    pub zone: Zone,
}

impl Default for ResolverSettings {
    /// The system resolver, 2 attempts of 3 seconds, public Spamhaus ZEN.
    fn default() -> Self {
        Self {
            server: None,
            timeout: Duration::from_secs(3),
            attempts: 2,
            zone: Zone::default(),
        }
    }
}

/// Settings that cannot make a resolver.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ResolverError {
    /// A zero timeout would fail every lookup.
    #[error("the DNS timeout must be greater than zero")]
    ZeroTimeout,
    /// Zero attempts would never send a query.
    #[error("DNS attempts must be at least 1")]
    ZeroAttempts,
    /// No server was given and the system configuration could not be used.
    #[error("no DNS server given and the system resolver configuration (resolv.conf) is unusable")]
    SystemConfig(#[source] Box<dyn StdError + Send + Sync>),
    /// hickory-resolver refused the configuration.
    #[error("could not build the DNS resolver")]
    Build(#[source] Box<dyn StdError + Send + Sync>),
}

/// A blocklist client: cheap to clone, safe to share across tasks, any number of lookups in
/// flight at once.
///
/// Every lookup goes to the DNS: the resolver's cache is off, because a listing can be added
/// or removed at any time and a stored result must be what the blocklist said then.
#[derive(Clone)]
pub struct DnsblResolver {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: TokioResolver,
    zone: Zone,
    server: Option<SocketAddr>,
    /// The same name servers, each asked on its own, in configured order: what
    /// [`DnsblResolver::query_list`] uses, so that it can say which server answered.
    direct: Vec<DirectServer>,
    /// Recursion desired, EDNS as configured: what hickory's resolver would send.
    request_options: DnsRequestOptions,
}

/// One name server asked without hickory's cache: the answer arrives as the server sent it,
/// with its own TTLs, response code and SOA. hickory still retries (`attempts`), falls back
/// to TCP for truncated answers and checks that answers match the query.
struct DirectServer {
    addr: SocketAddr,
    client: RetryDnsHandle<NameServerPool<TokioRuntimeProvider>>,
}

/// What one query got, from which server.
pub(crate) struct Asked {
    /// The server that gave the result: the one that answered, or the last one tried.
    pub(crate) server: usize,
    pub(crate) addr: SocketAddr,
    pub(crate) result: Result<DnsResponse, NetError>,
    /// Servers asked (each may have been sent the query up to `attempts` times).
    pub(crate) sent: u64,
}

impl DnsblResolver {
    /// Builds a resolver. Needs no runtime; lookups need a Tokio runtime.
    pub fn new(settings: ResolverSettings) -> Result<Self, ResolverError> {
        let ResolverSettings {
            server,
            timeout,
            attempts,
            zone,
        } = settings;
        if timeout.is_zero() {
            return Err(ResolverError::ZeroTimeout);
        }
        if attempts == 0 {
            return Err(ResolverError::ZeroAttempts);
        }

        let name_servers = match server {
            Some(addr) => vec![name_server(addr)],
            None => system_name_servers()?,
        };
        Self::with_name_servers(name_servers, server, timeout, attempts, zone)
    }

    /// [`DnsblResolver::new`] with the name servers given.
    fn with_name_servers(
        name_servers: Vec<NameServerConfig>,
        server: Option<SocketAddr>,
        timeout: Duration,
        attempts: usize,
        zone: Zone,
    ) -> Result<Self, ResolverError> {
        if name_servers.is_empty() {
            return Err(ResolverError::SystemConfig(
                "resolv.conf names no name server".into(),
            ));
        }
        let options = options(timeout, attempts);
        let direct = name_servers
            .iter()
            .map(|config| direct_server(config, &options))
            .collect::<Result<Vec<_>, _>>()?;
        let mut request_options = DnsRequestOptions::default();
        request_options.recursion_desired = options.recursion_desired;
        request_options.use_edns = options.edns0;
        request_options.edns_payload_len = options.edns_payload_len;
        request_options.case_randomization = options.case_randomization;

        // No domain and no search list: every query name is fully qualified, and a search
        // suffix must never turn a blocklist query into a query for some other zone.
        let config = ResolverConfig::from_name_servers(name_servers);

        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|e| ResolverError::Build(Box::new(e)))?;

        Ok(Self {
            inner: Arc::new(Inner {
                resolver,
                zone,
                server,
                direct,
                request_options,
            }),
        })
    }

    /// The zone this resolver asks.
    pub fn zone(&self) -> &Zone {
        &self.inner.zone
    }

    /// Asks the blocklist about `ip`.
    ///
    /// `Ok` only for an answer that can be stored: listed (with its return codes) or not
    /// listed (NXDOMAIN). Everything else — error codes, NODATA, timeouts, server failures —
    /// is an error, so that a broken resolver never looks like a clean address.
    pub async fn lookup(&self, ip: IpAddr) -> Result<Outcome, LookupError> {
        let name = Name::from_ascii(query_name(ip, &self.inner.zone)).map_err(|_| {
            // Unreachable with a validated zone; reported without the name (it may hold a key).
            LookupError::Resolver {
                detail: "the query name is not a valid DNS name",
            }
        })?;
        let answer = match self.inner.resolver.ipv4_lookup(name).await {
            Ok(lookup) => Answer::Records(a_records(&lookup)),
            Err(error) => answer_from_error(&error)?,
        };
        classify(answer)
    }
}

impl DnsblResolver {
    /// Sends one query, to the name servers in configured order, moving on to the next only
    /// when one gave no answer at all (timeout, network error). Any answer — SERVFAIL and
    /// REFUSED included — is that server's word and is returned as it is.
    ///
    /// hickory's pool would reorder servers by response time and not say which one
    /// answered; asking each on its own keeps the order of `resolv.conf` and lets evidence
    /// name the server. The cost: with every server silent a query takes up to
    /// `servers × attempts × timeout`.
    pub(crate) async fn ask(&self, name: &Name, record_type: RecordType) -> Asked {
        let mut sent = 0;
        let mut index = 0;
        loop {
            let mut asked = self.ask_server(index, name, record_type).await;
            sent += 1;
            asked.sent = sent;
            let silent = matches!(&asked.result, Err(error) if is_no_response(error));
            index += 1;
            if !silent || index == self.inner.direct.len() {
                return asked;
            }
        }
    }

    /// Sends one query to the server at `index` (as [`Asked::server`] names it) only.
    pub(crate) async fn ask_server(
        &self,
        index: usize,
        name: &Name,
        record_type: RecordType,
    ) -> Asked {
        let server = &self.inner.direct[index];
        let result = server
            .client
            .lookup(
                Query::query(name.clone(), record_type),
                self.inner.request_options,
            )
            .first_answer()
            .await;
        Asked {
            server: index,
            addr: server.addr,
            result,
            sent: 1,
        }
    }

    /// The server a query would go to first.
    pub(crate) fn first_server(&self) -> SocketAddr {
        self.inner.direct[0].addr
    }
}

impl fmt::Debug for DnsblResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsblResolver")
            .field("zone", &self.inner.zone)
            .field("server", &self.inner.server)
            .finish_non_exhaustive()
    }
}

/// One name server at `addr`, over UDP with TCP for truncated answers, both on its port.
fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

/// A client for one name server alone, reached at its first configured port.
fn direct_server(
    config: &NameServerConfig,
    options: &ResolverOpts,
) -> Result<DirectServer, ResolverError> {
    let port = config.connections.first().map_or(53, |c| c.port);
    let tls = TlsConfig::new().map_err(|e| ResolverError::Build(Box::new(e)))?;
    let context = Arc::new(PoolContext::new(options.clone(), tls));
    let pool =
        NameServerPool::from_config([config.clone()], context, TokioRuntimeProvider::default());
    Ok(DirectServer {
        addr: SocketAddr::new(config.ip, port),
        // As in hickory's resolver: `attempts` counts retries after the first try.
        client: RetryDnsHandle::new(pool, options.attempts),
    })
}

/// No answer came from the server: nothing was heard, so another server may be asked.
pub(crate) fn is_no_response(error: &NetError) -> bool {
    matches!(
        error,
        NetError::Timeout | NetError::Io(_) | NetError::NoConnections | NetError::Busy
    )
}

#[cfg(unix)]
fn system_name_servers() -> Result<Vec<NameServerConfig>, ResolverError> {
    let (config, _options) = hickory_resolver::system_conf::read_system_conf()
        .map_err(|e| ResolverError::SystemConfig(Box::new(e)))?;
    // Only the servers: resolv.conf's search list, timeout and attempts are replaced below.
    let (_domain, _search, name_servers) = config.into_parts();
    Ok(name_servers)
}

#[cfg(not(unix))]
fn system_name_servers() -> Result<Vec<NameServerConfig>, ResolverError> {
    Err(ResolverError::SystemConfig(
        "reading the system resolver configuration is only supported on Unix; give a server".into(),
    ))
}

fn options(timeout: Duration, attempts: usize) -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.timeout = timeout;
    // hickory's `attempts` counts retries after the first try (it sends attempts + 1).
    options.attempts = attempts - 1;
    // A cache of size 0 admits nothing; the zero TTL bounds also make any entry that slips
    // in stale at once, for positive and negative (NXDOMAIN) answers alike. They also clamp
    // the TTLs `lookup` sees to 0; `query_list` bypasses the cache and reads them as sent.
    options.cache_size = 0;
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    // /etc/hosts must not answer a blocklist query.
    options.use_hosts_file = ResolveHosts::Never;
    // One server at a time (hickory's default asks two at once): each query that reaches a
    // recursive resolver can cost one query of the blocklist's free-use quota. hickory orders
    // servers by observed response time, so a dead one soon stops being asked first.
    options.num_concurrent_reqs = 1;
    options
}

/// The A records of an answer; other record types (a CNAME on the way) are not codes.
fn a_records(lookup: &Lookup) -> Vec<Ipv4Addr> {
    lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// Sorts a hickory error into a DNS answer (NXDOMAIN and NODATA arrive as errors) or a
/// lookup error.
///
/// hickory 0.26 reports: NXDOMAIN and NODATA as `NetError::Dns(DnsError::NoRecordsFound)`
/// with the response code NXDOMAIN or NOERROR; other error response codes as
/// `NetError::Dns(DnsError::ResponseCode)`; silence as `NetError::Timeout` (an I/O timeout
/// is converted to it too). Nothing of the error's text is kept: it can hold the query name.
pub(crate) fn answer_from_error(error: &NetError) -> Result<Answer, LookupError> {
    if error.is_nx_domain() {
        return Ok(Answer::NxDomain);
    }
    if error.is_no_records_found() {
        return Ok(Answer::Records(Vec::new()));
    }
    Err(match error {
        NetError::Timeout => LookupError::Timeout,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => LookupError::ServFail,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => LookupError::DnsRefused,
        NetError::Dns(DnsError::ResponseCode(code)) => LookupError::ErrorResponse {
            rcode: u16::from(*code),
        },
        NetError::Io(io) if io.kind() == io::ErrorKind::TimedOut => LookupError::Timeout,
        NetError::Io(io) => LookupError::Network { kind: io.kind() },
        NetError::Busy => LookupError::Resolver {
            detail: "too many queries in flight",
        },
        NetError::NoConnections => LookupError::Resolver {
            detail: "no usable connection to the DNS server",
        },
        NetError::Truncated => LookupError::Resolver {
            detail: "truncated answer and no TCP fallback",
        },
        NetError::Proto(_) => LookupError::Resolver {
            detail: "malformed DNS message",
        },
        NetError::QueryCaseMismatch | NetError::ForeignClassRecord { .. } => {
            LookupError::Resolver {
                detail: "answer did not match the query",
            }
        }
        _ => LookupError::Resolver {
            detail: "unexpected resolver failure",
        },
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hickory_resolver::net::NoRecords;
    use hickory_resolver::proto::op::Query;
    use hickory_resolver::proto::rr::RecordType;

    use super::*;

    fn no_records(code: ResponseCode) -> NetError {
        let query = Query::query(
            Name::from_ascii("2.0.0.127.secretkey.zen.dq.spamhaus.net.").unwrap(),
            RecordType::A,
        );
        NetError::from(NoRecords::new(query, code))
    }

    #[test]
    fn nxdomain_and_nodata_are_answers() {
        assert_eq!(
            answer_from_error(&no_records(ResponseCode::NXDomain)),
            Ok(Answer::NxDomain)
        );
        assert_eq!(
            answer_from_error(&no_records(ResponseCode::NoError)),
            Ok(Answer::Records(Vec::new()))
        );
    }

    #[test]
    fn failures_are_errors() {
        let rcode = |code| NetError::Dns(DnsError::ResponseCode(code));
        let cases = [
            (NetError::Timeout, LookupError::Timeout),
            (rcode(ResponseCode::ServFail), LookupError::ServFail),
            (rcode(ResponseCode::Refused), LookupError::DnsRefused),
            (
                rcode(ResponseCode::NotImp),
                LookupError::ErrorResponse { rcode: 4 },
            ),
            (
                NetError::Io(Arc::new(io::Error::from(io::ErrorKind::ConnectionRefused))),
                LookupError::Network {
                    kind: io::ErrorKind::ConnectionRefused,
                },
            ),
            (
                NetError::from(io::Error::from(io::ErrorKind::TimedOut)),
                LookupError::Timeout,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(answer_from_error(&error), Err(expected), "{error:?}");
        }
    }

    #[test]
    fn settings_are_checked() {
        let zero_timeout = ResolverSettings {
            server: Some("127.0.0.1:53".parse().unwrap()),
            timeout: Duration::ZERO,
            ..ResolverSettings::default()
        };
        assert!(matches!(
            DnsblResolver::new(zero_timeout),
            Err(ResolverError::ZeroTimeout)
        ));
        let zero_attempts = ResolverSettings {
            server: Some("127.0.0.1:53".parse().unwrap()),
            attempts: 0,
            ..ResolverSettings::default()
        };
        assert!(matches!(
            DnsblResolver::new(zero_attempts),
            Err(ResolverError::ZeroAttempts)
        ));
    }

    /// Two servers, as `resolv.conf` would give them.
    fn two_servers(first: SocketAddr, second: SocketAddr) -> DnsblResolver {
        DnsblResolver::with_name_servers(
            vec![name_server(first), name_server(second)],
            None,
            Duration::from_millis(300),
            1,
            Zone::default(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_silent_server_is_passed_over_and_the_one_that_answered_is_named() {
        use crate::catalogue::Catalogue;
        use crate::decode::ListOutcome;
        use crate::test_server::TestDnsServer;

        let catalogue = Catalogue::builtin().unwrap();
        let zen = catalogue.get("spamhaus-zen").unwrap();
        let target = crate::Target::parse("127.0.0.1").unwrap();
        let silent = TestDnsServer::start("zen.spamhaus.org").await.unwrap();
        let healthy = TestDnsServer::start("zen.spamhaus.org").await.unwrap();
        silent.set_down(true);

        let resolver = two_servers(silent.addr(), healthy.addr());
        let response = resolver.query_list(zen, None, &target).await;
        assert_eq!(response.result, Ok(ListOutcome::NotListed));
        assert_eq!(response.evidence.resolver, healthy.addr());
        assert_eq!(response.queries, 2);
        assert!(silent.queries() >= 1);

        // The order is kept: the first server is asked first again once it answers.
        silent.set_down(false);
        let response = resolver.query_list(zen, None, &target).await;
        assert_eq!(response.evidence.resolver, silent.addr());
        assert_eq!(response.queries, 1);
    }

    #[tokio::test]
    async fn an_error_answer_is_the_servers_word_and_ends_the_query() {
        use crate::catalogue::Catalogue;
        use crate::test_server::TestDnsServer;

        let catalogue = Catalogue::builtin().unwrap();
        let zen = catalogue.get("spamhaus-zen").unwrap();
        let target = crate::Target::parse("127.0.0.2").unwrap();
        // Serves another zone: REFUSED for ZEN.
        let refusing = TestDnsServer::start("bl.example.org").await.unwrap();
        let healthy = TestDnsServer::start("zen.spamhaus.org").await.unwrap();

        let resolver = two_servers(refusing.addr(), healthy.addr());
        let response = resolver.query_list(zen, None, &target).await;
        assert_eq!(response.evidence.rcode, "REFUSED");
        assert_eq!(response.evidence.resolver, refusing.addr());
        assert_eq!(response.queries, 1);
        assert_eq!(healthy.queries(), 0);
    }

    #[test]
    fn debug_hides_the_dqs_key() {
        let resolver = DnsblResolver::new(ResolverSettings {
            server: Some("127.0.0.1:53".parse().unwrap()),
            zone: Zone::dqs("secretkey").unwrap(),
            ..ResolverSettings::default()
        })
        .unwrap();
        let debug = format!("{resolver:?}");
        assert!(!debug.contains("secretkey"), "{debug}");
        assert!(debug.contains("127.0.0.1:53"), "{debug}");
    }
}
