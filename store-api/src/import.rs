//! Users and results brought over from another system (pysecworks).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{LookupRecord, StoreError};

/// A user brought over from another system, with its password hash as that system stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedUser {
    pub username: String,
    pub password_hash: String,
}

/// How many imported rows were new.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub users: u64,
    pub lookups: u64,
}

/// Bringing another system's data in.
#[async_trait]
pub trait Import: Send + Sync {
    /// Adds users and stored results from another system in one transaction. A user whose
    /// name is taken, or a result for an address that already has one, is left as it is, so
    /// importing the same data again changes nothing. Each new result gets one history entry
    /// at its `updated_at`; each new user's tokens count from `now`.
    async fn import(
        &self,
        users: &[ImportedUser],
        lookups: &[LookupRecord],
        now: OffsetDateTime,
    ) -> Result<ImportCounts, StoreError>;
}
