//! A trustworthy blocklist answer and what its return codes mean.

use std::net::Ipv4Addr;

/// What the blocklist said about an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Listed: the A records of the answer (return codes), deduplicated and sorted
    /// numerically. Never empty, and never holds an error code (see [`crate::classify`]).
    Listed(Vec<Ipv4Addr>),
    /// Not listed: the blocklist answered NXDOMAIN.
    NotListed,
}

/// The response text of the original service for an NXDOMAIN answer.
pub const NOT_LISTED_RESPONSE: &str = "No Response";

impl Outcome {
    /// The text the original service stored: the return codes joined by `", "`
    /// (`127.0.0.2, 127.0.0.4, 127.0.0.10`), or `No Response` when not listed.
    pub fn response_code(&self) -> String {
        match self {
            Self::Listed(codes) => codes
                .iter()
                .map(Ipv4Addr::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Self::NotListed => NOT_LISTED_RESPONSE.to_owned(),
        }
    }

    /// Reads [`Outcome::response_code`] text back: `No Response`, or A records joined by
    /// `", "`, which the outcome holds deduplicated and sorted numerically as an answer would.
    /// `None` for any other text. Any A record is accepted: text another system stored (such
    /// as pysecworks, which kept whatever the DNS answered) may hold codes that
    /// [`crate::classify`] would have refused.
    pub fn parse_response_code(text: &str) -> Option<Self> {
        if text == NOT_LISTED_RESPONSE {
            return Some(Self::NotListed);
        }
        let mut codes = text
            .split(", ")
            .map(str::parse)
            .collect::<Result<Vec<Ipv4Addr>, _>>()
            .ok()?;
        codes.sort_unstable();
        codes.dedup();
        Some(Self::Listed(codes))
    }

    /// Whether the address is on any list.
    pub fn is_listed(&self) -> bool {
        matches!(self, Self::Listed(_))
    }

    /// Each return code decoded as a Spamhaus ZEN listing, in the order of the codes.
    pub fn listings(&self) -> Vec<Listing> {
        match self {
            Self::Listed(codes) => codes.iter().copied().map(Listing::decode).collect(),
            Self::NotListed => Vec::new(),
        }
    }
}

/// One return code of a ZEN answer and the list it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Listing {
    /// Short list name: `SBL`, `SBL CSS`, `DROP`, `XBL`, `PBL`, `BCL`, or `unknown`.
    pub list: &'static str,
    /// The return code (A record).
    pub code: Ipv4Addr,
    /// What a listing on it means.
    pub description: &'static str,
}

impl Listing {
    /// Decodes a ZEN return code (docs.spamhaus.com, "Available Zones").
    ///
    /// A code that ZEN does not document is kept as list `unknown` rather than dropped: it is
    /// still a positive answer, and Spamhaus adds codes from time to time (BCL's .30 did).
    pub fn decode(code: Ipv4Addr) -> Self {
        let (list, description) = match code.octets() {
            [127, 0, 0, 2] => (
                "SBL",
                "Spamhaus Block List: direct spam sources, spam operations and spam services",
            ),
            [127, 0, 0, 3] => (
                "SBL CSS",
                "Spamhaus CSS: snowshoe spam sources detected by automation",
            ),
            [127, 0, 0, 9] => (
                "DROP",
                "Do Not Route Or Peer: networks hijacked or run by criminals (always with SBL)",
            ),
            [127, 0, 0, 4] => (
                "XBL",
                "Exploits Block List: hosts infected or exploited by third parties",
            ),
            [127, 0, 0, 5..=7] => (
                "XBL",
                "Exploits Block List (historic return code, currently unused)",
            ),
            [127, 0, 0, 10] => (
                "PBL",
                "Policy Block List, ISP-maintained: end-user addresses that should not send mail directly",
            ),
            [127, 0, 0, 11] => (
                "PBL",
                "Policy Block List, Spamhaus-maintained: end-user addresses that should not send mail directly",
            ),
            [127, 0, 0, 30] => (
                "BCL",
                "Botnet Controller List: a botnet command-and-control server",
            ),
            _ => ("unknown", "return code not documented for ZEN"),
        };
        Self {
            list,
            code,
            description,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(last: &[u8]) -> Vec<Ipv4Addr> {
        last.iter().map(|&d| Ipv4Addr::new(127, 0, 0, d)).collect()
    }

    #[test]
    fn response_code_matches_the_original_service() {
        assert_eq!(
            Outcome::Listed(codes(&[2, 4, 10])).response_code(),
            "127.0.0.2, 127.0.0.4, 127.0.0.10"
        );
        assert_eq!(Outcome::Listed(codes(&[11])).response_code(), "127.0.0.11");
        assert_eq!(Outcome::NotListed.response_code(), "No Response");
    }

    #[test]
    fn response_codes_read_back_as_they_were_written() {
        for outcome in [
            Outcome::Listed(codes(&[2, 4, 10])),
            Outcome::Listed(codes(&[11])),
            Outcome::NotListed,
        ] {
            assert_eq!(
                Outcome::parse_response_code(&outcome.response_code()),
                Some(outcome)
            );
        }
        assert_eq!(
            Outcome::parse_response_code("127.0.0.10, 127.0.0.4, 127.0.0.2, 127.0.0.4"),
            Some(Outcome::Listed(codes(&[2, 4, 10])))
        );
        for other in [
            "",
            "Timeout",
            "127.0.0.2,127.0.0.4",
            "127.0.0.2, ",
            "no response",
        ] {
            assert_eq!(Outcome::parse_response_code(other), None, "{other:?}");
        }
    }

    #[test]
    fn every_zen_code_is_decoded() {
        let expected = [
            (2, "SBL"),
            (3, "SBL CSS"),
            (4, "XBL"),
            (5, "XBL"),
            (6, "XBL"),
            (7, "XBL"),
            (9, "DROP"),
            (10, "PBL"),
            (11, "PBL"),
            (30, "BCL"),
        ];
        for (last, list) in expected {
            let listing = Listing::decode(Ipv4Addr::new(127, 0, 0, last));
            assert_eq!(listing.list, list, "127.0.0.{last}");
            assert_eq!(listing.code, Ipv4Addr::new(127, 0, 0, last));
            assert!(!listing.description.is_empty());
        }
        assert!(
            Listing::decode(Ipv4Addr::new(127, 0, 0, 10))
                .description
                .contains("ISP")
        );
        assert!(
            Listing::decode(Ipv4Addr::new(127, 0, 0, 11))
                .description
                .contains("Spamhaus-maintained")
        );
        assert!(
            Listing::decode(Ipv4Addr::new(127, 0, 0, 5))
                .description
                .contains("historic")
        );
    }

    #[test]
    fn unknown_codes_are_kept() {
        let outcome = Outcome::Listed(codes(&[2, 8, 200]));
        let lists: Vec<_> = outcome.listings().iter().map(|l| l.list).collect();
        assert_eq!(lists, ["SBL", "unknown", "unknown"]);
        assert_eq!(
            Listing::decode(Ipv4Addr::new(127, 0, 1, 2)).list,
            "unknown",
            "a DBL code in a ZEN answer is not a ZEN list"
        );
    }

    #[test]
    fn not_listed_has_no_listings() {
        assert!(Outcome::NotListed.listings().is_empty());
        assert!(!Outcome::NotListed.is_listed());
        assert!(Outcome::Listed(codes(&[2])).is_listed());
    }
}
