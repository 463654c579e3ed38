//! A real DNS server on loopback that plays a blocklist, for tests and benchmarks.
//!
//! It is hickory-server with a request handler of our own (not a zone file), so a test can
//! change any answer, or make the server go silent, while lookups are running.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::iter;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, SOA, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

use crate::catalogue::{Blocklist, Catalogue, Decoding, ListKey, QueryError};
use crate::domain::Target;
use crate::query_name::{query_name, query_name_as_given};
use crate::zone::Zone;

/// A long TTL on every answer, so that a test sees any caching between it and the server.
const TTL: u32 = 3600;

/// The TTL of the SOA record sent with negative answers.
pub const SOA_TTL: u32 = 3600;

/// The SOA's MINIMUM field at start: the negative TTL a client derives, min(SOA TTL,
/// MINIMUM) by RFC 2308 §5, is this until [`TestDnsServer::set_negative_ttl`] changes it.
pub const DEFAULT_NEGATIVE_TTL: u32 = 900;

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
    /// This answer, after a delay (a slow server, or one slower than the client's timeout).
    Slow(Duration, Box<TestAnswer>),
}

/// A blocklist DNS server on 127.0.0.1 (UDP and TCP on the same port).
///
/// Started with [`TestDnsServer::start`], it serves one zone and answers as the Spamhaus
/// test points do until told otherwise: 127.0.0.2 is listed as `127.0.0.2, 127.0.0.4,
/// 127.0.0.10`, 127.0.0.1 is not listed, 2001:db8::2 is listed as `127.0.0.2`.
///
/// Started with [`TestDnsServer::start_catalogue`], it serves the zone of every list of a
/// catalogue and answers each list's test points as a healthy list would.
///
/// Either way every other name in a served zone is NXDOMAIN with a SOA in the authority
/// section, and names outside are REFUSED. Stops when dropped.
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
        let state = Arc::new(State::new(Some(zone.clone()), None)?);
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
        // RFC 5782's IPv6 test points, asked in their IPv6 form (the catalogue's ZEN entry
        // checks them), set like the IPv4 ones so that a changed default leaves them be.
        for (last, answer) in [
            (2, TestAnswer::Records(vec![Ipv4Addr::new(127, 0, 0, 2)])),
            (1, TestAnswer::NxDomain),
        ] {
            let mapped = Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, last);
            state
                .answers_mut()
                .by_name
                .insert(query_name_as_given(mapped.into(), &zone), answer);
        }

        Self::serve(state).await
    }

    /// Starts serving every list of `catalogue` on an ephemeral port: each list's zone (a
    /// keyed zone with `key` put in; a list that needs a key and gets none is not served),
    /// its listed test points answered with its first documented listing (the first code, or
    /// the first documented bit), the others NXDOMAIN. Must be called inside a Tokio runtime.
    pub async fn start_catalogue(catalogue: &Catalogue, key: Option<&ListKey>) -> io::Result<Self> {
        let mut state = State::new(None, key.cloned())?;
        for list in catalogue.lists() {
            let Ok(suffix) = list.suffix(key) else {
                continue;
            };
            let mut listed_points = Vec::new();
            let mut answers = Vec::new();
            for point in &list.test_points {
                let name = list
                    .test_point_query_name(point, key)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                if point.listed {
                    let answer = TestAnswer::Records(vec![first_listing(list)]);
                    listed_points.push((name.clone(), answer.clone()));
                    answers.push((name, answer));
                } else {
                    answers.push((name, TestAnswer::NxDomain));
                }
            }
            state.add_zone(&suffix, Some(list.id.clone()), listed_points)?;
            let mut held = state.answers_mut();
            for (name, answer) in answers {
                held.by_name.insert(name, answer);
            }
        }
        Self::serve(Arc::new(state)).await
    }

    async fn serve(state: Arc<State>) -> io::Result<Self> {
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
    ///
    /// # Panics
    ///
    /// On a server started with [`TestDnsServer::start_catalogue`], which has no one zone:
    /// use [`TestDnsServer::answer`].
    pub fn set(&self, ip: IpAddr, answer: TestAnswer) {
        self.state.set(ip, answer);
    }

    /// Answers `list`'s query name for `target` (with the server's key) with `answer`.
    pub fn answer(
        &self,
        list: &Blocklist,
        target: &Target,
        answer: TestAnswer,
    ) -> Result<(), QueryError> {
        let name = list.target_query_name(target, self.state.key.as_ref())?;
        self.state.answers_mut().by_name.insert(name, answer);
        Ok(())
    }

    /// Answers a fully qualified name (`2.0.0.127.bl.example.org.`; the trailing dot may be
    /// left out) with `answer`.
    pub fn answer_name(&self, fqdn: &str, answer: TestAnswer) {
        self.state
            .answers_mut()
            .by_name
            .insert(fully_qualified(fqdn), answer);
    }

    /// Adds a TXT record (one string) to `list`'s query name for `target`: what a TXT query
    /// for that name gets from now on, whatever its A answer.
    pub fn txt(&self, list: &Blocklist, target: &Target, text: &str) -> Result<(), QueryError> {
        let name = list.target_query_name(target, self.state.key.as_ref())?;
        self.state
            .answers_mut()
            .txt
            .entry(name)
            .or_default()
            .push(text.to_owned());
        Ok(())
    }

    /// The TTL of the A records in answers from now on (an hour at start).
    pub fn set_ttl(&self, ttl: u32) {
        self.state.ttl.store(ttl, Ordering::Relaxed);
    }

    /// The MINIMUM field of the SOA sent with negative answers from now on
    /// ([`DEFAULT_NEGATIVE_TTL`] at start). The SOA record's own TTL stays [`SOA_TTL`], so a
    /// client derives min(`minimum`, [`SOA_TTL`]) as the negative TTL.
    pub fn set_negative_ttl(&self, minimum: u32) {
        for zone in &self.state.zones {
            *zone.soa.write().unwrap_or_else(PoisonError::into_inner) =
                Arc::new(soa_record(&zone.apex_name, minimum));
        }
    }

    /// While `failing`, the listed test points of list `list_id` answer NXDOMAIN, as a list
    /// answers a resolver it blocks; after, they answer as at start. Unknown ids do nothing.
    pub fn fail_test_points(&self, list_id: &str, failing: bool) {
        let Some(zone) = self.state.zone_of_list(list_id) else {
            return;
        };
        let mut answers = self.state.answers_mut();
        for (name, listed) in &zone.listed_points {
            let answer = if failing {
                TestAnswer::NxDomain
            } else {
                listed.clone()
            };
            answers.by_name.insert(name.clone(), answer);
        }
    }

    /// Queries received for list `list_id`'s zone (0 for a list not served).
    pub fn queries_for(&self, list_id: &str) -> u64 {
        self.state
            .zone_of_list(list_id)
            .map_or(0, |zone| zone.queries.load(Ordering::Relaxed))
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
    /// The one zone of [`TestDnsServer::start`]; `None` in catalogue mode.
    zone: Option<Zone>,
    /// The key put into keyed zones (catalogue mode).
    key: Option<ListKey>,
    zones: Vec<ServedZone>,
    answers: RwLock<Answers>,
    ttl: AtomicU32,
    down: AtomicBool,
    queries: AtomicU64,
    tcp_queries: AtomicU64,
    last_query: Mutex<Option<String>>,
}

/// One zone the server is authoritative for.
struct ServedZone {
    apex_name: Name,
    /// `zen.spamhaus.org.`: the apex, as the handler sees query names.
    apex: String,
    /// `.zen.spamhaus.org.`: what every name below the apex ends with.
    dotted_apex: String,
    /// The catalogue list it plays, if any.
    list_id: Option<String>,
    /// The listed test points' names and answers, to restore after `fail_test_points`.
    listed_points: Vec<(String, TestAnswer)>,
    /// Sent with negative answers, as a real zone would (its TTL invites negative caching).
    /// Behind an `Arc` so the handler holds no lock while it sends.
    soa: RwLock<Arc<Record>>,
    queries: AtomicU64,
}

struct Answers {
    by_name: HashMap<String, TestAnswer>,
    txt: HashMap<String, Vec<String>>,
    default: TestAnswer,
}

/// What the handler sends for a query.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Answer(TestAnswer),
    Txt(Vec<String>),
}

impl State {
    fn new(zone: Option<Zone>, key: Option<ListKey>) -> io::Result<Self> {
        let mut state = Self {
            zone: None,
            key,
            zones: Vec::new(),
            answers: RwLock::new(Answers {
                by_name: HashMap::new(),
                txt: HashMap::new(),
                default: TestAnswer::NxDomain,
            }),
            ttl: AtomicU32::new(TTL),
            down: AtomicBool::new(false),
            queries: AtomicU64::new(0),
            tcp_queries: AtomicU64::new(0),
            last_query: Mutex::new(None),
        };
        if let Some(zone) = zone {
            state.add_zone(zone.suffix(), None, Vec::new())?;
            state.zone = Some(zone);
        }
        Ok(state)
    }

    fn add_zone(
        &mut self,
        suffix: &str,
        list_id: Option<String>,
        listed_points: Vec<(String, TestAnswer)>,
    ) -> io::Result<()> {
        let apex = format!("{suffix}.");
        let apex_name =
            Name::from_ascii(&apex).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.zones.push(ServedZone {
            soa: RwLock::new(Arc::new(soa_record(&apex_name, DEFAULT_NEGATIVE_TTL))),
            apex_name,
            dotted_apex: format!(".{apex}"),
            apex,
            list_id,
            listed_points,
            queries: AtomicU64::new(0),
        });
        Ok(())
    }

    fn set(&self, ip: IpAddr, answer: TestAnswer) {
        let zone = self
            .zone
            .as_ref()
            .expect("TestDnsServer::set needs a server started with start(zone); use answer()");
        let name = query_name(ip, zone);
        self.answers_mut().by_name.insert(name, answer);
    }

    // A panic while holding these locks cannot leave the maps half-changed (each change is
    // one insert or assignment), so a poisoned lock is safe to keep using.
    fn answers_mut(&self) -> std::sync::RwLockWriteGuard<'_, Answers> {
        self.answers.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The served zone a lower-case, fully qualified name is in.
    fn zone_for(&self, name: &str) -> Option<&ServedZone> {
        self.zones
            .iter()
            .find(|zone| name == zone.apex || name.ends_with(&zone.dotted_apex))
    }

    fn zone_of_list(&self, list_id: &str) -> Option<&ServedZone> {
        self.zones
            .iter()
            .find(|zone| zone.list_id.as_deref() == Some(list_id))
    }

    /// The answer for a lower-case, fully qualified query name.
    #[cfg(test)]
    fn answer(&self, name: &str, record_type: RecordType) -> TestAnswer {
        match self.reply(name, record_type) {
            Reply::Answer(answer) => answer,
            Reply::Txt(_) => TestAnswer::NoData,
        }
    }

    fn reply(&self, name: &str, record_type: RecordType) -> Reply {
        if self.zone_for(name).is_none() {
            return Reply::Answer(TestAnswer::Refused);
        }
        let answers = self.answers.read().unwrap_or_else(PoisonError::into_inner);
        if record_type == RecordType::TXT
            && let Some(texts) = answers.txt.get(name)
        {
            return Reply::Txt(texts.clone());
        }
        let answer = answers.by_name.get(name).unwrap_or(&answers.default);
        Reply::Answer(for_type(answer, record_type))
    }

    fn remember(&self, name: String) {
        *self
            .last_query
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(name);
    }
}

/// The name exists, but only with A records: other types get NODATA.
fn for_type(answer: &TestAnswer, record_type: RecordType) -> TestAnswer {
    match answer {
        TestAnswer::Records(_) if record_type != RecordType::A => TestAnswer::NoData,
        TestAnswer::Slow(delay, inner) => {
            TestAnswer::Slow(*delay, Box::new(for_type(inner, record_type)))
        }
        answer => answer.clone(),
    }
}

/// The zone's SOA, with `minimum` as its MINIMUM field and [`SOA_TTL`] as its TTL.
fn soa_record(apex: &Name, minimum: u32) -> Record {
    let soa = SOA::new(apex.clone(), apex.clone(), 1, 3600, 600, 86400, minimum);
    Record::from_rdata(apex.clone(), SOA_TTL, RData::SOA(soa))
}

/// A name as the handler sees it: lower case, with its trailing dot.
fn fully_qualified(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    if name.ends_with('.') {
        name
    } else {
        name + "."
    }
}

/// The first documented listing of a list: its first code, or its first bit in 127.0.0.x.
fn first_listing(list: &Blocklist) -> Ipv4Addr {
    match &list.decoding {
        Decoding::Codes { listings, .. } => listings[0].value,
        Decoding::Bits { bits, .. } => Ipv4Addr::new(127, 0, 0, bits[0].value),
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
        // ASCII form: `Display` would show an IDNA label (`xn--…`) in Unicode.
        let name = query.name().to_ascii();
        let zone = state.zone_for(&name);
        if let Some(zone) = zone {
            zone.queries.fetch_add(1, Ordering::Relaxed);
        }
        let mut reply = state.reply(&name, query.query_type());
        state.remember(name);
        while let Reply::Answer(TestAnswer::Slow(delay, inner)) = reply {
            tokio::time::sleep(delay).await;
            reply = Reply::Answer(*inner);
        }

        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let owner = query.original().name();
        let answer = match reply {
            Reply::Answer(answer) => answer,
            Reply::Txt(texts) => {
                let ttl = state.ttl.load(Ordering::Relaxed);
                let records: Vec<Record> = texts
                    .into_iter()
                    .map(|text| {
                        Record::from_rdata(owner.clone(), ttl, RData::TXT(TXT::new(vec![text])))
                    })
                    .collect();
                let response = builder.build(
                    metadata,
                    &records,
                    iter::empty(),
                    iter::empty(),
                    iter::empty(),
                );
                return response_handle
                    .send_response(response)
                    .await
                    .unwrap_or_else(|_| unanswered(request));
            }
        };
        let sent = match answer {
            // Unwrapped above.
            TestAnswer::Slow(..) | TestAnswer::Drop => return unanswered(request),
            TestAnswer::Records(ips) => {
                let ttl = state.ttl.load(Ordering::Relaxed);
                let records: Vec<Record> = ips
                    .into_iter()
                    .map(|ip| Record::from_rdata(owner.clone(), ttl, RData::A(A(ip))))
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
                // Every name that gets here is in a served zone (others are REFUSED).
                let soa = zone.map(|zone| {
                    zone.soa
                        .read()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone()
                });
                let response = builder.build(
                    metadata,
                    iter::empty(),
                    iter::empty(),
                    soa.as_deref(),
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
        State::new(Some(Zone::default()), None).unwrap()
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
    fn txt_records_answer_txt_queries_only() {
        let state = state();
        let name = "2.0.0.127.zen.spamhaus.org.";
        state
            .answers_mut()
            .txt
            .insert(name.into(), vec!["Listed by SBL".into()]);
        assert_eq!(
            state.reply(name, RecordType::TXT),
            Reply::Txt(vec!["Listed by SBL".into()])
        );
        assert_eq!(
            state.reply(name, RecordType::A),
            Reply::Answer(TestAnswer::NxDomain)
        );
    }

    #[test]
    fn a_slow_answer_keeps_its_delay_for_other_types() {
        let slow = TestAnswer::Slow(
            Duration::from_millis(5),
            Box::new(TestAnswer::Records(vec![Ipv4Addr::new(127, 0, 0, 2)])),
        );
        assert_eq!(
            for_type(&slow, RecordType::TXT),
            TestAnswer::Slow(Duration::from_millis(5), Box::new(TestAnswer::NoData))
        );
        assert_eq!(for_type(&slow, RecordType::A), slow);
    }

    #[test]
    fn the_first_listing_is_a_code_or_the_first_bit() {
        let catalogue = Catalogue::builtin().unwrap();
        let first = |id: &str| first_listing(catalogue.get(id).unwrap());
        assert_eq!(first("spamhaus-zen"), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(first("spamhaus-dbl"), Ipv4Addr::new(127, 0, 1, 2));
        assert_eq!(first("surbl"), Ipv4Addr::new(127, 0, 0, 4));
        assert_eq!(first("uribl"), Ipv4Addr::new(127, 0, 0, 2));
    }

    #[test]
    fn names_are_lower_case_and_fully_qualified() {
        assert_eq!(fully_qualified("Test.URIBL.com"), "test.uribl.com.");
        assert_eq!(fully_qualified("a.example."), "a.example.");
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
