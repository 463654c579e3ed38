//! DNS blocklist lookups (Spamhaus ZEN and any RFC 5782 blocklist) for secworks.
//!
//! The pure part — addresses ([`Address`]), domains ([`Domain`]) and what a list is asked
//! about ([`Target`]), the blocklist catalogue ([`Catalogue`], built in from `catalogue.toml`
//! or extended by a file) with each list's query names and documented codes, reading answers
//! ([`Blocklist::decode`] into [`ListOutcome`] or [`ListError`]) — needs no network.
//! [`DnsblResolver`] asks the DNS through hickory, never from a cache. With the
//! `test-server` feature, [`test_server::TestDnsServer`] is a real DNS server on loopback to
//! test against, playing one zone or a whole catalogue.
//!
//! A list is asked with [`DnsblResolver::query_list`], which returns the decoded answer with
//! the evidence of what the DNS said ([`QueryEvidence`]: server, query name without the key,
//! response code, TTL) and, for a listing, the list's TXT reason; and checked with
//! [`DnsblResolver::check_list_test_points`] (RFC 5782 §5). Errors say what to do next:
//! [`ListLookupError::is_rate_limited`], [`ListLookupError::is_retryable`],
//! [`ListLookupError::needs_attention`].
//!
//! The first, ZEN-only path — [`DnsblResolver::lookup`], [`classify`] into [`Outcome`],
//! [`DnsblResolver::check_test_points`] — remains for the text an answer is stored as in the
//! original contract ([`Outcome::response_code`]) and for the raw-rate benchmark; the service
//! asks every list, ZEN included, through `query_list`.
//!
//! The rule throughout: only a real answer is a [`ListOutcome`] (or [`Outcome`]). Error codes, NODATA, timeouts
//! and server failures are errors, because storing them as "not listed" would report a
//! broken resolver as a clean address.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use secworks_dnsbl::{Catalogue, DnsblResolver, ListKey, ResolverSettings, Target};
//!
//! let catalogue = Catalogue::builtin()?;
//! let zen = catalogue.get("spamhaus-zen").ok_or("no spamhaus-zen in the catalogue")?;
//! let key = ListKey::new("your-dqs-key")?;
//! let resolver = DnsblResolver::new(ResolverSettings::default())?;
//! // A blocked resolver answers NXDOMAIN for everything: check before trusting it.
//! resolver.check_list_test_points(zen, Some(&key)).await.result?;
//! let target = Target::parse("192.0.2.1").ok_or("not an address or domain")?;
//! let response = resolver.query_list(zen, Some(&key), &target).await;
//! match response.result {
//!     Ok(outcome) => println!("{outcome:?} ({})", response.evidence.rcode),
//!     Err(error) if error.is_rate_limited() => { /* slow the whole queue down */ }
//!     Err(error) if error.needs_attention() => { /* check the list's test points now */ }
//!     Err(error) => println!("not stored: {error}"),
//! }
//! # Ok(())
//! # }
//! ```

mod address;
mod catalogue;
mod classify;
mod decode;
mod domain;
mod error;
mod list_query;
mod outcome;
mod query_name;
mod raw_rate;
mod resolver;
mod test_points;
mod zone;

#[cfg(feature = "test-server")]
pub mod test_server;

pub use address::{Address, AddressError, AddressRange, InvalidEntry, InvalidRange, RangeError};
pub use catalogue::{
    Blocklist, Catalogue, CatalogueError, DEFAULT_ENABLED, Decoding, ErrorAnswerKind, ErrorMeaning,
    KEY_PLACEHOLDER, ListKey, ListKind, Meaning, QueryError, TestPoint, TestTarget,
};
pub use classify::{Answer, classify};
pub use decode::{ListError, ListListing, ListOutcome};
pub use domain::{Domain, DomainError, InvalidDomain, MAX_DOMAIN_LEN, Target};
pub use error::{LookupError, RefusalReason};
pub use list_query::{
    ListLookupError, ListResponse, ListTestPointError, NO_QUERY, NO_RESPONSE, QueryEvidence,
    TestPointReport,
};
pub use outcome::{Listing, NOT_LISTED_RESPONSE, Outcome};
pub use query_name::query_name;
pub use raw_rate::{RawRate, raw_rate};
pub use resolver::{DnsblResolver, ResolverError, ResolverSettings};
pub use test_points::{LISTED_TEST_POINT, TestPointError, UNLISTED_TEST_POINT};
pub use zone::{DEFAULT_ZONE, DQS_ZONE, NameProblem, Zone, ZoneError};
