//! The RFC 5782 §5 health check: a blocklist that cannot tell its own test points apart is
//! not answering, whatever it says about real addresses.

use std::net::Ipv4Addr;

use thiserror::Error;

use crate::error::LookupError;
use crate::outcome::Outcome;
use crate::resolver::DnsblResolver;

/// Must always be listed (RFC 5782 §5).
pub const LISTED_TEST_POINT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Must never be listed (RFC 5782 §5).
pub const UNLISTED_TEST_POINT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

/// The blocklist, or the path to it, is not answering truthfully.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TestPointError {
    /// 127.0.0.2 came back NXDOMAIN. Spamhaus answers NXDOMAIN for everything to resolvers it
    /// blocks, so every real lookup would look clean.
    #[error(
        "test point {LISTED_TEST_POINT} is not listed: the resolver may be blocked by the \
         blocklist (NXDOMAIN for everything)"
    )]
    ListedPointNotListed,
    /// 127.0.0.1 came back listed: something answers every query as listed (a wildcard zone
    /// or a rewriting resolver), so every real lookup would look listed.
    #[error(
        "test point {UNLISTED_TEST_POINT} is listed ({codes}): the blocklist or resolver \
         answers every query as listed"
    )]
    UnlistedPointListed {
        /// The return codes it got.
        codes: String,
    },
    /// A test point lookup failed.
    #[error("test point {ip} could not be checked: {error}")]
    Lookup {
        /// The test point.
        ip: Ipv4Addr,
        /// Why its lookup failed.
        error: LookupError,
    },
}

impl DnsblResolver {
    /// Checks that 127.0.0.2 is listed and 127.0.0.1 is not (RFC 5782 §5).
    ///
    /// Run it at start-up and now and then: a resolver that has been blocked by the
    /// blocklist still answers, just wrongly.
    pub async fn check_test_points(&self) -> Result<(), TestPointError> {
        match self.lookup(LISTED_TEST_POINT.into()).await {
            Ok(Outcome::Listed(_)) => {}
            Ok(Outcome::NotListed) => return Err(TestPointError::ListedPointNotListed),
            Err(error) => {
                return Err(TestPointError::Lookup {
                    ip: LISTED_TEST_POINT,
                    error,
                });
            }
        }
        match self.lookup(UNLISTED_TEST_POINT.into()).await {
            Ok(Outcome::NotListed) => Ok(()),
            Ok(listed @ Outcome::Listed(_)) => Err(TestPointError::UnlistedPointListed {
                codes: listed.response_code(),
            }),
            Err(error) => Err(TestPointError::Lookup {
                ip: UNLISTED_TEST_POINT,
                error,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_explain_what_is_wrong() {
        assert_eq!(
            TestPointError::ListedPointNotListed.to_string(),
            "test point 127.0.0.2 is not listed: the resolver may be blocked by the blocklist \
             (NXDOMAIN for everything)"
        );
        assert_eq!(
            TestPointError::UnlistedPointListed {
                codes: "127.0.0.2".into()
            }
            .to_string(),
            "test point 127.0.0.1 is listed (127.0.0.2): the blocklist or resolver answers \
             every query as listed"
        );
        assert_eq!(
            TestPointError::Lookup {
                ip: LISTED_TEST_POINT,
                error: LookupError::Timeout
            }
            .to_string(),
            "test point 127.0.0.2 could not be checked: DNS timeout"
        );
    }
}
