//! Persistence behind narrow interfaces, one per concern (in `secworks-store-api`); [`Store`]
//! is all of them, for wiring. Which database answers is decided once, from `DATABASE_URL`, in
//! [`connect`].

use std::sync::Arc;

pub use secworks_store_api::*;

/// Opens the database that `url` names (`sqlite://…` or `postgres://…`), creating and
/// migrating it as needed.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            secworks_store_sqlite::SqliteStore::connect(url).await?,
        ))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            secworks_store_postgres::PgStore::connect(url).await?,
        ))
    } else {
        // Only the scheme: the rest of a URL may hold a password.
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        Err(StoreError::UnsupportedUrl(scheme.to_owned()))
    }
}

#[cfg(test)]
mod schema_tests;
