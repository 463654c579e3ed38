//! `secworks import-pysecworks`: users and stored results from a pysecworks database.
//!
//! Everything is read and checked first; if any row cannot be imported, the command names
//! every such row and writes nothing. The rows that pass go in in one transaction, and rows
//! already present are left alone, so running the import twice changes nothing.

use std::path::Path;
use std::str::FromStr;

use secworks_dnsbl::{Address, Outcome};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::auth::UserAdminError;
use crate::store::{Import, ImportCounts, ImportedUser, LookupRecord, StoreError, StoredAnswer};
use crate::timestamp;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("{path} is not a pysecworks database: {source}")]
    NotPysecworks { path: String, source: sqlx::Error },
    #[error("nothing was imported; these rows cannot be:\n{}", .0.join("\n"))]
    BadRows(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub users_read: usize,
    pub lookups_read: usize,
    pub added: ImportCounts,
}

pub async fn import_pysecworks(
    source: &Path,
    store: &dyn Import,
) -> Result<ImportReport, ImportError> {
    let path = source.display().to_string();
    // Read-only and never created: a mistyped path must not leave an empty database behind.
    let options = SqliteConnectOptions::new()
        .filename(source)
        .read_only(true)
        .create_if_missing(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|source| ImportError::Open {
            path: path.clone(),
            source,
        })?;
    let not_pysecworks = |source| ImportError::NotPysecworks {
        path: path.clone(),
        source,
    };
    // The source is another program's schema, not ours, so these two reads cannot be checked
    // at compile time against our migrations like every other query.
    let users: Vec<(i64, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT id, username, password_hash FROM user ORDER BY id")
            .fetch_all(&pool)
            .await
            .map_err(not_pysecworks)?;
    let lookups: Vec<SourceLookup> = sqlx::query_as(
        "SELECT id, created_at, updated_at, response_code, ip_address FROM lookup ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .map_err(not_pysecworks)?;
    pool.close().await;

    let mut bad = Vec::new();
    let mut imported_users = Vec::with_capacity(users.len());
    for (id, username, hash) in &users {
        match user(username.as_deref(), hash.as_deref()) {
            Ok(user) => imported_users.push(user),
            Err(why) => bad.push(format!("user id {id}: {why}")),
        }
    }
    let mut imported_lookups = Vec::with_capacity(lookups.len());
    for row in &lookups {
        match lookup(row) {
            Ok(record) => imported_lookups.push(record),
            Err(why) => bad.push(format!("lookup id {:?}: {why}", row.0)),
        }
    }
    if !bad.is_empty() {
        return Err(ImportError::BadRows(bad));
    }
    let added = store
        .import(&imported_users, &imported_lookups, timestamp::after_now())
        .await?;
    Ok(ImportReport {
        users_read: users.len(),
        lookups_read: lookups.len(),
        added,
    })
}

type SourceLookup = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn user(username: Option<&str>, hash: Option<&str>) -> Result<ImportedUser, String> {
    let username = username.ok_or("no user name")?;
    crate::auth::check_name(username).map_err(|e: UserAdminError| e.to_string())?;
    let hash = hash.ok_or_else(|| format!("user {username:?} has no password hash"))?;
    crate::auth::check_imported_hash(hash)
        .map_err(|e| format!("user {username:?}: password hash {e}"))?;
    Ok(ImportedUser {
        username: username.to_owned(),
        password_hash: hash.to_owned(),
    })
}

fn lookup((id, created, updated, code, address): &SourceLookup) -> Result<LookupRecord, String> {
    let uuid = uuid::Uuid::from_str(id).map_err(|_| format!("id {id:?} is not a UUID"))?;
    let address = address.as_deref().ok_or("no ip_address")?;
    let address = address
        .parse::<Address>()
        .map_err(|_| format!("ip_address {address:?} is not an IP address"))?;
    let created = created.as_deref().map(naive_utc).transpose()?;
    let updated = updated.as_deref().map(naive_utc).transpose()?;
    let (created_at, updated_at) = match (created, updated) {
        (Some(c), Some(u)) => (c, u),
        (Some(one), None) | (None, Some(one)) => (one, one),
        (None, None) => return Err("neither created_at nor updated_at is set".into()),
    };
    let code = code.as_deref().ok_or("no response_code")?;
    Ok(LookupRecord {
        uuid: uuid.hyphenated().to_string(),
        address,
        answer: response_code(code)?,
        created_at,
        updated_at,
    })
}

/// pysecworks wrote UTC as Python's `str(datetime)`: `2022-02-08 06:10:00.591595`, without
/// the fraction when it is zero.
fn naive_utc(text: &str) -> Result<OffsetDateTime, String> {
    let with_fraction =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]");
    let whole = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text, with_fraction)
        .or_else(|_| PrimitiveDateTime::parse(text, whole))
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|_| format!("timestamp {text:?} is not of the form YYYY-MM-DD HH:MM:SS.ffffff"))
}

/// `No Response`, or A records joined by `, `, which are stored in numeric order as secworks
/// stores its own answers.
fn response_code(code: &str) -> Result<StoredAnswer, String> {
    Outcome::parse_response_code(code)
        .map(StoredAnswer::Blocklist)
        .ok_or_else(|| format!("response_code {code:?} is neither `No Response` nor A records"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_python_timestamps_to_rfc3339_utc() {
        let rfc3339 = |text| naive_utc(text).map(timestamp::format);
        assert_eq!(
            rfc3339("2022-02-08 06:10:00.591595").unwrap(),
            "2022-02-08T06:10:00.591595Z"
        );
        assert_eq!(
            rfc3339("2022-02-08 06:10:00").unwrap(),
            "2022-02-08T06:10:00.000000Z"
        );
        assert!(naive_utc("08/02/2022").unwrap_err().contains("08/02/2022"));
    }

    #[test]
    fn orders_response_codes_numerically() {
        assert_eq!(
            response_code("127.0.0.10, 127.0.0.4, 127.0.0.2")
                .unwrap()
                .text(),
            "127.0.0.2, 127.0.0.4, 127.0.0.10"
        );
        assert_eq!(response_code("No Response").unwrap().text(), "No Response");
        assert!(response_code("Timeout").is_err());
    }

    #[test]
    fn names_what_is_wrong_with_a_row() {
        let row = |id: &str, at: Option<&str>, code: &str, ip: &str| {
            (
                id.to_owned(),
                at.map(str::to_owned),
                at.map(str::to_owned),
                Some(code.to_owned()),
                Some(ip.to_owned()),
            )
        };
        let good = "8e7e8fb1-4b1b-4519-8203-23004ceffc93";
        let ok = lookup(&row(
            good,
            Some("2022-02-08 06:10:00.5"),
            "No Response",
            "1.0.0.1",
        ))
        .unwrap();
        assert_eq!(
            timestamp::format(ok.created_at),
            "2022-02-08T06:10:00.500000Z"
        );
        assert!(
            lookup(&row(
                "7",
                Some("2022-02-08 06:10:00"),
                "No Response",
                "1.0.0.1"
            ))
            .unwrap_err()
            .contains("UUID")
        );
        assert!(
            lookup(&row(good, None, "No Response", "1.0.0.1"))
                .unwrap_err()
                .contains("neither")
        );
        assert!(
            lookup(&row(
                good,
                Some("2022-02-08 06:10:00"),
                "No Response",
                "1.0.0"
            ))
            .unwrap_err()
            .contains("1.0.0")
        );
        assert!(
            user(Some("a:b"), Some("x"))
                .unwrap_err()
                .contains("not allowed")
        );
        assert!(
            user(Some("alice"), Some("md5$x"))
                .unwrap_err()
                .contains("alice")
        );
    }
}
