//! The blocklist catalogue: which lists exist, how to query them and how to read their
//! answers, as data. The built-in entries (`catalogue.toml`) and a user's
//! `SECWORKS_BLOCKLISTS_FILE` go through the same loader, so there is one format to learn.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::domain::Target;
use crate::query_name::query_name_as_given;
use crate::zone::{NameProblem, Zone, ZoneError, check_label};

/// The built-in catalogue, cited entry by entry in the file itself.
const BUILTIN: &str = include_str!("../catalogue.toml");

/// The name errors in the built-in catalogue are reported under.
const BUILTIN_NAME: &str = "built-in catalogue.toml";

/// What a zone holds where the account key goes (`{key}.zen.dq.spamhaus.net`).
pub const KEY_PLACEHOLDER: &str = "{key}";

/// The lists enabled when `SECWORKS_BLOCKLISTS` is not set: what the service always queried.
pub const DEFAULT_ENABLED: &str = "spamhaus-zen";

/// Longest DNS name in text form, without the trailing dot (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 253;

/// What a list is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListKind {
    /// IP addresses, queried reversed (RFC 5782 §2.1, §2.4).
    Ip,
    /// Domain names, queried as `<domain>.<zone>.` (RFC 5782 §2.2).
    Domain,
}

/// What an error answer says went wrong, so callers can react without knowing the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorAnswerKind {
    /// Too many queries: slow the whole queue down.
    RateLimited,
    /// The list refuses our resolver (public resolver, unregistered, over its limit).
    ResolverBlocked,
    /// The account key is disabled or not accepted.
    KeyRejected,
    /// The query itself was wrong (zone typo, an IP sent to a domain list).
    Misconfigured,
    /// Documented as an error, with no more specific meaning.
    Other,
}

/// One documented answer value and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meaning<T> {
    /// The return code (exact-code lists) or the bit value (bit-mask lists).
    pub value: T,
    /// Short, list-specific name (`SBL`, `PH`, `black`).
    pub name: String,
    /// What it means.
    pub meaning: String,
}

/// One documented error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMeaning<T> {
    /// The return code or bit value.
    pub value: T,
    /// What kind of failure it is.
    pub kind: ErrorAnswerKind,
    /// Short name.
    pub name: String,
    /// What it means.
    pub meaning: String,
}

/// How a list's A records are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoding {
    /// Each A record is one exact return code (Spamhaus, SpamCop, …).
    Codes {
        /// The codes that are listings.
        listings: Vec<Meaning<Ipv4Addr>>,
        /// The codes that are errors.
        errors: Vec<ErrorMeaning<Ipv4Addr>>,
    },
    /// The last octet is a bit mask of sub-lists (SURBL, URIBL).
    Bits {
        /// The bits that are listings.
        bits: Vec<Meaning<u8>>,
        /// The bits that are errors.
        errors: Vec<ErrorMeaning<u8>>,
    },
}

/// What a test point is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestTarget {
    /// An address (IP lists).
    Ip(IpAddr),
    /// A domain name, lower case, without trailing dot (domain lists).
    Domain(String),
}

/// An RFC 5782 §5 check: a list that gets its own test points wrong is not answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPoint {
    /// What to query.
    pub query: TestTarget,
    /// Whether the list must say it is listed.
    pub listed: bool,
}

/// One blocklist of the catalogue. Holds no key: keys are passed in when querying, so no
/// entry can print one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocklist {
    /// Stable id (`spamhaus-zen`), as used in `SECWORKS_BLOCKLISTS`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The zone queried; holds [`KEY_PLACEHOLDER`] when the list needs a key.
    pub zone: String,
    /// The zone used instead when a key is configured (Spamhaus DQS).
    pub keyed_zone: Option<String>,
    /// IP or domain list.
    pub kind: ListKind,
    /// Whether it answers for IPv4 addresses.
    pub ipv4: bool,
    /// Whether it answers for IPv6 addresses.
    pub ipv6: bool,
    /// How its answers are read.
    pub decoding: Decoding,
    /// Its health checks; never empty.
    pub test_points: Vec<TestPoint>,
    /// Whether it publishes TXT records with the reason for a listing.
    pub txt_reasons: bool,
    /// Where a listing can be looked up or delisted.
    pub lookup_url: Option<String>,
    /// The operator's website.
    pub website: Option<String>,
    /// Free-use limit in queries a day, where the operator documents one.
    pub free_queries_per_day: Option<u64>,
}

impl Blocklist {
    /// The list cannot be queried without an account key.
    pub fn needs_key(&self) -> bool {
        self.zone.contains(KEY_PLACEHOLDER)
    }

    /// The fully qualified query name for an address. Holds the key: never log it.
    pub fn ip_query_name(&self, ip: IpAddr, key: Option<&ListKey>) -> Result<String, QueryError> {
        if self.kind != ListKind::Ip {
            return Err(self.wrong_kind(ListKind::Ip));
        }
        let supported = match ip.to_canonical() {
            IpAddr::V4(_) => self.ipv4,
            IpAddr::V6(_) => self.ipv6,
        };
        if !supported {
            return Err(QueryError::FamilyNotSupported {
                list: self.id.clone(),
                ip,
            });
        }
        let suffix = self.suffix(key)?;
        let zone = Zone::standard(&suffix).map_err(|_| QueryError::InvalidZone {
            list: self.id.clone(),
        })?;
        Ok(crate::query_name(ip, &zone))
    }

    /// The query name for one of this list's test points. An IPv4-mapped IPv6 test point
    /// (`::ffff:7f00:2`) is asked in its IPv6 form, as RFC 5782 §5 means it, not as the
    /// IPv4 address [`Blocklist::ip_query_name`] would map it to.
    pub fn test_point_query_name(
        &self,
        point: &TestPoint,
        key: Option<&ListKey>,
    ) -> Result<String, QueryError> {
        match &point.query {
            TestTarget::Domain(domain) => self.domain_query_name(domain, key),
            TestTarget::Ip(ip @ IpAddr::V6(_)) if self.kind == ListKind::Ip && self.ipv6 => {
                let suffix = self.suffix(key)?;
                let zone = Zone::standard(&suffix).map_err(|_| QueryError::InvalidZone {
                    list: self.id.clone(),
                })?;
                Ok(query_name_as_given(*ip, &zone))
            }
            TestTarget::Ip(ip) => self.ip_query_name(*ip, key),
        }
    }

    /// The fully qualified query name for a domain: `<domain>.<zone>.`. Holds the key: never
    /// log it.
    pub fn domain_query_name(
        &self,
        domain: &str,
        key: Option<&ListKey>,
    ) -> Result<String, QueryError> {
        if self.kind != ListKind::Domain {
            return Err(self.wrong_kind(ListKind::Domain));
        }
        let domain = normalise_domain(domain).map_err(|problem| QueryError::InvalidDomain {
            domain: domain.to_owned(),
            problem,
        })?;
        let suffix = self.suffix(key)?;
        let name = format!("{domain}.{suffix}");
        if name.len() > MAX_NAME_LEN {
            return Err(QueryError::TooLong {
                list: self.id.clone(),
            });
        }
        Ok(name + ".")
    }

    /// The fully qualified query name for what the list is asked about. Holds the key: never
    /// log it.
    pub fn target_query_name(
        &self,
        target: &Target,
        key: Option<&ListKey>,
    ) -> Result<String, QueryError> {
        match target {
            Target::Ip(address) => self.ip_query_name(address.ip(), key),
            Target::Domain(domain) => self.domain_query_name(domain.as_str(), key),
        }
    }

    /// The zone with the key put in. A key given to a list that takes none is not used.
    pub(crate) fn suffix(&self, key: Option<&ListKey>) -> Result<String, QueryError> {
        let template = match (key, &self.keyed_zone) {
            (Some(_), Some(keyed)) => keyed,
            _ => &self.zone,
        };
        if !template.contains(KEY_PLACEHOLDER) {
            return Ok(template.clone());
        }
        match key {
            Some(key) => Ok(template.replace(KEY_PLACEHOLDER, &key.0)),
            None => Err(QueryError::KeyRequired {
                list: self.id.clone(),
            }),
        }
    }

    fn wrong_kind(&self, wanted: ListKind) -> QueryError {
        QueryError::WrongKind {
            list: self.id.clone(),
            kind: self.kind,
            wanted,
        }
    }
}

/// An account key (Spamhaus DQS). A secret: it travels in every query name, so it prints
/// as `<key>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ListKey(String);

impl ListKey {
    /// A key must be one DNS label; a dot would silently query another zone.
    pub fn new(key: &str) -> Result<Self, NameProblem> {
        let key = key.trim();
        if key.is_empty() {
            return Err(NameProblem::Empty);
        }
        if key.contains('.') {
            return Err(NameProblem::NotSingleLabel);
        }
        check_label(key)?;
        Ok(Self(key.to_ascii_lowercase()))
    }

    /// A query name with the key's label shown as `<key>`: what may be logged or stored.
    pub(crate) fn redact_name(&self, name: &str) -> String {
        name.split('.')
            .map(|label| {
                if label.eq_ignore_ascii_case(&self.0) {
                    "<key>"
                } else {
                    label
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Text a server sent (a TXT reason) with the key shown as `<key>` wherever it appears,
    /// in any case: a server may echo the query name.
    pub(crate) fn redact_text(&self, text: &str) -> String {
        let lower = text.to_ascii_lowercase();
        let mut shown = String::with_capacity(text.len());
        let mut rest = 0;
        // ASCII lower-casing keeps byte offsets, so positions in `lower` are positions in `text`.
        for (at, _) in lower.match_indices(&self.0) {
            if at >= rest {
                shown.push_str(&text[rest..at]);
                shown.push_str("<key>");
                rest = at + self.0.len();
            }
        }
        shown.push_str(&text[rest..]);
        shown
    }
}

impl fmt::Debug for ListKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<key>")
    }
}

impl fmt::Display for ListKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<key>")
    }
}

/// Why no query name could be built. Never holds the key or a keyed name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueryError {
    /// An address for a domain list or the other way round.
    #[error("blocklist {list} is a {kind:?} list, not a {wanted:?} list")]
    WrongKind {
        /// The list id.
        list: String,
        /// What the list is.
        kind: ListKind,
        /// What the query needed.
        wanted: ListKind,
    },
    /// The list does not answer for this address family.
    #[error("blocklist {list} does not answer for {ip}'s address family")]
    FamilyNotSupported {
        /// The list id.
        list: String,
        /// The address.
        ip: IpAddr,
    },
    /// The zone needs a key and none was configured.
    #[error("blocklist {list} needs an account key and none is configured")]
    KeyRequired {
        /// The list id.
        list: String,
    },
    /// The zone with the key put in is not a valid name (not shown: it holds the key).
    #[error("blocklist {list}: the zone with the key is not a valid DNS name")]
    InvalidZone {
        /// The list id.
        list: String,
    },
    /// The domain is not a valid host name.
    #[error("invalid domain {domain:?}: {problem}")]
    InvalidDomain {
        /// The domain as given.
        domain: String,
        /// What is wrong with it.
        problem: NameProblem,
    },
    /// The query name would be longer than DNS allows.
    #[error("the query name for blocklist {list} would be longer than {MAX_NAME_LEN} characters")]
    TooLong {
        /// The list id.
        list: String,
    },
}

/// A domain checked as a host name, lower case, without surrounding dots or spaces.
fn normalise_domain(domain: &str) -> Result<String, NameProblem> {
    let domain = domain.trim();
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return Err(NameProblem::Empty);
    }
    domain.split('.').try_for_each(check_label)?;
    Ok(domain.to_ascii_lowercase())
}

/// A catalogue that cannot be loaded, or a selection that names an unknown list.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// The file could not be read.
    #[error("cannot read blocklist file {file}: {kind}")]
    Read {
        /// The path.
        file: String,
        /// What the operating system reported.
        kind: io::ErrorKind,
    },
    /// The file is not a valid catalogue.
    #[error("{file}, line {line}, field `{field}`: {problem}")]
    Invalid {
        /// The path (or the built-in catalogue's name).
        file: String,
        /// 1-based line of the offending value.
        line: usize,
        /// The field it belongs to.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// `SECWORKS_BLOCKLISTS` names a list the catalogue does not have.
    #[error("unknown blocklist {id:?}; known blocklists: {}", known.join(", "))]
    UnknownId {
        /// The id as given.
        id: String,
        /// Every id the catalogue has, in catalogue order.
        known: Vec<String>,
    },
    /// The selection names no list at all.
    #[error("no blocklist selected")]
    NoneSelected,
}

/// The lists that can be queried, in catalogue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    lists: Vec<Blocklist>,
}

impl Catalogue {
    /// The built-in lists.
    pub fn builtin() -> Result<Self, CatalogueError> {
        Self::from_toml(BUILTIN_NAME, BUILTIN)
    }

    /// The built-in lists, with the file's entries added or replacing built-in ones by id.
    pub fn with_file(path: &Path) -> Result<Self, CatalogueError> {
        let mut catalogue = Self::builtin()?;
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| CatalogueError::Read {
            file: file.clone(),
            kind: error.kind(),
        })?;
        catalogue.merge(Self::from_toml(&file, &text)?);
        Ok(catalogue)
    }

    /// Reads catalogue text; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, CatalogueError> {
        let raw: RawFile = toml::from_str(text).map_err(|error| {
            let start = error.span().map_or(0, |span| span.start);
            CatalogueError::Invalid {
                file: file.to_owned(),
                line: line_of(text, start),
                field: field_of(error.message(), text, start),
                problem: error.message().trim().to_owned(),
            }
        })?;
        let invalid = |at: usize, field: &str, problem: String| CatalogueError::Invalid {
            file: file.to_owned(),
            line: line_of(text, at),
            field: field.to_owned(),
            problem,
        };
        let mut lists: Vec<Blocklist> = Vec::with_capacity(raw.list.len());
        for entry in raw.list {
            let id_at = entry.id.span().start;
            if lists.iter().any(|list| list.id == *entry.id.get_ref()) {
                return Err(invalid(
                    id_at,
                    "id",
                    format!("id {:?} appears twice", entry.id.get_ref()),
                ));
            }
            lists.push(
                entry
                    .validate()
                    .map_err(|(at, field, problem)| invalid(at.unwrap_or(id_at), field, problem))?,
            );
        }
        Ok(Self { lists })
    }

    /// Adds `other`'s lists, replacing ours with the same id in place.
    fn merge(&mut self, other: Self) {
        for list in other.lists {
            match self.lists.iter_mut().find(|ours| ours.id == list.id) {
                Some(ours) => *ours = list,
                None => self.lists.push(list),
            }
        }
    }

    /// Every list, in catalogue order.
    pub fn lists(&self) -> &[Blocklist] {
        &self.lists
    }

    /// The list with this id.
    pub fn get(&self, id: &str) -> Option<&Blocklist> {
        self.lists.iter().find(|list| list.id == id)
    }

    /// The lists named by a comma-separated id list such as `spamhaus-zen,spamcop`, in the
    /// order given, each once.
    pub fn select(&self, ids: &str) -> Result<Vec<&Blocklist>, CatalogueError> {
        let mut selected: Vec<&Blocklist> = Vec::new();
        for id in ids.split(',').map(str::trim).filter(|id| !id.is_empty()) {
            let list = self.get(id).ok_or_else(|| CatalogueError::UnknownId {
                id: id.to_owned(),
                known: self.lists.iter().map(|list| list.id.clone()).collect(),
            })?;
            if !selected.iter().any(|chosen| chosen.id == list.id) {
                selected.push(list);
            }
        }
        if selected.is_empty() {
            return Err(CatalogueError::NoneSelected);
        }
        Ok(selected)
    }

    /// The lists enabled by default ([`DEFAULT_ENABLED`]).
    pub fn default_selection(&self) -> Result<Vec<&Blocklist>, CatalogueError> {
        self.select(DEFAULT_ENABLED)
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The field a parse error is about: the one a "missing field" message names, else the key
/// written just before the offending value.
fn field_of(message: &str, text: &str, offset: usize) -> String {
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.split(prefix).nth(1)
            && let Some(field) = rest.split('`').next()
        {
            return field.to_owned();
        }
    }
    let end = offset.min(text.len());
    let line_start = text[..end].rfind('\n').map_or(0, |at| at + 1);
    let before = text[line_start..end].trim_end();
    let before = before.strip_suffix('=').unwrap_or(before).trim_end();
    let key: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if key.is_empty() {
        "list".to_owned()
    } else {
        key
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    list: Vec<RawList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    id: Spanned<String>,
    name: String,
    zone: Spanned<String>,
    keyed_zone: Option<Spanned<String>>,
    kind: ListKind,
    #[serde(default)]
    ipv4: bool,
    #[serde(default)]
    ipv6: bool,
    #[serde(default)]
    txt_reasons: bool,
    lookup_url: Option<String>,
    website: Option<String>,
    free_queries_per_day: Option<u64>,
    #[serde(default)]
    listings: Vec<RawCode>,
    #[serde(default)]
    errors: Vec<RawErrorCode>,
    bits: Option<Spanned<Vec<RawBit>>>,
    #[serde(default)]
    error_bits: Vec<RawErrorBit>,
    #[serde(default)]
    test_points: Vec<RawTestPoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCode {
    code: Spanned<Ipv4Addr>,
    name: String,
    meaning: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawErrorCode {
    code: Spanned<Ipv4Addr>,
    kind: ErrorAnswerKind,
    name: String,
    meaning: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBit {
    bit: Spanned<u8>,
    name: String,
    meaning: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawErrorBit {
    bit: Spanned<u8>,
    kind: ErrorAnswerKind,
    name: String,
    meaning: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTestPoint {
    query: Spanned<String>,
    listed: bool,
}

/// Where (byte offset, `None` for the entry's id), which field, and what is wrong.
type Problem = (Option<usize>, &'static str, String);

impl RawList {
    /// Checks what TOML types cannot say.
    fn validate(self) -> Result<Blocklist, Problem> {
        let id = self.id.get_ref();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err((
                Some(self.id.span().start),
                "id",
                format!("id {id:?} must be lower-case letters, digits and hyphens"),
            ));
        }
        let zone = check_zone(&self.zone, "zone")?;
        let keyed_zone = match &self.keyed_zone {
            Some(keyed) => {
                let checked = check_zone(keyed, "keyed_zone")?;
                if !checked.contains(KEY_PLACEHOLDER) {
                    return Err((
                        Some(keyed.span().start),
                        "keyed_zone",
                        format!("a keyed zone must hold the {KEY_PLACEHOLDER} placeholder"),
                    ));
                }
                Some(checked)
            }
            None => None,
        };
        if self.kind == ListKind::Ip && !self.ipv4 && !self.ipv6 {
            return Err((
                None,
                "ipv4",
                "an IP list must take IPv4, IPv6 or both".into(),
            ));
        }
        let decoding = self.decoding()?;
        if self.test_points.is_empty() {
            return Err((
                None,
                "test_points",
                "at least one test point is needed".into(),
            ));
        }
        let test_points = self
            .test_points
            .iter()
            .map(|point| check_test_point(point, self.kind))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Blocklist {
            id: id.clone(),
            name: self.name,
            zone,
            keyed_zone,
            kind: self.kind,
            ipv4: self.ipv4,
            ipv6: self.ipv6,
            decoding,
            test_points,
            txt_reasons: self.txt_reasons,
            lookup_url: self.lookup_url,
            website: self.website,
            free_queries_per_day: self.free_queries_per_day,
        })
    }

    fn decoding(&self) -> Result<Decoding, Problem> {
        match &self.bits {
            None => {
                if self.listings.is_empty() {
                    return Err((None, "listings", "give `listings` or `bits`".into()));
                }
                if let Some(bit) = self.error_bits.first() {
                    return Err((
                        Some(bit.bit.span().start),
                        "error_bits",
                        "`error_bits` only go with `bits`".into(),
                    ));
                }
                let mut seen: Vec<Ipv4Addr> = Vec::new();
                let codes = self
                    .listings
                    .iter()
                    .map(|c| &c.code)
                    .chain(self.errors.iter().map(|e| &e.code));
                for code in codes {
                    let value = *code.get_ref();
                    if !value.is_loopback() {
                        return Err((
                            Some(code.span().start),
                            "code",
                            format!("{value} is outside 127.0.0.0/8"),
                        ));
                    }
                    if seen.contains(&value) {
                        return Err((
                            Some(code.span().start),
                            "code",
                            format!("{value} is documented twice"),
                        ));
                    }
                    seen.push(value);
                }
                Ok(Decoding::Codes {
                    listings: self
                        .listings
                        .iter()
                        .map(|c| Meaning {
                            value: *c.code.get_ref(),
                            name: c.name.clone(),
                            meaning: c.meaning.clone(),
                        })
                        .collect(),
                    errors: self
                        .errors
                        .iter()
                        .map(|e| ErrorMeaning {
                            value: *e.code.get_ref(),
                            kind: e.kind,
                            name: e.name.clone(),
                            meaning: e.meaning.clone(),
                        })
                        .collect(),
                })
            }
            Some(bits) => {
                if let Some(code) = self.listings.first() {
                    return Err((
                        Some(code.code.span().start),
                        "listings",
                        "give `listings` or `bits`, not both".into(),
                    ));
                }
                if let Some(code) = self.errors.first() {
                    return Err((
                        Some(code.code.span().start),
                        "errors",
                        "a bit-mask list gives its errors as `error_bits`".into(),
                    ));
                }
                if bits.get_ref().is_empty() {
                    return Err((
                        Some(bits.span().start),
                        "bits",
                        "no bit is documented".into(),
                    ));
                }
                let mut seen = 0u8;
                let values = bits
                    .get_ref()
                    .iter()
                    .map(|b| &b.bit)
                    .chain(self.error_bits.iter().map(|b| &b.bit));
                for bit in values {
                    let value = *bit.get_ref();
                    if !value.is_power_of_two() {
                        return Err((
                            Some(bit.span().start),
                            "bit",
                            format!("{value} is not a power of two"),
                        ));
                    }
                    if seen & value != 0 {
                        return Err((
                            Some(bit.span().start),
                            "bit",
                            format!("bit {value} is documented twice"),
                        ));
                    }
                    seen |= value;
                }
                Ok(Decoding::Bits {
                    bits: bits
                        .get_ref()
                        .iter()
                        .map(|b| Meaning {
                            value: *b.bit.get_ref(),
                            name: b.name.clone(),
                            meaning: b.meaning.clone(),
                        })
                        .collect(),
                    errors: self
                        .error_bits
                        .iter()
                        .map(|b| ErrorMeaning {
                            value: *b.bit.get_ref(),
                            kind: b.kind,
                            name: b.name.clone(),
                            meaning: b.meaning.clone(),
                        })
                        .collect(),
                })
            }
        }
    }
}

/// A zone must be a host name, with `{key}` (if any) once and as a whole label.
fn check_zone(zone: &Spanned<String>, field: &'static str) -> Result<String, Problem> {
    let at = Some(zone.span().start);
    let text = zone.get_ref();
    let placeholders = text.matches(KEY_PLACEHOLDER).count();
    if placeholders > 1 || (placeholders == 1 && !text.split('.').any(|l| l == KEY_PLACEHOLDER)) {
        return Err((
            at,
            field,
            format!("{KEY_PLACEHOLDER} must appear at most once, as a whole label"),
        ));
    }
    // Check the name with a stand-in key of the longest length a label allows.
    let stand_in = text.replace(KEY_PLACEHOLDER, &"k".repeat(63));
    Zone::standard(&stand_in).map_err(|error| {
        let problem = match error {
            ZoneError::InvalidZoneName { problem, .. } | ZoneError::InvalidDqsKey { problem } => {
                problem
            }
        };
        (
            at,
            field,
            format!("{text:?} is not a valid DNS zone name: {problem}"),
        )
    })?;
    let trimmed = text.trim();
    Ok(trimmed
        .strip_suffix('.')
        .unwrap_or(trimmed)
        .to_ascii_lowercase())
}

fn check_test_point(point: &RawTestPoint, kind: ListKind) -> Result<TestPoint, Problem> {
    let at = Some(point.query.span().start);
    let text = point.query.get_ref();
    let query = match kind {
        ListKind::Ip => TestTarget::Ip(
            text.parse()
                .map_err(|_| (at, "query", format!("{text:?} is not an IP address")))?,
        ),
        ListKind::Domain => TestTarget::Domain(normalise_domain(text).map_err(|problem| {
            (
                at,
                "query",
                format!("{text:?} is not a domain name: {problem}"),
            )
        })?),
    };
    Ok(TestPoint {
        query,
        listed: point.listed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz";

    fn builtin() -> Catalogue {
        Catalogue::builtin().unwrap()
    }

    /// A minimal valid entry, with `extra` lines appended to it.
    fn entry(id: &str, extra: &str) -> String {
        format!(
            "[[list]]\nid = \"{id}\"\nname = \"Test\"\nzone = \"bl.example.net\"\nkind = \"ip\"\n\
             ipv4 = true\nlistings = [{{ code = \"127.0.0.2\", name = \"L\", meaning = \"listed\" }}]\n\
             test_points = [{{ query = \"127.0.0.2\", listed = true }}]\n{extra}"
        )
    }

    fn invalid(file: &str, line: usize, field: &str, problem: &str) -> CatalogueError {
        CatalogueError::Invalid {
            file: file.into(),
            line,
            field: field.into(),
            problem: problem.into(),
        }
    }

    #[test]
    fn builtin_has_exactly_the_documented_ids() {
        let catalogue = builtin();
        let ids: Vec<&str> = catalogue.lists().iter().map(|l| l.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "spamhaus-zen",
                "spamhaus-dbl",
                "spamhaus-zrd",
                "spamhaus-authbl",
                "spamcop",
                "barracuda",
                "mailspike",
                "psbl",
                "uceprotect-1",
                "surbl",
                "uribl"
            ]
        );
    }

    #[test]
    fn ip_lists_carry_rfc5782_test_points() {
        for list in builtin().lists().iter().filter(|l| l.kind == ListKind::Ip) {
            let mut expected = vec![
                TestPoint {
                    query: TestTarget::Ip("127.0.0.2".parse().unwrap()),
                    listed: true,
                },
                TestPoint {
                    query: TestTarget::Ip("127.0.0.1".parse().unwrap()),
                    listed: false,
                },
            ];
            if list.ipv6 {
                expected.push(TestPoint {
                    query: TestTarget::Ip("::ffff:7f00:2".parse().unwrap()),
                    listed: true,
                });
                expected.push(TestPoint {
                    query: TestTarget::Ip("::ffff:7f00:1".parse().unwrap()),
                    listed: false,
                });
            }
            assert_eq!(list.test_points, expected, "{}", list.id);
        }
        let dbl = builtin().get("spamhaus-dbl").unwrap().clone();
        assert_eq!(
            dbl.test_points,
            [
                TestPoint {
                    query: TestTarget::Domain("dbltest.com".into()),
                    listed: true
                },
                TestPoint {
                    query: TestTarget::Domain("example.com".into()),
                    listed: false
                },
            ]
        );
    }

    #[test]
    fn only_dqs_only_lists_need_a_key() {
        let needing: Vec<String> = builtin()
            .lists()
            .iter()
            .filter(|l| l.needs_key())
            .map(|l| l.id.clone())
            .collect();
        assert_eq!(needing, ["spamhaus-zrd", "spamhaus-authbl"]);
    }

    #[test]
    fn default_selection_is_zen_only() {
        let catalogue = builtin();
        let ids: Vec<&str> = catalogue
            .default_selection()
            .unwrap()
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(ids, ["spamhaus-zen"]);
    }

    #[test]
    fn selection_keeps_order_and_drops_repeats() {
        let catalogue = builtin();
        let ids: Vec<&str> = catalogue
            .select(" spamcop, spamhaus-zen ,spamcop,")
            .unwrap()
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(ids, ["spamcop", "spamhaus-zen"]);
        assert_eq!(catalogue.select(" , "), Err(CatalogueError::NoneSelected));
    }

    #[test]
    fn unknown_id_is_named_with_the_known_ones() {
        let catalogue = builtin();
        let err = catalogue.select("spamhaus-zen,sorbs").unwrap_err();
        let known: Vec<String> = catalogue.lists().iter().map(|l| l.id.clone()).collect();
        assert_eq!(
            err,
            CatalogueError::UnknownId {
                id: "sorbs".into(),
                known: known.clone()
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "unknown blocklist \"sorbs\"; known blocklists: {}",
                known.join(", ")
            )
        );
    }

    #[test]
    fn parse_errors_name_file_line_and_field() {
        let text = "[[list]]\nid = \"x\"\nname = \"X\"\nzone = 3\nkind = \"ip\"\n";
        let err = Catalogue::from_toml("lists.toml", text).unwrap_err();
        assert_eq!(
            err,
            invalid(
                "lists.toml",
                4,
                "zone",
                "invalid type: integer `3`, expected a string"
            )
        );
        assert_eq!(
            err.to_string(),
            "lists.toml, line 4, field `zone`: invalid type: integer `3`, expected a string"
        );

        let err = Catalogue::from_toml("lists.toml", &entry("x", "colour = 1\n")).unwrap_err();
        match err {
            CatalogueError::Invalid { line, field, .. } => {
                assert_eq!((line, field.as_str()), (9, "colour"));
            }
            other => panic!("{other:?}"),
        }

        let text = "[[list]]\nid = \"x\"\nname = \"X\"\nkind = \"ip\"\n";
        let err = Catalogue::from_toml("lists.toml", text).unwrap_err();
        assert_eq!(
            err,
            invalid("lists.toml", 1, "zone", "missing field `zone`")
        );
    }

    #[test]
    fn validation_errors_name_line_and_field() {
        let file = "f.toml";
        let cases = [
            (
                entry("Bad_Id", ""),
                2,
                "id",
                "id \"Bad_Id\" must be lower-case letters, digits and hyphens",
            ),
            (
                entry("x", "").replace("bl.example.net", "bl..example.net"),
                4,
                "zone",
                "\"bl..example.net\" is not a valid DNS zone name: it has an empty label",
            ),
            (
                entry("x", "").replace("127.0.0.2\", name", "10.0.0.2\", name"),
                7,
                "code",
                "10.0.0.2 is outside 127.0.0.0/8",
            ),
            (
                entry("x", "").replace(
                    "test_points = [{ query = \"127.0.0.2\", listed = true }]",
                    "",
                ),
                2,
                "test_points",
                "at least one test point is needed",
            ),
            (
                entry("x", "keyed_zone = \"dq.example.net\"\n"),
                9,
                "keyed_zone",
                "a keyed zone must hold the {key} placeholder",
            ),
            (
                entry("x", "").replace("bl.example.net", "x{key}.example.net"),
                4,
                "zone",
                "{key} must appear at most once, as a whole label",
            ),
            (
                entry("x", "").replace("127.0.0.2\", listed", "example.com\", listed"),
                8,
                "query",
                "\"example.com\" is not an IP address",
            ),
            (
                format!("{}{}", entry("x", ""), entry("x", "")),
                10,
                "id",
                "id \"x\" appears twice",
            ),
        ];
        for (text, line, field, problem) in cases {
            assert_eq!(
                Catalogue::from_toml(file, &text),
                Err(invalid(file, line, field, problem)),
                "{text}"
            );
        }
    }

    #[test]
    fn bit_values_must_be_powers_of_two() {
        let text = "[[list]]\nid = \"b\"\nname = \"B\"\nzone = \"multi.example.org\"\nkind = \"domain\"\n\
                    bits = [\n  { bit = 2, name = \"a\", meaning = \"a\" },\n  { bit = 6, name = \"b\", meaning = \"b\" },\n]\n\
                    test_points = [{ query = \"test.example.org\", listed = true }]\n";
        assert_eq!(
            Catalogue::from_toml("f.toml", text),
            Err(invalid("f.toml", 8, "bit", "6 is not a power of two"))
        );
    }

    #[test]
    fn a_file_overrides_builtin_entries_by_id_and_adds_new_ones() {
        let dir = std::env::temp_dir().join(format!("secworks-catalogue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lists.toml");
        let text = format!(
            "{}{}",
            entry("spamcop", "").replace("bl.example.net", "bl.mirror.example.net"),
            entry("local-list", "")
        );
        std::fs::write(&path, text).unwrap();
        let catalogue = Catalogue::with_file(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        let builtin = builtin();
        assert_eq!(catalogue.lists().len(), builtin.lists().len() + 1);
        let spamcop = catalogue.get("spamcop").unwrap();
        assert_eq!(spamcop.zone, "bl.mirror.example.net");
        assert_eq!(spamcop.name, "Test");
        // Replaced in place: the order of the built-in lists does not change.
        assert_eq!(catalogue.lists()[4].id, "spamcop");
        assert_eq!(catalogue.lists().last().unwrap().id, "local-list");
        assert_eq!(catalogue.get("psbl"), builtin.get("psbl"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = Catalogue::with_file(Path::new("/nonexistent/secworks-lists.toml")).unwrap_err();
        assert_eq!(
            err,
            CatalogueError::Read {
                file: "/nonexistent/secworks-lists.toml".into(),
                kind: io::ErrorKind::NotFound
            }
        );
    }

    #[test]
    fn ip_query_names_reverse_the_address() {
        let catalogue = builtin();
        let zen = catalogue.get("spamhaus-zen").unwrap();
        assert_eq!(
            zen.ip_query_name("192.0.2.99".parse().unwrap(), None),
            Ok("99.2.0.192.zen.spamhaus.org.".into())
        );
        let key = ListKey::new(KEY).unwrap();
        assert_eq!(
            zen.ip_query_name("192.0.2.99".parse().unwrap(), Some(&key)),
            Ok(format!("99.2.0.192.{KEY}.zen.dq.spamhaus.net."))
        );
        let spamcop = catalogue.get("spamcop").unwrap();
        assert_eq!(
            spamcop.ip_query_name("2001:db8::1".parse().unwrap(), None),
            Err(QueryError::FamilyNotSupported {
                list: "spamcop".into(),
                ip: "2001:db8::1".parse().unwrap()
            })
        );
        assert_eq!(
            spamcop.ip_query_name("192.0.2.1".parse().unwrap(), Some(&key)),
            Ok("1.2.0.192.bl.spamcop.net.".into()),
            "a list without a keyed zone ignores the key"
        );
    }

    #[test]
    fn domain_query_names_put_the_key_in() {
        let catalogue = builtin();
        let dbl = catalogue.get("spamhaus-dbl").unwrap();
        assert_eq!(
            dbl.domain_query_name("DBLtest.com.", None),
            Ok("dbltest.com.dbl.spamhaus.org.".into())
        );
        let key = ListKey::new(KEY).unwrap();
        assert_eq!(
            dbl.domain_query_name("dbltest.com", Some(&key)),
            Ok(format!("dbltest.com.{KEY}.dbl.dq.spamhaus.net."))
        );
        let zrd = catalogue.get("spamhaus-zrd").unwrap();
        assert_eq!(
            zrd.domain_query_name("example.com", None),
            Err(QueryError::KeyRequired {
                list: "spamhaus-zrd".into()
            })
        );
        assert_eq!(
            zrd.domain_query_name("example.com", Some(&key)),
            Ok(format!("example.com.{KEY}.zrd.dq.spamhaus.net."))
        );
        assert_eq!(
            dbl.ip_query_name("192.0.2.1".parse().unwrap(), None),
            Err(QueryError::WrongKind {
                list: "spamhaus-dbl".into(),
                kind: ListKind::Domain,
                wanted: ListKind::Ip
            })
        );
        assert_eq!(
            dbl.domain_query_name("bad_name.com", None),
            Err(QueryError::InvalidDomain {
                domain: "bad_name.com".into(),
                problem: NameProblem::BadCharacter
            })
        );
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(50),
        ]
        .join(".");
        assert_eq!(
            dbl.domain_query_name(&long, None),
            Err(QueryError::TooLong {
                list: "spamhaus-dbl".into()
            })
        );
    }

    #[test]
    fn ipv6_test_points_are_asked_in_ipv6_form() {
        let catalogue = builtin();
        let zen = catalogue.get("spamhaus-zen").unwrap();
        let names: Vec<String> = zen
            .test_points
            .iter()
            .map(|point| zen.test_point_query_name(point, None).unwrap())
            .collect();
        let v6 = |last: char| {
            format!(
                "{last}.0.0.0.0.0.f.7.f.f.f.f.{}zen.spamhaus.org.",
                "0.".repeat(20)
            )
        };
        assert_eq!(
            names,
            [
                "2.0.0.127.zen.spamhaus.org.".to_owned(),
                "1.0.0.127.zen.spamhaus.org.".to_owned(),
                v6('2'),
                v6('1'),
            ]
        );
        let dbl = catalogue.get("spamhaus-dbl").unwrap();
        assert_eq!(
            dbl.test_point_query_name(&dbl.test_points[0], None),
            Ok("dbltest.com.dbl.spamhaus.org.".into())
        );
    }

    #[test]
    fn redaction_hides_the_key_label_and_any_echo_of_it() {
        let key = ListKey::new(KEY).unwrap();
        assert_eq!(
            key.redact_name(&format!("2.0.0.127.{KEY}.zen.dq.spamhaus.net.")),
            "2.0.0.127.<key>.zen.dq.spamhaus.net."
        );
        // Only whole labels: a longer label holding the key is another name.
        assert_eq!(
            key.redact_name(&format!("x{KEY}.example.")),
            format!("x{KEY}.example.")
        );
        let upper = KEY.to_uppercase();
        assert_eq!(
            key.redact_text(&format!("see {upper}.zen and {KEY}, ü")),
            "see <key>.zen and <key>, ü"
        );
        assert_eq!(key.redact_text("nothing here"), "nothing here");
    }

    #[test]
    fn targets_get_their_kind_of_query_name() {
        let catalogue = builtin();
        let zen = catalogue.get("spamhaus-zen").unwrap();
        let dbl = catalogue.get("spamhaus-dbl").unwrap();
        let ip = Target::parse("::ffff:192.0.2.1").unwrap();
        let domain = Target::parse("Bücher.example").unwrap();
        assert_eq!(
            zen.target_query_name(&ip, None),
            Ok("1.2.0.192.zen.spamhaus.org.".into())
        );
        assert_eq!(
            dbl.target_query_name(&domain, None),
            Ok("xn--bcher-kva.example.dbl.spamhaus.org.".into())
        );
        assert!(matches!(
            zen.target_query_name(&domain, None),
            Err(QueryError::WrongKind { .. })
        ));
    }

    #[test]
    fn keys_never_print() {
        let key = ListKey::new(KEY).unwrap();
        assert_eq!(format!("{key:?}"), "<key>");
        assert_eq!(key.to_string(), "<key>");
        assert_eq!(ListKey::new("a.b"), Err(NameProblem::NotSingleLabel));
        let catalogue = builtin();
        let zrd = catalogue.get("spamhaus-zrd").unwrap();
        let shown = format!("{zrd:?} {zrd:#?}");
        assert!(!shown.contains(KEY), "{shown}");
        let err = zrd.ip_query_name("192.0.2.1".parse().unwrap(), Some(&key));
        let shown = format!("{err:?}");
        assert!(!shown.contains(KEY), "{shown}");
    }
}
