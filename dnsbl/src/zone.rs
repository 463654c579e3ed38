//! The blocklist zone that query names end in, and the checks that keep it a valid DNS name.

use std::fmt;

use thiserror::Error;

/// The public Spamhaus ZEN zone (free use through the public mirrors).
pub const DEFAULT_ZONE: &str = "zen.spamhaus.org";

/// The ZEN zone of Spamhaus's Data Query Service; query names carry the account key before it.
pub const DQS_ZONE: &str = "zen.dq.spamhaus.net";

/// Longest zone suffix that still leaves room for an IPv6 query name.
///
/// A DNS name is at most 253 characters in text form (without the trailing dot). An IPv6
/// query name puts 32 one-character labels, each followed by a dot (64 characters), before
/// the zone, so a longer zone would make some lookups impossible; rejecting it up front turns
/// that into a configuration error instead of a failure on the first IPv6 address.
const MAX_SUFFIX_LEN: usize = 253 - 64;

/// Longest DNS label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// A DNS blocklist zone: the suffix that every query name ends in.
///
/// A DQS zone holds the account key, which is a secret: it travels inside every query name,
/// so [`Debug`](fmt::Debug) and [`Display`](fmt::Display) print a redacted form and no error
/// in this crate ever includes a query name.
#[derive(Clone, PartialEq, Eq)]
pub struct Zone {
    /// The labels after the reversed address, lower case, without leading or trailing dot.
    suffix: String,
    dqs: bool,
}

impl Zone {
    /// A zone queried as is, such as `zen.spamhaus.org` (a trailing dot is accepted).
    pub fn standard(name: &str) -> Result<Self, ZoneError> {
        let suffix = normalise(name).map_err(|problem| ZoneError::InvalidZoneName {
            name: name.to_owned(),
            problem,
        })?;
        Ok(Self { suffix, dqs: false })
    }

    /// The Spamhaus DQS ZEN zone for an account key: `<reversed>.<key>.zen.dq.spamhaus.net.`
    pub fn dqs(key: &str) -> Result<Self, ZoneError> {
        let key = key.trim();
        // The key must be exactly one label: a dot would silently query some other zone.
        let problem = if key.is_empty() {
            Some(NameProblem::Empty)
        } else if key.contains('.') {
            Some(NameProblem::NotSingleLabel)
        } else {
            check_label(key).err()
        };
        if let Some(problem) = problem {
            return Err(ZoneError::InvalidDqsKey { problem });
        }
        Ok(Self {
            suffix: format!("{}.{DQS_ZONE}", key.to_ascii_lowercase()),
            dqs: true,
        })
    }

    /// Whether this zone is the Spamhaus Data Query Service (and so holds a key).
    pub fn is_dqs(&self) -> bool {
        self.dqs
    }

    /// The labels that follow the reversed address in a query name. Holds the DQS key.
    pub(crate) fn suffix(&self) -> &str {
        &self.suffix
    }
}

impl Default for Zone {
    fn default() -> Self {
        Self {
            suffix: DEFAULT_ZONE.to_owned(),
            dqs: false,
        }
    }
}

/// Prints the zone without the DQS key: `zen.spamhaus.org` or `zen.dq.spamhaus.net (DQS)`.
impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dqs {
            write!(f, "{DQS_ZONE} (DQS)")
        } else {
            f.write_str(&self.suffix)
        }
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dqs {
            f.debug_struct("Zone")
                .field("dqs_key", &"<redacted>")
                .field("zone", &DQS_ZONE)
                .finish()
        } else {
            f.debug_tuple("Zone").field(&self.suffix).finish()
        }
    }
}

/// A zone name or DQS key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ZoneError {
    /// The zone name breaks the DNS name rules.
    #[error("invalid blocklist zone name {name:?}: {problem}")]
    InvalidZoneName {
        /// The name as given (zone names are not secret).
        name: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// The DQS key is not a single DNS label. The key itself is never shown.
    #[error("invalid DQS key (not shown): {problem}")]
    InvalidDqsKey {
        /// What is wrong with it.
        problem: NameProblem,
    },
}

/// What is wrong with a zone name or key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NameProblem {
    /// Nothing was given.
    #[error("it is empty")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("it has an empty label")]
    EmptyLabel,
    /// A label is longer than 63 characters.
    #[error("a label is longer than 63 characters")]
    LabelTooLong,
    /// A character other than a letter, digit or hyphen.
    #[error("only letters, digits and hyphens are allowed")]
    BadCharacter,
    /// A label starts or ends with a hyphen.
    #[error("a label starts or ends with a hyphen")]
    HyphenAtEdge,
    /// The name leaves no room for an IPv6 query name.
    #[error("it is longer than {MAX_SUFFIX_LEN} characters, too long for IPv6 query names")]
    TooLong,
    /// A DQS key must be one label.
    #[error("it must be a single label (no dots)")]
    NotSingleLabel,
}

/// Checks a zone name and returns it lower case, without surrounding dots or spaces.
fn normalise(name: &str) -> Result<String, NameProblem> {
    let name = name.trim();
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > MAX_SUFFIX_LEN {
        return Err(NameProblem::TooLong);
    }
    name.split('.').try_for_each(check_label)?;
    Ok(name.to_ascii_lowercase())
}

/// Host-name label rules (letters, digits, inner hyphens; RFC 1123 §2.1). Blocklist zones are
/// host names, and a stricter rule than the DNS allows keeps typos from becoming odd queries.
pub(crate) fn check_label(label: &str) -> Result<(), NameProblem> {
    if label.is_empty() {
        return Err(NameProblem::EmptyLabel);
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(NameProblem::LabelTooLong);
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(NameProblem::BadCharacter);
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(NameProblem::HyphenAtEdge);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz";

    #[test]
    fn default_is_public_zen() {
        assert_eq!(Zone::default().suffix(), "zen.spamhaus.org");
        assert!(!Zone::default().is_dqs());
    }

    #[test]
    fn standard_zone_is_normalised() {
        let zone = Zone::standard(" ZEN.Spamhaus.ORG. ").unwrap();
        assert_eq!(zone, Zone::default());
        assert_eq!(zone.to_string(), "zen.spamhaus.org");
        assert_eq!(format!("{zone:?}"), r#"Zone("zen.spamhaus.org")"#);
    }

    #[test]
    fn bad_zone_names_are_named_in_the_error() {
        let cases = [
            ("", NameProblem::Empty),
            (".", NameProblem::Empty),
            ("zen..spamhaus.org", NameProblem::EmptyLabel),
            (".zen.spamhaus.org", NameProblem::EmptyLabel),
            ("zen spamhaus.org", NameProblem::BadCharacter),
            ("zen_x.spamhaus.org", NameProblem::BadCharacter),
            ("zën.spamhaus.org", NameProblem::BadCharacter),
            ("-zen.spamhaus.org", NameProblem::HyphenAtEdge),
            ("zen-.spamhaus.org", NameProblem::HyphenAtEdge),
        ];
        for (name, problem) in cases {
            let err = Zone::standard(name).unwrap_err();
            assert_eq!(
                err,
                ZoneError::InvalidZoneName {
                    name: name.to_owned(),
                    problem
                },
                "{name:?}"
            );
        }
        let long_label = format!("{}.org", "a".repeat(64));
        assert_eq!(
            Zone::standard(&long_label).unwrap_err(),
            ZoneError::InvalidZoneName {
                name: long_label.clone(),
                problem: NameProblem::LabelTooLong
            }
        );
        let message = Zone::standard("zen..spamhaus.org").unwrap_err().to_string();
        assert_eq!(
            message,
            r#"invalid blocklist zone name "zen..spamhaus.org": it has an empty label"#
        );
    }

    #[test]
    fn zone_must_leave_room_for_ipv6_names() {
        let longest = ["a".repeat(63), "b".repeat(63), "c".repeat(61)].join(".");
        assert_eq!(longest.len(), MAX_SUFFIX_LEN);
        assert!(Zone::standard(&longest).is_ok());
        let too_long = format!("x{longest}");
        assert_eq!(
            Zone::standard(&too_long).unwrap_err(),
            ZoneError::InvalidZoneName {
                name: too_long.clone(),
                problem: NameProblem::TooLong
            }
        );
    }

    #[test]
    fn dqs_zone_holds_the_key_but_never_shows_it() {
        let zone = Zone::dqs(KEY).unwrap();
        assert!(zone.is_dqs());
        assert_eq!(zone.suffix(), format!("{KEY}.zen.dq.spamhaus.net"));
        let debug = format!("{zone:?}");
        let display = zone.to_string();
        assert!(!debug.contains(KEY), "{debug}");
        assert!(!display.contains(KEY), "{display}");
        assert_eq!(display, "zen.dq.spamhaus.net (DQS)");
    }

    #[test]
    fn bad_dqs_keys_are_rejected_without_echoing_them() {
        let cases = [
            ("", NameProblem::Empty),
            ("secret.key", NameProblem::NotSingleLabel),
            ("secret key", NameProblem::BadCharacter),
            ("secret-", NameProblem::HyphenAtEdge),
        ];
        for (key, problem) in cases {
            let err = Zone::dqs(key).unwrap_err();
            assert_eq!(err, ZoneError::InvalidDqsKey { problem });
            let shown = format!("{err} {err:?}");
            if !key.is_empty() {
                assert!(!shown.contains(key), "{shown}");
            }
        }
        let long = "k".repeat(64);
        let err = Zone::dqs(&long).unwrap_err();
        assert!(!err.to_string().contains(&long));
    }

    #[test]
    fn dqs_key_is_case_insensitive() {
        assert_eq!(
            Zone::dqs("ABCdef123").unwrap(),
            Zone::dqs("abcdef123").unwrap()
        );
    }
}
