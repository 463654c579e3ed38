//! DNS blocklist lookups (Spamhaus ZEN and any RFC 5782 blocklist) for secworks.
//!
//! The pure part — addresses ([`Address`]), domains ([`Domain`]) and what a list is asked
//! about ([`Target`]), query names ([`query_name`]), zones ([`Zone`]),
//! reading answers ([`classify`] into [`Outcome`] or [`LookupError`]) and the text an outcome
//! is stored as ([`Outcome::response_code`], read back by [`Outcome::parse_response_code`]) —
//! needs no network. [`DnsblResolver`] asks the DNS through hickory-resolver, with its cache
//! off. With the `test-server` feature, [`test_server::TestDnsServer`] is a real DNS server on
//! loopback to test against.
//!
//! The blocklist catalogue ([`Catalogue`], built in from `catalogue.toml` or extended by a
//! file) describes other lists as data; [`Blocklist::decode`] reads their answers by each
//! list's documented codes. The service still queries ZEN through [`classify`]; the catalogue
//! is not wired in yet.
//!
//! The rule throughout: only a real answer is an [`Outcome`]. Error codes, NODATA, timeouts
//! and server failures are errors, because storing them as "not listed" would report a
//! broken resolver as a clean address.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use secworks_dnsbl::{DnsblResolver, ResolverSettings, Zone};
//!
//! let resolver = DnsblResolver::new(ResolverSettings {
//!     zone: Zone::dqs("your-dqs-key")?,
//!     ..ResolverSettings::default()
//! })?;
//! // A blocked resolver answers NXDOMAIN for everything: check before trusting it.
//! resolver.check_test_points().await?;
//! match resolver.lookup("192.0.2.1".parse()?).await {
//!     Ok(outcome) => println!("{}", outcome.response_code()),
//!     Err(error) if error.is_rate_limited() => { /* slow the whole queue down */ }
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
mod outcome;
mod query_name;
mod raw_rate;
mod resolver;
mod test_points;
mod zone;

#[cfg(feature = "test-server")]
pub mod test_server;

pub use address::{Address, AddressError, InvalidEntry};
pub use catalogue::{
    Blocklist, Catalogue, CatalogueError, DEFAULT_ENABLED, Decoding, ErrorAnswerKind, ErrorMeaning,
    KEY_PLACEHOLDER, ListKey, ListKind, Meaning, QueryError, TestPoint, TestTarget,
};
pub use classify::{Answer, classify};
pub use decode::{ListError, ListListing, ListOutcome};
pub use domain::{Domain, DomainError, InvalidDomain, MAX_DOMAIN_LEN, Target};
pub use error::{LookupError, RefusalReason};
pub use outcome::{Listing, NOT_LISTED_RESPONSE, Outcome};
pub use query_name::query_name;
pub use raw_rate::{RawRate, raw_rate};
pub use resolver::{DnsblResolver, ResolverError, ResolverSettings};
pub use test_points::{LISTED_TEST_POINT, TestPointError, UNLISTED_TEST_POINT};
pub use zone::{DEFAULT_ZONE, DQS_ZONE, NameProblem, Zone, ZoneError};
