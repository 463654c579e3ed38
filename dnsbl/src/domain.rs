//! Domain names in the one form secworks stores, queries and shows them, and the two kinds of
//! thing a blocklist is asked about.

use std::fmt;
use std::str::FromStr;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use crate::address::Address;

/// Longest domain name in text form, without the trailing dot (RFC 1035 §2.3.4).
pub const MAX_DOMAIN_LEN: usize = 253;

/// Longest label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// A host or domain name in canonical form: ASCII (IDNA, UTS #46 with the STD3 rules), lower
/// case, without a trailing dot, at least two labels, and a last label that is not all digits
/// (so that no address is ever read as a domain). Two domains are equal exactly when their
/// texts are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses every entry, or names every entry that is not a domain, with its position and
    /// what is wrong with it.
    pub fn parse_all<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<Domain>, Vec<InvalidDomain>> {
        let mut valid = Vec::with_capacity(inputs.len());
        let mut invalid = Vec::new();
        for (index, input) in inputs.iter().enumerate() {
            match input.as_ref().parse() {
                Ok(domain) => valid.push(domain),
                Err(problem) => invalid.push(InvalidDomain {
                    index,
                    value: input.as_ref().to_owned(),
                    problem,
                }),
            }
        }
        if invalid.is_empty() {
            Ok(valid)
        } else {
            Err(invalid)
        }
    }
}

impl FromStr for Domain {
    type Err = DomainError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.strip_suffix('.').unwrap_or(text);
        if name.is_empty() {
            return Err(DomainError::Empty);
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DomainError::BadCharacter);
        }
        if name.split('.').any(str::is_empty) {
            return Err(DomainError::EmptyLabel);
        }
        // UTS #46 maps (case, width, compatibility forms) and converts each label to
        // punycode; STD3 allows only letters, digits and hyphens in the result.
        let ascii = Uts46::new()
            .to_ascii(
                name.as_bytes(),
                AsciiDenyList::STD3,
                Hyphens::Check,
                DnsLength::Ignore,
            )
            .map_err(|_| DomainError::NotIdna)?;
        let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
        if ascii.len() > MAX_DOMAIN_LEN {
            return Err(DomainError::TooLong);
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.iter().any(|label| label.is_empty()) {
            return Err(DomainError::EmptyLabel);
        }
        if labels.iter().any(|label| label.len() > MAX_LABEL_LEN) {
            return Err(DomainError::LabelTooLong);
        }
        if labels.len() < 2 {
            return Err(DomainError::SingleLabel);
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(DomainError::NumericTopLabel);
        }
        Ok(Self(ascii.to_owned()))
    }
}

/// The canonical text: what is stored, queried by, and shown.
impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why text is not a domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// Nothing was given.
    #[error("it is empty")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("it has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    /// Spaces or control characters.
    #[error("it holds spaces or control characters")]
    BadCharacter,
    /// IDNA conversion refused it (a character not allowed in host names, a hyphen at a
    /// label's edge, an invalid punycode label).
    #[error(
        "it is not a valid host name (only letters, digits and hyphens, no hyphen at the \
         start or end of a label, and valid internationalised labels)"
    )]
    NotIdna,
    /// Longer than 253 characters in its ASCII form.
    #[error("it is longer than {MAX_DOMAIN_LEN} characters in its ASCII (IDNA) form")]
    TooLong,
    /// A label longer than 63 characters.
    #[error("a label is longer than {MAX_LABEL_LEN} characters in its ASCII (IDNA) form")]
    LabelTooLong,
    /// Only one label (`localhost`, `com`).
    #[error("it has a single label; give a domain such as example.com")]
    SingleLabel,
    /// The last label is all digits: an address, not a domain.
    #[error("its last label is all digits (an IP address is not a domain)")]
    NumericTopLabel,
}

/// An entry of a list that is not a domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDomain {
    /// Its position in the list, from 0.
    pub index: usize,
    pub value: String,
    pub problem: DomainError,
}

/// What a blocklist is asked about: an address (IP lists) or a domain (domain lists).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Ip(Address),
    Domain(Domain),
}

impl Target {
    /// Reads a target's canonical text back: an address if it is one, else a domain. The two
    /// never overlap (a domain's last label is never all digits, and an address has no
    /// letters in it, or has colons).
    pub fn parse(text: &str) -> Option<Self> {
        if let Ok(address) = text.parse::<Address>() {
            return Some(Self::Ip(address));
        }
        text.parse::<Domain>().ok().map(Self::Domain)
    }
}

impl From<Address> for Target {
    fn from(address: Address) -> Self {
        Self::Ip(address)
    }
}

impl From<Domain> for Target {
    fn from(domain: Domain) -> Self {
        Self::Domain(domain)
    }
}

/// The canonical text of the address or domain.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(address) => address.fmt(f),
            Self::Domain(domain) => domain.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> Result<String, DomainError> {
        text.parse::<Domain>().map(|d| d.to_string())
    }

    #[test]
    fn canonicalises_case_trailing_dot_and_unicode() {
        assert_eq!(canonical("Example.COM.").unwrap(), "example.com");
        assert_eq!(canonical("mail.example.org").unwrap(), "mail.example.org");
        assert_eq!(
            canonical("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            canonical("BÜCHER.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            canonical("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(canonical("dbltest.com").unwrap(), "dbltest.com");
    }

    #[test]
    fn names_what_is_wrong() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        let cases = [
            ("", DomainError::Empty),
            (".", DomainError::Empty),
            ("a..com", DomainError::EmptyLabel),
            (".example.com", DomainError::EmptyLabel),
            ("exa mple.com", DomainError::BadCharacter),
            ("ex_ample.com", DomainError::NotIdna),
            ("-example.com", DomainError::NotIdna),
            ("example-.com", DomainError::NotIdna),
            ("exa$mple.com", DomainError::NotIdna),
            (long_label.as_str(), DomainError::LabelTooLong),
            (long_name.as_str(), DomainError::TooLong),
            ("localhost", DomainError::SingleLabel),
            ("192.0.2.1", DomainError::NumericTopLabel),
            ("example.123", DomainError::NumericTopLabel),
        ];
        for (input, problem) in cases {
            assert_eq!(canonical(input), Err(problem), "{input:?}");
        }
    }

    #[test]
    fn lists_every_bad_entry_with_its_position() {
        let bad = Domain::parse_all(&["example.com", "nope", "a..b"]).unwrap_err();
        assert_eq!(
            bad,
            [
                InvalidDomain {
                    index: 1,
                    value: "nope".into(),
                    problem: DomainError::SingleLabel
                },
                InvalidDomain {
                    index: 2,
                    value: "a..b".into(),
                    problem: DomainError::EmptyLabel
                },
            ]
        );
    }

    #[test]
    fn targets_read_back_as_what_they_were() {
        for text in [
            "192.0.2.1",
            "2001:db8::1",
            "example.com",
            "xn--bcher-kva.example",
        ] {
            let target = Target::parse(text).unwrap();
            assert_eq!(target.to_string(), text);
        }
        assert!(matches!(Target::parse("192.0.2.1"), Some(Target::Ip(_))));
        assert!(matches!(
            Target::parse("example.com"),
            Some(Target::Domain(_))
        ));
        assert_eq!(Target::parse("not a target"), None);
        assert_eq!(Target::parse("192.0.2.999"), None);
    }
}
