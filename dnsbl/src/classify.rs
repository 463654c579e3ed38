//! Reading a DNS answer as a blocklist answer: listed, not listed, or an error.

use std::net::Ipv4Addr;

use crate::error::{LookupError, RefusalReason};
use crate::outcome::Outcome;

/// What the DNS answered for a query name, before it is read as a blocklist answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// NOERROR with these A records; empty for NODATA.
    Records(Vec<Ipv4Addr>),
    /// NXDOMAIN: the name does not exist.
    NxDomain,
}

/// Reads an answer the way RFC 5782 and Spamhaus define it.
///
/// * NXDOMAIN → [`Outcome::NotListed`].
/// * A records, all in 127.0.0.0/8 → [`Outcome::Listed`], deduplicated and sorted.
/// * Any record in 127.255.255.0/24 → [`LookupError::Refused`], even beside listing codes:
///   the blocklist is telling us it did not really answer. With several such codes the
///   highest wins, which ranks "excessive queries" (.255) first so that rate limiting is
///   never hidden behind another error.
/// * Any record outside 127.0.0.0/8 → [`LookupError::UnexpectedAnswer`].
/// * No records (NODATA) → [`LookupError::NoData`].
pub fn classify(answer: Answer) -> Result<Outcome, LookupError> {
    let mut codes = match answer {
        Answer::NxDomain => return Ok(Outcome::NotListed),
        Answer::Records(codes) => codes,
    };
    if codes.is_empty() {
        return Err(LookupError::NoData);
    }
    codes.sort_unstable();
    codes.dedup();

    if let Some(&code) = codes.iter().rev().find(|code| is_error_code(**code)) {
        return Err(LookupError::Refused {
            reason: RefusalReason::from_code(code),
            code,
        });
    }
    if let Some(&code) = codes.iter().find(|code| !code.is_loopback()) {
        return Err(LookupError::UnexpectedAnswer { code });
    }
    Ok(Outcome::Listed(codes))
}

/// 127.255.255.0/24: Spamhaus's range for "your query failed", never a listing.
fn is_error_code(code: Ipv4Addr) -> bool {
    matches!(code.octets(), [127, 255, 255, _])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(codes: &[[u8; 4]]) -> Answer {
        Answer::Records(codes.iter().map(|&o| Ipv4Addr::from(o)).collect())
    }

    fn refused(last: u8) -> LookupError {
        let code = Ipv4Addr::new(127, 255, 255, last);
        LookupError::Refused {
            reason: RefusalReason::from_code(code),
            code,
        }
    }

    #[test]
    fn nxdomain_is_not_listed() {
        assert_eq!(classify(Answer::NxDomain), Ok(Outcome::NotListed));
    }

    #[test]
    fn listing_codes_are_sorted_numerically_and_deduplicated() {
        let outcome = classify(records(&[
            [127, 0, 0, 10],
            [127, 0, 0, 2],
            [127, 0, 0, 4],
            [127, 0, 0, 2],
        ]))
        .unwrap();
        // Numeric order: .10 after .4, unlike a text sort.
        assert_eq!(outcome.response_code(), "127.0.0.2, 127.0.0.4, 127.0.0.10");
    }

    #[test]
    fn nodata_is_an_error() {
        assert_eq!(classify(records(&[])), Err(LookupError::NoData));
    }

    #[test]
    fn every_error_code_is_an_error() {
        for last in [250, 251, 252, 253, 254, 255, 0, 1, 100] {
            let result = classify(records(&[[127, 255, 255, last]]));
            assert_eq!(result, Err(refused(last)), "127.255.255.{last}");
        }
        assert!(
            classify(records(&[[127, 255, 255, 255]]))
                .unwrap_err()
                .is_rate_limited()
        );
        assert_eq!(
            RefusalReason::from_code(Ipv4Addr::new(127, 255, 255, 252)),
            RefusalReason::ZoneNameTypo
        );
        assert_eq!(
            RefusalReason::from_code(Ipv4Addr::new(127, 255, 255, 254)),
            RefusalReason::OpenResolver
        );
        assert_eq!(
            RefusalReason::from_code(Ipv4Addr::new(127, 255, 255, 250)),
            RefusalReason::DqsKeyDisabled
        );
        assert_eq!(
            RefusalReason::from_code(Ipv4Addr::new(127, 255, 255, 251)),
            RefusalReason::DqsKeyRejected
        );
        assert_eq!(
            RefusalReason::from_code(Ipv4Addr::new(127, 255, 255, 7)),
            RefusalReason::Other
        );
    }

    #[test]
    fn an_error_code_beside_listing_codes_is_still_an_error() {
        let result = classify(records(&[[127, 0, 0, 2], [127, 255, 255, 254]]));
        assert_eq!(result, Err(refused(254)));
    }

    #[test]
    fn rate_limiting_wins_over_other_error_codes() {
        let result = classify(records(&[
            [127, 255, 255, 252],
            [127, 255, 255, 255],
            [127, 0, 0, 4],
        ]));
        assert_eq!(result, Err(refused(255)));
    }

    #[test]
    fn records_outside_loopback_are_errors() {
        assert_eq!(
            classify(records(&[[198, 51, 100, 7]])),
            Err(LookupError::UnexpectedAnswer {
                code: Ipv4Addr::new(198, 51, 100, 7)
            })
        );
        assert_eq!(
            classify(records(&[[127, 0, 0, 2], [10, 0, 0, 1]])),
            Err(LookupError::UnexpectedAnswer {
                code: Ipv4Addr::new(10, 0, 0, 1)
            })
        );
    }

    #[test]
    fn unknown_loopback_codes_are_listings() {
        let outcome = classify(records(&[[127, 0, 0, 99]])).unwrap();
        assert_eq!(outcome.listings()[0].list, "unknown");
    }
}
