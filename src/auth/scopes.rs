//! What a token may do: the scopes `read`, `lookup`, `monitor` and `admin`. A user holds the
//! scopes an administrator granted; a token carries some or all of its user's, in its `scope`
//! claim (space-separated, as OAuth 2 writes them), so the bearer check needs no store read to
//! know them.

use std::fmt;

/// One scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Queries: stored results, the queue, the catalogue, watchlists, events.
    Read,
    /// Queueing lookups.
    Lookup,
    /// Watchlists and webhooks: changing them, and reading webhooks.
    Monitor,
    /// Administering users over the API.
    Admin,
}

impl Scope {
    /// Every scope, in the order they are written.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Lookup, Scope::Monitor, Scope::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Lookup => "lookup",
            Scope::Monitor => "monitor",
            Scope::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of scopes. Written space-separated in a fixed order (`read lookup monitor admin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

/// Why a list of scopes was refused. The text names the entry and is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("unknown scope {0:?}: the scopes are read, lookup, monitor and admin")]
    Unknown(String),
    #[error("no scope given: name one or more of read, lookup, monitor and admin")]
    Empty,
    /// Asked for a scope the user was not granted.
    #[error("user {user:?} does not hold the scope \"{scope}\" (they hold: {held})")]
    NotHeld {
        user: String,
        scope: Scope,
        held: Scopes,
    },
}

impl Scopes {
    pub const NONE: Scopes = Scopes(0);

    /// What users hold unless an administrator says otherwise, and what a token issued before
    /// scopes existed (with no `scope` claim) may do: everything but `admin`.
    pub const DEFAULT: Scopes = Scopes(0b0111);

    pub fn all() -> Scopes {
        Scope::ALL.into_iter().collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .into_iter()
            .filter(move |scope| self.contains(*scope))
    }

    /// Parses names separated by any of `separators` (and surrounding white space); repeats
    /// are allowed. Refuses an unknown name, naming it, and an empty list.
    pub fn parse(text: &str, separators: &[char]) -> Result<Scopes, ScopeError> {
        let mut scopes = Scopes::NONE;
        for name in text.split(separators).map(str::trim) {
            if name.is_empty() {
                continue;
            }
            let scope =
                Scope::from_name(name).ok_or_else(|| ScopeError::Unknown(name.to_owned()))?;
            scopes.0 |= scope.bit();
        }
        if scopes.is_empty() {
            return Err(ScopeError::Empty);
        }
        Ok(scopes)
    }

    /// Scopes as stored and as a token carries them: known names kept, others dropped (a
    /// name this version does not know grants nothing).
    pub fn from_stored(text: &str) -> Scopes {
        text.split_whitespace()
            .filter_map(Scope::from_name)
            .collect()
    }

    /// The first scope of `self` that `held` lacks, if any.
    pub fn first_missing(self, held: Scopes) -> Option<Scope> {
        self.iter().find(|scope| !held.contains(*scope))
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }
}

impl fmt::Display for Scopes {
    /// Space-separated; `none` for the empty set, which nothing stores or issues.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for scope in self.iter() {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.name())?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_in_any_order_and_writes_them_in_one() {
        let scopes = Scopes::parse("monitor read read", &[' ']).unwrap();
        assert_eq!(scopes.to_string(), "read monitor");
        assert_eq!(
            Scopes::parse("lookup,read", &[',']).unwrap().to_string(),
            "read lookup"
        );
        assert_eq!(Scopes::DEFAULT.to_string(), "read lookup monitor");
        assert_eq!(Scopes::all().to_string(), "read lookup monitor admin");
        assert_eq!(
            Scopes::from_stored(&Scopes::all().to_string()),
            Scopes::all()
        );
    }

    #[test]
    fn refuses_unknown_names_and_empty_lists_naming_what_is_wrong() {
        let error = Scopes::parse("read writes", &[' ']).unwrap_err();
        assert_eq!(error, ScopeError::Unknown("writes".to_owned()));
        assert!(error.to_string().contains("\"writes\""), "{error}");
        // Names are exact: no case folding, no commas where spaces separate.
        assert!(Scopes::parse("Read", &[' ']).is_err());
        assert_eq!(
            Scopes::parse("read,lookup", &[' ']).unwrap_err(),
            ScopeError::Unknown("read,lookup".to_owned())
        );
        assert_eq!(Scopes::parse("  ", &[' ']).unwrap_err(), ScopeError::Empty);
    }

    #[test]
    fn stored_text_keeps_known_names_only() {
        assert_eq!(
            Scopes::from_stored("read future lookup"),
            [Scope::Read, Scope::Lookup].into_iter().collect()
        );
        assert!(Scopes::from_stored("").is_empty());
    }

    #[test]
    fn finds_the_first_scope_not_held() {
        let asked = Scopes::parse("read lookup admin", &[' ']).unwrap();
        assert_eq!(asked.first_missing(Scopes::DEFAULT), Some(Scope::Admin));
        assert_eq!(Scopes::DEFAULT.first_missing(Scopes::all()), None);
    }
}
