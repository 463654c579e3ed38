//! Why a lookup gave no trustworthy answer.
//!
//! Every message here is safe to show to API users and to store: none holds a query name
//! (which, for DQS, holds the account key) or text copied from the DNS library.

use std::io;
use std::net::Ipv4Addr;

use thiserror::Error;

/// A lookup that produced neither a listing nor a clean "not listed".
///
/// None of these may be stored as a result: each means DNS did not tell us whether the
/// address is listed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The blocklist answered with an error code from 127.255.255.0/24 instead of data.
    #[error("blocklist refused the query: {reason} ({code})")]
    Refused {
        /// What the code means.
        reason: RefusalReason,
        /// The A record that carried it.
        code: Ipv4Addr,
    },
    /// An A record outside 127.0.0.0/8, which no blocklist answer uses (RFC 5782 §2.3):
    /// typically a resolver that rewrites failed lookups to an advertising page.
    #[error("blocklist answer {code} is outside 127.0.0.0/8, so it is not a blocklist answer")]
    UnexpectedAnswer {
        /// The first such record.
        code: Ipv4Addr,
    },
    /// The name exists but has no A records (NODATA). Blocklists answer NXDOMAIN for "not
    /// listed", so this is a broken or misconfigured zone, not a clean answer.
    #[error("blocklist answered without A records (NODATA)")]
    NoData,
    /// No answer within the configured timeout, after every attempt.
    #[error("DNS timeout")]
    Timeout,
    /// The DNS server answered SERVFAIL.
    #[error("DNS server failure (SERVFAIL)")]
    ServFail,
    /// The DNS server answered REFUSED: it will not answer for this zone (or for us).
    #[error("DNS server refused the query (REFUSED)")]
    DnsRefused,
    /// The DNS server answered with another error response code.
    #[error("DNS error response ({})", rcode_name(*rcode))]
    ErrorResponse {
        /// The response code (RFC 1035 §4.1.1, RFC 6895).
        rcode: u16,
    },
    /// Talking to the DNS server failed (socket error, connection refused, …).
    #[error("DNS network error: {kind}")]
    Network {
        /// What the operating system reported.
        kind: io::ErrorKind,
    },
    /// Any other resolver failure.
    #[error("DNS resolver error: {detail}")]
    Resolver {
        /// A fixed description (never text from the DNS answer).
        detail: &'static str,
    },
}

impl LookupError {
    /// The blocklist said we send too many queries (127.255.255.255).
    ///
    /// Every further query is likely to get the same answer until the rate drops, so the
    /// caller should slow its whole queue down, not just retry this address.
    pub fn is_rate_limited(&self) -> bool {
        matches!(
            self,
            Self::Refused {
                reason: RefusalReason::ExcessiveQueries,
                ..
            }
        )
    }

    /// Trying the same lookup again later may succeed without anyone changing configuration.
    ///
    /// False for answers that will repeat until an operator acts: a wrong zone name, a
    /// rejected DQS key, a public resolver, a server that refuses the zone, a broken zone.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Refused { reason, .. } => *reason == RefusalReason::ExcessiveQueries,
            Self::Timeout | Self::ServFail | Self::Network { .. } | Self::Resolver { .. } => true,
            Self::UnexpectedAnswer { .. }
            | Self::NoData
            | Self::DnsRefused
            | Self::ErrorResponse { .. } => false,
        }
    }
}

/// The meaning of a Spamhaus error code in 127.255.255.0/24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RefusalReason {
    /// 127.255.255.252: the zone name has a typing error (the queried zone does not exist).
    #[error("typing error in the zone name")]
    ZoneNameTypo,
    /// 127.255.255.254: the query came through a public/open resolver, or one without
    /// attributable reverse DNS; the public mirrors do not answer those.
    #[error("query via a public/open resolver")]
    OpenResolver,
    /// 127.255.255.255: the resolver sent more queries than the free-use limit allows.
    #[error("excessive queries")]
    ExcessiveQueries,
    /// 127.255.255.250: the DQS key is disabled.
    #[error("DQS key disabled")]
    DqsKeyDisabled,
    /// 127.255.255.251: the DQS key is not accepted for this use (for example, used by
    /// another account or against the terms of use).
    #[error("DQS key not accepted")]
    DqsKeyRejected,
    /// Another code in 127.255.255.0/24: an error whose meaning is not documented.
    #[error("unrecognised blocklist error code")]
    Other,
}

impl RefusalReason {
    /// The reason for an error code; only the last octet matters.
    pub(crate) fn from_code(code: Ipv4Addr) -> Self {
        match code.octets()[3] {
            250 => Self::DqsKeyDisabled,
            251 => Self::DqsKeyRejected,
            252 => Self::ZoneNameTypo,
            254 => Self::OpenResolver,
            255 => Self::ExcessiveQueries,
            _ => Self::Other,
        }
    }
}

/// The conventional mnemonic of a DNS response code, for messages and evidence.
pub(crate) fn rcode_name(rcode: u16) -> String {
    let name = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        _ => return format!("RCODE {rcode}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(last: u8) -> LookupError {
        let code = Ipv4Addr::new(127, 255, 255, last);
        LookupError::Refused {
            reason: RefusalReason::from_code(code),
            code,
        }
    }

    #[test]
    fn messages_are_plain_and_complete() {
        let cases = [
            (
                refused(255),
                "blocklist refused the query: excessive queries (127.255.255.255)",
            ),
            (
                refused(254),
                "blocklist refused the query: query via a public/open resolver (127.255.255.254)",
            ),
            (
                refused(252),
                "blocklist refused the query: typing error in the zone name (127.255.255.252)",
            ),
            (
                refused(251),
                "blocklist refused the query: DQS key not accepted (127.255.255.251)",
            ),
            (
                refused(250),
                "blocklist refused the query: DQS key disabled (127.255.255.250)",
            ),
            (
                refused(1),
                "blocklist refused the query: unrecognised blocklist error code (127.255.255.1)",
            ),
            (
                LookupError::UnexpectedAnswer {
                    code: Ipv4Addr::new(192, 0, 2, 1),
                },
                "blocklist answer 192.0.2.1 is outside 127.0.0.0/8, so it is not a blocklist answer",
            ),
            (
                LookupError::NoData,
                "blocklist answered without A records (NODATA)",
            ),
            (LookupError::Timeout, "DNS timeout"),
            (LookupError::ServFail, "DNS server failure (SERVFAIL)"),
            (
                LookupError::DnsRefused,
                "DNS server refused the query (REFUSED)",
            ),
            (
                LookupError::ErrorResponse { rcode: 4 },
                "DNS error response (NOTIMP)",
            ),
            (
                LookupError::ErrorResponse { rcode: 23 },
                "DNS error response (RCODE 23)",
            ),
            (
                LookupError::Network {
                    kind: io::ErrorKind::ConnectionRefused,
                },
                "DNS network error: connection refused",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn only_excessive_queries_is_rate_limiting() {
        assert!(refused(255).is_rate_limited());
        for last in [250, 251, 252, 253, 254] {
            assert!(!refused(last).is_rate_limited());
        }
        assert!(!LookupError::Timeout.is_rate_limited());
        assert!(!LookupError::ServFail.is_rate_limited());
    }

    #[test]
    fn retryable_errors_are_the_passing_ones() {
        assert!(refused(255).is_retryable());
        assert!(LookupError::Timeout.is_retryable());
        assert!(LookupError::ServFail.is_retryable());
        assert!(
            LookupError::Network {
                kind: io::ErrorKind::ConnectionRefused
            }
            .is_retryable()
        );
        for last in [250, 251, 252, 254, 7] {
            assert!(!refused(last).is_retryable(), "127.255.255.{last}");
        }
        assert!(!LookupError::NoData.is_retryable());
        assert!(!LookupError::DnsRefused.is_retryable());
        assert!(
            !LookupError::UnexpectedAnswer {
                code: Ipv4Addr::new(10, 0, 0, 1)
            }
            .is_retryable()
        );
    }
}
