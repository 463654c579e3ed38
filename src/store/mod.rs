//! Persistence behind narrow interfaces, one per concern (in `secworks-store-api`); [`Store`]
//! is all of them, for wiring. Which database answers is decided once, from `DATABASE_URL`, in
//! [`connect`].

use std::path::PathBuf;
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

/// Opens the database that `url` names only if it exists, and migrates it: a SQLite file is
/// never created (PostgreSQL databases never are). For the administration commands, which
/// must act on the server's database, not on a new one made wherever they were run.
pub async fn connect_existing(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            secworks_store_sqlite::SqliteStore::connect_existing(url).await?,
        ))
    } else {
        connect(url).await
    }
}

/// The file a `sqlite:` URL names, made absolute against the working directory; `None` for
/// other databases, in-memory ones, and URLs that cannot be read.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    use std::str::FromStr;
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    std::path::absolute(options.get_filename()).ok()
}

/// The database `url` names, as an operator should see it: a SQLite file as an absolute
/// `sqlite://` URL, any other URL without its password and query string (which may hold one).
pub fn shown_url(url: &str) -> String {
    if let Some(file) = sqlite_file(url) {
        return format!("sqlite://{}", file.display());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.split('?').next().unwrap_or_default().to_owned();
    };
    let rest = rest.split('?').next().unwrap_or_default();
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => format!("{scheme}://{userinfo}@{host}"),
        },
        None => format!("{scheme}://{rest}"),
    }
}

pub mod recent;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_are_absolute_and_hold_no_password() {
        let here = std::env::current_dir().unwrap();
        assert_eq!(
            shown_url("sqlite://app.db"),
            format!("sqlite://{}", here.join("app.db").display())
        );
        assert_eq!(
            shown_url("sqlite:///data/app.db?mode=rwc"),
            "sqlite:///data/app.db"
        );
        assert_eq!(
            shown_url("postgres://secworks:p@ss:w0rd@db:5432/secworks?sslmode=require"),
            "postgres://secworks:***@db:5432/secworks"
        );
        assert_eq!(
            shown_url("postgres://db/secworks?password=hunter2"),
            "postgres://db/secworks"
        );
        assert_eq!(
            shown_url("postgresql://postgres@127.0.0.1/x"),
            "postgresql://postgres@127.0.0.1/x"
        );
        assert_eq!(shown_url("sqlite::memory:"), "sqlite::memory:");
    }

    #[tokio::test]
    async fn connect_existing_never_creates_a_sqlite_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.db");
        // Not even when the URL itself asks for creation.
        let url = format!("sqlite://{}?mode=rwc", file.display());
        assert!(connect_existing(&url).await.is_err());
        assert!(!file.exists());
        connect(&url).await.unwrap();
        connect_existing(&url).await.unwrap();
    }
}

#[cfg(test)]
mod schema_tests;
