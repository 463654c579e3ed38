//! The clock, and the one timestamp format secworks stores and serves (RFC 3339 UTC with
//! microseconds, `2022-02-08T06:10:00.591595Z`; see [`secworks_store_api::timestamp`]).
//!
//! The store never reads the clock: what it records as "now" is what its callers pass, read
//! here.

use time::{Duration, OffsetDateTime};

pub use secworks_store_api::timestamp::{format, parse};

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// An instant strictly after every instant [`now`] returned before it, also once both are
/// cut to the microseconds they are stored and written in: a bound for "everything issued
/// until now", e.g. a user's tokens.
pub fn after_now() -> OffsetDateTime {
    now() + Duration::MICROSECOND
}
