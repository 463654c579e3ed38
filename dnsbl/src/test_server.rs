//! A real DNS server on loopback that plays a blocklist, for tests and benchmarks.
//!
//! It is hickory-server with a request handler of our own (not a zone file), so a test can
//! change any answer, or make the server go silent, while lookups are running.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::iter;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, SOA};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

use crate::query_name::query_name;
use crate::zone::Zone;

/// A long TTL on every answer, so that a test sees any caching between it and the server.
const TTL: u32 = 3600;

/// How long an idle TCP connection to the server stays open.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 64;

/// The UDP socket's receive buffer. The kernel's default (about 200 KiB) holds fewer than 256
/// queries, so a client with that many in flight saw the kernel drop some, and waited out its
/// timeout; the kernel caps this at `net.core.rmem_max`.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

/// How the server answers a query name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestAnswer {
    /// NOERROR with these A records (an empty list is NODATA).
    Records(Vec<Ipv4Addr>),
    /// NXDOMAIN: not listed.
    NxDomain,
    /// NOERROR without records.
    NoData,
    /// SERVFAIL.
    ServFail,
    /// REFUSED.
    Refused,
    /// No answer at all: the client times out.
    Drop,
}

/// A blocklist DNS server on 127.0.0.1 (UDP and TCP on the same port).
///
/// Answers as the Spamhaus test points do until told otherwise: 127.0.0.2 is listed as
/// `127.0.0.2, 127.0.0.4, 127.0.0.10`, 127.0.0.1 is not listed, 2001:db8::2 is listed as
/// `127.0.0.2`, every other name in the zone is NXDOMAIN and names outside it are REFUSED.
/// Stops when dropped.
pub struct TestDnsServer {
    addr: SocketAddr,
    state: Arc<State>,
    /// `None` only once [`TestDnsServer::stop`] has taken it.
    server: Option<Server<Handler>>,
}

impl TestDnsServer {
    /// Starts serving `zone` (e.g. `zen.spamhaus.org`, or `<key>.zen.dq.spamhaus.net` to play
    /// DQS) on an ephemeral port. Must be called inside a Tokio runtime.
    pub async fn start(zone: &str) -> io::Result<Self> {
        let zone =
            Zone::standard(zone).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let state = Arc::new(State::new(zone)?);
        state.set(
            Ipv4Addr::new(127, 0, 0, 2).into(),
            TestAnswer::Records(vec![
                Ipv4Addr::new(127, 0, 0, 2),
                Ipv4Addr::new(127, 0, 0, 4),
                Ipv4Addr::new(127, 0, 0, 10),
            ]),
        );
        state.set(Ipv4Addr::new(127, 0, 0, 1).into(), TestAnswer::NxDomain);
        state.set(
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into(),
            TestAnswer::Records(vec![Ipv4Addr::new(127, 0, 0, 2)]),
        );

        let (udp, tcp, addr) = bind_udp_and_tcp().await?;
        let mut server = Server::new(Handler {
            state: state.clone(),
        });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        Ok(Self {
            addr,
            state,
            server: Some(server),
        })
    }

    /// Where the server listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers `ip`'s query name with `answer` from now on.
    pub fn set(&self, ip: IpAddr, answer: TestAnswer) {
        self.state.set(ip, answer);
    }

    /// Answers every name in the zone that has no answer of its own with `answer` (NXDOMAIN
    /// at start).
    pub fn set_default(&self, answer: TestAnswer) {
        self.state.answers_mut().default = answer;
    }

    /// While down, the server drops every query, as a dead server would.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::Relaxed);
    }

    /// Queries received so far, answered or not (a client's retransmissions count).
    pub fn queries(&self) -> u64 {
        self.state.queries.load(Ordering::Relaxed)
    }

    /// Of those, the queries that came over TCP (a client falls back to TCP when a UDP answer
    /// is truncated).
    pub fn tcp_queries(&self) -> u64 {
        self.state.tcp_queries.load(Ordering::Relaxed)
    }

    /// The name of the latest query received, lower case with its trailing dot.
    pub fn last_query_name(&self) -> Option<String> {
        self.state
            .last_query
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops serving and waits until the sockets are closed.
    pub async fn stop(mut self) -> io::Result<()> {
        match self.server.take() {
            Some(mut server) => server.shutdown_gracefully().await.map_err(io::Error::other),
            None => Ok(()),
        }
    }
}

impl Drop for TestDnsServer {
    fn drop(&mut self) {
        // Dropping the server aborts its tasks too; cancelling first lets them end cleanly.
        if let Some(server) = &self.server {
            server.shutdown_token().cancel();
        }
    }
}

impl fmt::Debug for TestDnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDnsServer")
            .field("addr", &self.addr)
            .field("queries", &self.queries())
            .finish_non_exhaustive()
    }
}

/// A UDP socket and a TCP listener on the same ephemeral port: the resolver reaches both
/// protocols through one address, so TCP fallback hits this server and not some other.
async fn bind_udp_and_tcp() -> io::Result<(UdpSocket, TcpListener, SocketAddr)> {
    const TRIES: usize = 16;
    for _ in 0..TRIES {
        let udp = bind_udp()?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp, addr)),
            // The port is free for UDP but taken for TCP: try another.
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no port free for both UDP and TCP after {TRIES} tries"),
    ))
}

/// A UDP socket on an ephemeral loopback port with a large receive buffer.
fn bind_udp() -> io::Result<UdpSocket> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
    // Best effort: the kernel may grant less, which only brings back the drops under load.
    let _ = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
    UdpSocket::from_std(socket.into())
}

/// What the handler and the test share.
struct State {
    zone: Zone,
    /// `zen.spamhaus.org.`: the apex, as the handler sees query names.
    apex: String,
    /// `.zen.spamhaus.org.`: what every name below the apex ends with.
    dotted_apex: String,
    /// Sent with negative answers, as a real zone would (its TTL invites negative caching).
    soa: Record,
    answers: RwLock<Answers>,
    down: AtomicBool,
    queries: AtomicU64,
    tcp_queries: AtomicU64,
    last_query: Mutex<Option<String>>,
}

struct Answers {
    by_name: HashMap<String, TestAnswer>,
    default: TestAnswer,
}

impl State {
    fn new(zone: Zone) -> io::Result<Self> {
        let apex = format!("{}.", zone.suffix());
        let apex_name =
            Name::from_ascii(&apex).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let soa = SOA::new(
            apex_name.clone(),
            apex_name.clone(),
            1,
            3600,
            600,
            86400,
            TTL,
        );
        Ok(Self {
            dotted_apex: format!(".{apex}"),
            apex,
            zone,
            soa: Record::from_rdata(apex_name, TTL, RData::SOA(soa)),
            answers: RwLock::new(Answers {
                by_name: HashMap::new(),
                default: TestAnswer::NxDomain,
            }),
            down: AtomicBool::new(false),
            queries: AtomicU64::new(0),
            tcp_queries: AtomicU64::new(0),
            last_query: Mutex::new(None),
        })
    }

    fn set(&self, ip: IpAddr, answer: TestAnswer) {
        let name = query_name(ip, &self.zone);
        self.answers_mut().by_name.insert(name, answer);
    }

    // A panic while holding these locks cannot leave the maps half-changed (each change is
    // one insert or assignment), so a poisoned lock is safe to keep using.
    fn answers_mut(&self) -> std::sync::RwLockWriteGuard<'_, Answers> {
        self.answers.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer for a lower-case, fully qualified query name.
    fn answer(&self, name: &str, record_type: RecordType) -> TestAnswer {
        if name != self.apex && !name.ends_with(&self.dotted_apex) {
            return TestAnswer::Refused;
        }
        let answers = self.answers.read().unwrap_or_else(PoisonError::into_inner);
        match answers.by_name.get(name).unwrap_or(&answers.default) {
            // The name exists, but only with A records.
            TestAnswer::Records(_) if record_type != RecordType::A => TestAnswer::NoData,
            answer => answer.clone(),
        }
    }

    fn remember(&self, name: String) {
        *self
            .last_query
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(name);
    }
}

struct Handler {
    state: Arc<State>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let state = &self.state;
        state.queries.fetch_add(1, Ordering::Relaxed);
        if request.protocol() == Protocol::Tcp {
            state.tcp_queries.fetch_add(1, Ordering::Relaxed);
        }
        if state.down.load(Ordering::Relaxed) {
            return unanswered(request);
        }

        let builder = MessageResponseBuilder::from_message_request(request);
        let Ok(info) = request.request_info() else {
            // Not exactly one query: nothing a resolver sends.
            let response = builder.error_msg(&request.metadata, ResponseCode::FormErr);
            return response_handle
                .send_response(response)
                .await
                .unwrap_or_else(|_| unanswered(request));
        };
        let query = info.query;
        let name = query.name().to_string();
        let answer = state.answer(&name, query.query_type());
        state.remember(name);

        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let sent = match answer {
            TestAnswer::Drop => return unanswered(request),
            TestAnswer::Records(ips) => {
                let owner = query.original().name();
                let records: Vec<Record> = ips
                    .into_iter()
                    .map(|ip| Record::from_rdata(owner.clone(), TTL, RData::A(A(ip))))
                    .collect();
                let response = builder.build(
                    metadata,
                    &records,
                    iter::empty(),
                    iter::empty(),
                    iter::empty(),
                );
                response_handle.send_response(response).await
            }
            TestAnswer::NxDomain | TestAnswer::NoData => {
                if answer == TestAnswer::NxDomain {
                    metadata.response_code = ResponseCode::NXDomain;
                }
                let response = builder.build(
                    metadata,
                    iter::empty(),
                    iter::empty(),
                    iter::once(&state.soa),
                    iter::empty(),
                );
                response_handle.send_response(response).await
            }
            TestAnswer::ServFail => {
                let response = builder.error_msg(&request.metadata, ResponseCode::ServFail);
                response_handle.send_response(response).await
            }
            TestAnswer::Refused => {
                let response = builder.error_msg(&request.metadata, ResponseCode::Refused);
                response_handle.send_response(response).await
            }
        };
        sent.unwrap_or_else(|_| unanswered(request))
    }
}

/// What the handler reports for a query it did not answer (hickory-server only logs it).
fn unanswered(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State::new(Zone::default()).unwrap()
    }

    #[test]
    fn names_outside_the_zone_are_refused() {
        let state = state();
        for name in [
            "example.org.",
            "spamhaus.org.",
            "xzen.spamhaus.org.",
            "2.0.0.127.zen.spamhaus.org.evil.",
        ] {
            assert_eq!(
                state.answer(name, RecordType::A),
                TestAnswer::Refused,
                "{name}"
            );
        }
    }

    #[test]
    fn names_in_the_zone_default_to_nxdomain_until_set() {
        let state = state();
        let name = "9.2.0.192.zen.spamhaus.org.";
        assert_eq!(state.answer(name, RecordType::A), TestAnswer::NxDomain);
        state.set("192.0.2.9".parse().unwrap(), TestAnswer::ServFail);
        assert_eq!(state.answer(name, RecordType::A), TestAnswer::ServFail);
        state.answers_mut().default = TestAnswer::Drop;
        assert_eq!(
            state.answer("8.2.0.192.zen.spamhaus.org.", RecordType::A),
            TestAnswer::Drop
        );
    }

    #[test]
    fn records_answer_only_a_queries() {
        let state = state();
        let listed = TestAnswer::Records(vec![Ipv4Addr::new(127, 0, 0, 2)]);
        state.set("192.0.2.9".parse().unwrap(), listed.clone());
        let name = "9.2.0.192.zen.spamhaus.org.";
        assert_eq!(state.answer(name, RecordType::A), listed);
        assert_eq!(state.answer(name, RecordType::TXT), TestAnswer::NoData);
    }
}
