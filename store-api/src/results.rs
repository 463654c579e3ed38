//! The current result of each address, and every attempt's outcome.

use async_trait::async_trait;
use secworks_dnsbl::Address;
use time::OffsetDateTime;

use crate::{StoreError, StoredAnswer};

/// The stored result for one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRecord {
    pub uuid: String,
    pub address: Address,
    pub answer: StoredAnswer,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One past attempt for an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    pub looked_up_at: OffsetDateTime,
    pub attempt: Attempt,
}

/// What one attempt gave: an answer, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Answer(StoredAnswer),
    Error(String),
}

impl HistoryRecord {
    /// Why the attempt failed; `None` if it was answered.
    pub fn into_error(self) -> Option<String> {
        match self.attempt {
            Attempt::Error(error) => Some(error),
            Attempt::Answer(_) => None,
        }
    }
}

impl Attempt {
    /// Reads a history row's two columns, of which the schema lets exactly one be set.
    pub fn from_columns(
        response_code: Option<String>,
        error: Option<String>,
    ) -> Result<Self, StoreError> {
        match (response_code, error) {
            (Some(code), None) => Ok(Self::Answer(StoredAnswer::from_text(code))),
            (None, Some(error)) => Ok(Self::Error(error)),
            _ => Err(StoreError::Unreadable(
                "a history entry with both or neither of an answer and an error".to_owned(),
            )),
        }
    }
}

/// What the blocklist said about each address, now and before.
#[async_trait]
pub trait Results: Send + Sync {
    /// The current result for `address`; `None` if it was never looked up.
    async fn lookup(&self, address: &Address) -> Result<Option<LookupRecord>, StoreError>;

    /// The latest `limit` attempts for an address, newest first.
    async fn history(
        &self,
        address: &Address,
        limit: u32,
    ) -> Result<Vec<HistoryRecord>, StoreError>;

    /// Deletes attempts made before `before`, oldest first, at most `limit` of them; returns
    /// how many (fewer than `limit`: nothing older is left, or what is left waits behind
    /// newer attempts written before it). Each call is one short transaction.
    async fn purge_history(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError>;
}
