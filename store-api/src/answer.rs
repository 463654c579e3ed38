//! What the store holds as an address's answer.

use std::fmt;

use secworks_dnsbl::Outcome;

/// A stored blocklist answer: one secworks can read ([`Outcome`], stored as
/// [`Outcome::response_code`] text), or text stored by another system that it cannot, such as
/// a result imported from pysecworks that holds something else. Either way the text a client
/// sees is exactly the text stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoredAnswer {
    Blocklist(Outcome),
    Other(String),
}

impl StoredAnswer {
    /// Reads stored text. It is a [`StoredAnswer::Blocklist`] answer only when writing that
    /// answer gives back exactly this text, so that [`StoredAnswer::text`] never changes what
    /// was stored (A records out of order, say, stay [`StoredAnswer::Other`]).
    pub fn from_text(text: String) -> Self {
        match Outcome::parse_response_code(&text) {
            Some(outcome) if outcome.response_code() == text => Self::Blocklist(outcome),
            _ => Self::Other(text),
        }
    }

    /// The text to store and show.
    pub fn text(&self) -> String {
        match self {
            Self::Blocklist(outcome) => outcome.response_code(),
            Self::Other(text) => text.clone(),
        }
    }

    /// The blocklist answer, if the stored text is one.
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            Self::Blocklist(outcome) => Some(outcome),
            Self::Other(_) => None,
        }
    }
}

impl From<Outcome> for StoredAnswer {
    fn from(outcome: Outcome) -> Self {
        Self::Blocklist(outcome)
    }
}

impl fmt::Display for StoredAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blocklist(outcome) => f.write_str(&outcome.response_code()),
            Self::Other(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn blocklist_answers_read_back_and_other_text_is_kept() {
        let listed = Outcome::Listed(vec![
            Ipv4Addr::new(127, 0, 0, 2),
            Ipv4Addr::new(127, 0, 0, 10),
        ]);
        for answer in [
            StoredAnswer::from(listed),
            StoredAnswer::from(Outcome::NotListed),
        ] {
            assert_eq!(StoredAnswer::from_text(answer.text()), answer);
        }
        for other in [
            "Timeout",
            "",
            "127.0.0.10, 127.0.0.2",
            "127.0.0.2, 127.0.0.2",
        ] {
            let answer = StoredAnswer::from_text(other.to_owned());
            assert_eq!(answer, StoredAnswer::Other(other.to_owned()));
            assert_eq!(answer.text(), other);
            assert_eq!(answer.to_string(), other);
            assert_eq!(answer.outcome(), None);
        }
    }
}
