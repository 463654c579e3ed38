//! Asking one catalogue list about one address or domain, with the evidence of what the DNS
//! said, and checking a list's own test points.
//!
//! The reading of answers is [`Blocklist::decode`]'s; this module only sends queries and
//! records what came back.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::{DnsResponse, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use thiserror::Error;

use crate::catalogue::{Blocklist, ErrorAnswerKind, ListKey, QueryError, TestPoint, TestTarget};
use crate::classify::Answer;
use crate::decode::{ListError, ListListing, ListOutcome};
use crate::domain::Target;
use crate::error::{LookupError, rcode_name};
use crate::resolver::{DnsblResolver, answer_from_error, is_no_response};

/// What `rcode` says when no DNS message came back (timeout, network error).
pub const NO_RESPONSE: &str = "NO_RESPONSE";

/// What `rcode` says when no query could be sent (no query name could be built).
pub const NO_QUERY: &str = "NO_QUERY";

/// One list's answer about one target, with what the DNS said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResponse {
    /// Decoded answer, or why there is none.
    pub result: Result<ListOutcome, ListLookupError>,
    /// The TXT record(s) joined, fetched only when the result is a listing and the list
    /// publishes TXT reasons; a failed TXT fetch never fails the answer (`None`).
    pub reason: Option<String>,
    /// What the DNS said to the A query.
    pub evidence: QueryEvidence,
    /// DNS queries this sent: 1, or 2 with the TXT fetch; 0 if no query name could be built.
    /// One more for each name server that gave no answer before the next was asked.
    /// hickory's retransmissions of the same query to the same server are not counted.
    pub queries: u64,
}

/// What the DNS said to one query, as it can be stored and shown: never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryEvidence {
    /// The server asked (the one that answered, or the last one tried). With no query sent,
    /// the server that would have been asked first.
    pub resolver: SocketAddr,
    /// The fully qualified query name, any key shown as `<key>`; empty when none could be
    /// built.
    pub query_name: String,
    /// The response code (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`, another mnemonic or
    /// `RCODE n`), [`NO_RESPONSE`] when no answer came, [`NO_QUERY`] when none was sent.
    pub rcode: String,
    /// The lowest TTL of the A records as the server sent them. For a negative answer
    /// (NXDOMAIN, or NODATA) carrying a SOA, the negative TTL of RFC 2308 §5: the lower of
    /// the SOA record's TTL and its MINIMUM field. `None` otherwise.
    pub ttl: Option<u32>,
}

/// Why a list gave no answer that can be stored. Names the list, never a keyed query name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ListLookupError {
    /// No query name could be built (no key configured, wrong kind of target, …): the list
    /// was not asked.
    #[error(transparent)]
    Query(QueryError),
    /// The DNS gave no answer to read: timeout, SERVFAIL, REFUSED, network failure.
    #[error("blocklist {list}: {error}")]
    Dns {
        /// The list id.
        list: String,
        /// What went wrong.
        error: LookupError,
    },
    /// The list answered, but not with a listing or "not listed": a documented error
    /// answer, an undocumented code, NODATA.
    #[error(transparent)]
    Answer(ListError),
}

impl ListLookupError {
    /// The list said we send too many queries: slow the whole queue down.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            Self::Query(_) => false,
            Self::Dns { error, .. } => error.is_rate_limited(),
            Self::Answer(error) => error.is_rate_limited(),
        }
    }

    /// Asking again later may succeed without anyone acting: transport failures, SERVFAIL,
    /// rate limiting. Everything else repeats until someone changes something: documented
    /// error answers, undocumented codes, NODATA, REFUSED, query errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Query(_) => false,
            Self::Dns { error, .. } => error.is_retryable(),
            Self::Answer(error) => error.is_rate_limited(),
        }
    }

    /// The list (or the path to it) needs checking now — run its test points: our resolver
    /// is blocked, the key is rejected, the zone is wrong, or it answers what it does not
    /// document. False for query errors: the list was not asked, the fault is the caller's
    /// configuration.
    pub fn needs_attention(&self) -> bool {
        !matches!(self, Self::Query(_)) && !self.is_retryable()
    }

    /// The kind of a documented error answer.
    pub fn error_kind(&self) -> Option<ErrorAnswerKind> {
        match self {
            Self::Answer(error) => error.error_kind(),
            _ => None,
        }
    }
}

/// The result of [`DnsblResolver::check_list_test_points`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPointReport {
    /// Whether every test point got the answer it must.
    pub result: Result<(), ListTestPointError>,
    /// DNS queries sent (as in [`ListResponse::queries`]).
    pub queries: u64,
}

/// A list that gets one of its own test points wrong (RFC 5782 §5): it is not answering
/// truthfully, whatever it says about real targets.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ListTestPointError {
    /// A point that must be listed came back NXDOMAIN. A list answers NXDOMAIN for
    /// everything to resolvers it blocks, so every real lookup would look clean.
    #[error(
        "blocklist {list}: test point {point} must be listed but is not: the resolver may be \
         blocked by the blocklist (NXDOMAIN for everything)"
    )]
    ListedPointNotListed {
        /// The list id.
        list: String,
        /// The test point (address or domain, never the query name).
        point: String,
    },
    /// A point that must not be listed came back listed: something answers every query as
    /// listed (a wildcard zone or a rewriting resolver).
    #[error(
        "blocklist {list}: test point {point} must not be listed but is ({listings}): the \
         blocklist or resolver answers every query as listed"
    )]
    UnlistedPointListed {
        /// The list id.
        list: String,
        /// The test point.
        point: String,
        /// What it was listed as (`SBL (127.0.0.2)`).
        listings: String,
    },
    /// A test point got no answer that can be read: a DNS failure, an error answer, an
    /// undocumented code.
    #[error(
        "blocklist {list}: test point {point} (must be {}) could not be checked: {error}",
        if *listed { "listed" } else { "not listed" }
    )]
    Lookup {
        /// The list id.
        list: String,
        /// The test point.
        point: String,
        /// Whether it must be listed.
        listed: bool,
        /// What came instead (boxed: it is the rare, large case).
        error: Box<ListLookupError>,
    },
}

impl DnsblResolver {
    /// Asks `list` about `target`: an A query for the list's query name (with `key` put in
    /// where the list takes one; the resolver's own zone is not used), read with
    /// [`Blocklist::decode`], and for a listing on a list with TXT reasons, a TXT query to the
    /// same server.
    pub async fn query_list(
        &self,
        list: &Blocklist,
        key: Option<&ListKey>,
        target: &Target,
    ) -> ListResponse {
        let name = match list.target_query_name(target, key) {
            Ok(name) => name,
            Err(error) => return self.not_queried(ListLookupError::Query(error)),
        };
        let (asked, result) = self.ask_list(list, key, &name).await;
        let mut queries = asked.sent;
        let mut reason = None;
        if list.txt_reasons
            && matches!(result, Ok(ListOutcome::Listed(_)))
            && let Some(server) = asked.server
        {
            queries += 1;
            reason = self.txt_reason(server, &name, key).await;
        }
        ListResponse {
            result,
            reason,
            evidence: asked.evidence,
            queries,
        }
    }

    /// Checks every test point of `list`: the listed ones must decode as listed, the others
    /// as not listed. Stops at the first that does not, so that a blocked resolver costs
    /// one query.
    pub async fn check_list_test_points(
        &self,
        list: &Blocklist,
        key: Option<&ListKey>,
    ) -> TestPointReport {
        let mut queries = 0;
        for point in &list.test_points {
            let shown = show_test_target(&point.query);
            let result = match list.test_point_query_name(point, key) {
                Ok(name) => {
                    let (asked, result) = self.ask_list(list, key, &name).await;
                    queries += asked.sent;
                    result
                }
                Err(error) => Err(ListLookupError::Query(error)),
            };
            if let Err(error) = judge_test_point(list, point, shown, result) {
                return TestPointReport {
                    result: Err(error),
                    queries,
                };
            }
        }
        TestPointReport {
            result: Ok(()),
            queries,
        }
    }

    /// The A query for `name`, decoded with `list`.
    async fn ask_list(
        &self,
        list: &Blocklist,
        key: Option<&ListKey>,
        name: &str,
    ) -> (ListAsked, Result<ListOutcome, ListLookupError>) {
        let shown_name = match key {
            Some(key) => key.redact_name(name),
            None => name.to_owned(),
        };
        let dns_error = |error| ListLookupError::Dns {
            list: list.id.clone(),
            error,
        };
        let Ok(fqdn) = Name::from_ascii(name) else {
            // Unreachable with a validated catalogue; reported without the name.
            let error = dns_error(LookupError::Resolver {
                detail: "the query name is not a valid DNS name",
            });
            let asked = ListAsked {
                evidence: self.no_query_evidence(),
                server: None,
                sent: 0,
            };
            return (asked, Err(error));
        };
        let asked = self.ask(&fqdn, RecordType::A).await;
        let (rcode, ttl) = evidence_of(&asked.result);
        let answer = match &asked.result {
            Ok(response) => answer_from_response(response),
            Err(error) => answer_from_error(error),
        };
        let result = match answer {
            Ok(answer) => list.decode(answer).map_err(ListLookupError::Answer),
            Err(error) => Err(dns_error(error)),
        };
        let listed = ListAsked {
            evidence: QueryEvidence {
                resolver: asked.addr,
                query_name: shown_name,
                rcode,
                ttl,
            },
            server: Some(asked.server),
            sent: asked.sent,
        };
        (listed, result)
    }

    /// The TXT records of `name` at the server that answered its A query, joined; `None`
    /// for any failure or an empty answer.
    async fn txt_reason(&self, server: usize, name: &str, key: Option<&ListKey>) -> Option<String> {
        let fqdn = Name::from_ascii(name).ok()?;
        let response = self
            .ask_server(server, &fqdn, RecordType::TXT)
            .await
            .result
            .ok()?;
        let reason = join_txt(&response)?;
        Some(match key {
            Some(key) => key.redact_text(&reason),
            None => reason,
        })
    }

    fn not_queried(&self, error: ListLookupError) -> ListResponse {
        ListResponse {
            result: Err(error),
            reason: None,
            evidence: self.no_query_evidence(),
            queries: 0,
        }
    }

    fn no_query_evidence(&self) -> QueryEvidence {
        QueryEvidence {
            resolver: self.first_server(),
            query_name: String::new(),
            rcode: NO_QUERY.to_owned(),
            ttl: None,
        }
    }
}

/// An A query's evidence, the server that answered it (for the TXT query) and the queries
/// it took.
struct ListAsked {
    evidence: QueryEvidence,
    server: Option<usize>,
    sent: u64,
}

/// Whether a test point got the answer it must.
fn judge_test_point(
    list: &Blocklist,
    point: &TestPoint,
    shown: String,
    result: Result<ListOutcome, ListLookupError>,
) -> Result<(), ListTestPointError> {
    match (point.listed, result) {
        (true, Ok(ListOutcome::Listed(_))) | (false, Ok(ListOutcome::NotListed)) => Ok(()),
        (true, Ok(ListOutcome::NotListed)) => Err(ListTestPointError::ListedPointNotListed {
            list: list.id.clone(),
            point: shown,
        }),
        (false, Ok(ListOutcome::Listed(listings))) => {
            Err(ListTestPointError::UnlistedPointListed {
                list: list.id.clone(),
                point: shown,
                listings: show_listings(&listings),
            })
        }
        (listed, Err(error)) => Err(ListTestPointError::Lookup {
            list: list.id.clone(),
            point: shown,
            listed,
            error: Box::new(error),
        }),
    }
}

/// A test point as written in the catalogue (`127.0.0.2`, `::ffff:7f00:2`, `dbltest.com`).
fn show_test_target(target: &TestTarget) -> String {
    match target {
        TestTarget::Ip(ip @ IpAddr::V4(_)) => ip.to_string(),
        // Not `::ffff:127.0.0.2`, which reads as the IPv4 test point.
        TestTarget::Ip(IpAddr::V6(v6)) => ShowV6(v6.segments()).to_string(),
        TestTarget::Domain(domain) => domain.clone(),
    }
}

/// An IPv6 address in RFC 5952 form, but always in hex, even when IPv4-mapped.
struct ShowV6([u16; 8]);

impl fmt::Display for ShowV6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The longest run of two or more zero groups becomes `::` (the first, on a tie).
        let mut best = (0, 0);
        let mut at = 0;
        while at < 8 {
            let len = self.0[at..].iter().take_while(|&&g| g == 0).count();
            if len > best.1 {
                best = (at, len);
            }
            at += len.max(1);
        }
        let groups = |range: &[u16]| {
            range
                .iter()
                .map(|g| format!("{g:x}"))
                .collect::<Vec<_>>()
                .join(":")
        };
        if best.1 < 2 {
            return f.write_str(&groups(&self.0));
        }
        let (start, len) = best;
        write!(
            f,
            "{}::{}",
            groups(&self.0[..start]),
            groups(&self.0[start + len..])
        )
    }
}

/// `SBL (127.0.0.2), XBL (127.0.0.4)`.
fn show_listings(listings: &[ListListing]) -> String {
    listings
        .iter()
        .map(|l| format!("{} ({})", l.name, l.code))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The A records of an answer that came back as a message. NXDOMAIN with records (a CNAME
/// to a name that does not exist) is still NXDOMAIN; any other error code, including one
/// hickory does not know, is an error.
fn answer_from_response(response: &DnsResponse) -> Result<Answer, LookupError> {
    match response.response_code {
        ResponseCode::NoError => Ok(Answer::Records(
            response
                .answers
                .iter()
                .filter_map(|record| match &record.data {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect::<Vec<Ipv4Addr>>(),
        )),
        ResponseCode::NXDomain => Ok(Answer::NxDomain),
        ResponseCode::ServFail => Err(LookupError::ServFail),
        ResponseCode::Refused => Err(LookupError::DnsRefused),
        code => Err(LookupError::ErrorResponse {
            rcode: u16::from(code),
        }),
    }
}

/// The response code and TTL to record for a query's result.
///
/// TTLs are read from the message the server sent: no cache stands between (see
/// `DirectServer`), so they are not clamped as hickory's resolver clamps them to its
/// `positive_max_ttl` (0 in [`DnsblResolver`], which would show every TTL as 0).
fn evidence_of(result: &Result<DnsResponse, NetError>) -> (String, Option<u32>) {
    match result {
        Ok(response) => {
            let ttl = response
                .answers
                .iter()
                .filter(|record| record.record_type() == RecordType::A)
                .map(|record| record.ttl)
                .min();
            (rcode_name(u16::from(response.response_code)), ttl)
        }
        // hickory turns NXDOMAIN and NODATA into errors; `negative_ttl` is
        // min(SOA TTL, SOA MINIMUM), present only when the answer carried a SOA.
        Err(NetError::Dns(DnsError::NoRecordsFound(no_records))) => (
            rcode_name(u16::from(no_records.response_code)),
            no_records.negative_ttl,
        ),
        Err(NetError::Dns(DnsError::ResponseCode(code))) => (rcode_name(u16::from(*code)), None),
        Err(error) if is_no_response(error) => (NO_RESPONSE.to_owned(), None),
        // A message came but could not be used (malformed, not matching the query).
        Err(_) => (NO_RESPONSE.to_owned(), None),
    }
}

/// The TXT records of an answer, each record's strings concatenated (RFC 7208 §3.3 style),
/// records sorted (their order in DNS is arbitrary) and joined with `; `. Control characters
/// become spaces: the text is stored and shown.
fn join_txt(response: &DnsResponse) -> Option<String> {
    if response.response_code != ResponseCode::NoError {
        return None;
    }
    let mut texts: Vec<String> = response
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part))
                    .collect::<String>()
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>()
                    .trim()
                    .to_owned(),
            ),
            _ => None,
        })
        .filter(|text| !text.is_empty())
        .collect();
    texts.sort();
    texts.dedup();
    if texts.is_empty() {
        return None;
    }
    let joined = texts.join("; ");
    // A reason is a line for people; a zone that answers kilobytes is not stored whole.
    Some(match joined.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    })
}

/// The longest TXT reason kept, in characters.
const MAX_REASON_CHARS: usize = 1024;

#[cfg(test)]
mod tests {
    use hickory_resolver::net::NoRecords;
    use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};
    use hickory_resolver::proto::rr::Record;
    use hickory_resolver::proto::rr::rdata::{A, SOA, TXT};

    use super::*;
    use crate::catalogue::Catalogue;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn response(code: ResponseCode, answers: Vec<Record>) -> DnsResponse {
        let mut message = Message::new(7, MessageType::Response, OpCode::Query);
        message.metadata.response_code = code;
        message.add_query(Query::query(name("2.0.0.127.bl.example."), RecordType::A));
        message.add_answers(answers);
        DnsResponse::from_message(message).unwrap()
    }

    fn a(ttl: u32, last: u8) -> Record {
        Record::from_rdata(
            name("2.0.0.127.bl.example."),
            ttl,
            RData::A(A(Ipv4Addr::new(127, 0, 0, last))),
        )
    }

    #[test]
    fn evidence_takes_the_lowest_a_ttl_and_the_mnemonic() {
        let ok = response(ResponseCode::NoError, vec![a(300, 2), a(60, 4)]);
        assert_eq!(evidence_of(&Ok(ok)), ("NOERROR".into(), Some(60)));
        let refused = NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused));
        assert_eq!(evidence_of(&Err(refused)), ("REFUSED".into(), None));
        assert_eq!(
            evidence_of(&Err(NetError::Timeout)),
            (NO_RESPONSE.into(), None)
        );
    }

    #[test]
    fn negative_evidence_carries_the_negative_ttl() {
        let query = Query::query(name("1.0.0.127.bl.example."), RecordType::A);
        let mut nx = NoRecords::new(query.clone(), ResponseCode::NXDomain);
        let soa = SOA::new(name("bl.example."), name("bl.example."), 1, 1, 1, 1, 900);
        nx.soa = Some(Box::new(Record::from_rdata(name("bl.example."), 3600, soa)));
        nx.negative_ttl = Some(900);
        assert_eq!(
            evidence_of(&Err(NetError::from(nx))),
            ("NXDOMAIN".into(), Some(900))
        );
        let bare = NoRecords::new(query, ResponseCode::NXDomain);
        assert_eq!(
            evidence_of(&Err(NetError::from(bare))),
            ("NXDOMAIN".into(), None)
        );
    }

    #[test]
    fn unknown_response_codes_are_errors() {
        let odd = response(ResponseCode::Unknown(23), vec![a(60, 2)]);
        assert_eq!(
            answer_from_response(&odd),
            Err(LookupError::ErrorResponse { rcode: 23 })
        );
        assert_eq!(evidence_of(&Ok(odd)).0, "RCODE 23");
        let nx = response(ResponseCode::NXDomain, Vec::new());
        assert_eq!(answer_from_response(&nx), Ok(Answer::NxDomain));
    }

    #[test]
    fn txt_records_are_joined_sorted_and_cleaned() {
        let txt = |parts: &[&str]| {
            Record::from_rdata(
                name("2.0.0.127.bl.example."),
                60,
                RData::TXT(TXT::new(parts.iter().map(|p| p.to_string()).collect())),
            )
        };
        let answer = response(
            ResponseCode::NoError,
            vec![
                txt(&["Listed by XBL, ", "see https://example.org/x"]),
                txt(&["Listed by SBL\n"]),
                txt(&["Listed by SBL"]),
                a(60, 2),
            ],
        );
        assert_eq!(
            join_txt(&answer).as_deref(),
            Some("Listed by SBL; Listed by XBL, see https://example.org/x")
        );
        assert_eq!(join_txt(&response(ResponseCode::NoError, Vec::new())), None);
        let long = "é".repeat(120);
        let answer = response(ResponseCode::NoError, vec![txt(&[long.as_str(); 10])]);
        let kept = join_txt(&answer).unwrap();
        assert_eq!(
            kept.chars().count(),
            MAX_REASON_CHARS + 1,
            "cut, with an ellipsis"
        );
        assert!(kept.ends_with("é…"));
    }

    #[test]
    fn test_points_are_shown_as_written() {
        let show = |text: &str| show_test_target(&TestTarget::Ip(text.parse().unwrap()));
        assert_eq!(show("127.0.0.2"), "127.0.0.2");
        assert_eq!(show("::ffff:7f00:2"), "::ffff:7f00:2");
        assert_eq!(show("2001:db8::1"), "2001:db8::1");
        assert_eq!(show("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
        assert_eq!(show("::"), "::");
        assert_eq!(show("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
        assert_eq!(
            show_test_target(&TestTarget::Domain("dbltest.com".into())),
            "dbltest.com"
        );
    }

    #[test]
    fn predicates_follow_what_the_error_means() {
        let catalogue = Catalogue::builtin().unwrap();
        let zen = catalogue.get("spamhaus-zen").unwrap();
        let answer = |last: u8| {
            ListLookupError::Answer(
                zen.decode(Answer::Records(vec![Ipv4Addr::new(127, 255, 255, last)]))
                    .unwrap_err(),
            )
        };
        let dns = |error| ListLookupError::Dns {
            list: "spamhaus-zen".into(),
            error,
        };
        let rate = answer(255);
        assert!(rate.is_rate_limited() && rate.is_retryable() && !rate.needs_attention());
        for last in [250, 251, 252, 254] {
            let error = answer(last);
            assert!(!error.is_rate_limited(), "{last}");
            assert!(!error.is_retryable(), "{last}");
            assert!(error.needs_attention(), "{last}");
        }
        for error in [LookupError::Timeout, LookupError::ServFail] {
            let error = dns(error);
            assert!(error.is_retryable() && !error.needs_attention(), "{error}");
        }
        for error in [
            dns(LookupError::DnsRefused),
            ListLookupError::Answer(ListError::NoData {
                list: "spamhaus-zen".into(),
            }),
        ] {
            assert!(!error.is_retryable() && error.needs_attention(), "{error}");
        }
        let query = ListLookupError::Query(QueryError::KeyRequired {
            list: "spamhaus-zrd".into(),
        });
        assert!(!query.is_retryable() && !query.needs_attention());
        assert_eq!(
            dns(LookupError::Timeout).to_string(),
            "blocklist spamhaus-zen: DNS timeout"
        );
    }
}
