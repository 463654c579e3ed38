//! The two backends' schemas stay in step: a schema change is written once per backend, as a
//! migration in each crate's `migrations/`, and this test migrates a fresh SQLite and a fresh
//! PostgreSQL database and compares what they hold.
//!
//! Compared: the tables, and for each its columns' names, kinds and nullability. Kinds are
//! compared through one mapping, since the backends store some values differently:
//!
//! | kind      | SQLite    | PostgreSQL                                 |
//! | --------- | --------- | ------------------------------------------ |
//! | `integer` | `INTEGER` | `bigint`, `integer`, `boolean` (see below)  |
//! | `text`    | `TEXT`    | `text`                                      |
//! | `instant` | `TEXT`, or `INTEGER` Unix seconds | `timestamp with time zone` (see below) |
//! | `day`     | `TEXT`    | `date` (see below)                          |
//! | `bytes`   | `BLOB`    | `bytea`                                     |
//!
//! SQLite keeps instants as RFC 3339 text, so a PostgreSQL `timestamptz` column must be a
//! SQLite `TEXT` column whose name says it is an instant (`…_at`, `…_before`, `…_until`), or
//! an `INTEGER` one of Unix seconds where SQLite computes with it; days likewise
//! as `YYYY-MM-DD` text in a column named `day`. SQLite has no booleans: a PostgreSQL
//! `boolean` is a SQLite `INTEGER` (0 or 1). Indexes, constraints and column order are not
//! compared (SQLite adds columns at the end).

use std::collections::BTreeMap;

use secworks_store_api::testkit::postgres::TestDatabase;
use sqlx::Connection as _;

/// Table → column → (kind, nullable).
type Schema = BTreeMap<String, BTreeMap<String, (String, bool)>>;

/// Tables that belong to the migrator, not to secworks.
const MIGRATOR_TABLE: &str = "_sqlx_migrations";

#[tokio::test]
async fn sqlite_and_postgresql_migrate_to_the_same_tables_and_columns() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("schema.db").display());
    super::connect(&sqlite_url).await.unwrap();
    super::connect(db.url()).await.unwrap();

    let (sqlite, postgres) = (
        sqlite_schema(&sqlite_url).await,
        postgres_schema(db.url()).await,
    );
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "tables"
    );
    for (table, columns) in &sqlite {
        assert_eq!(
            columns, &postgres[table],
            "columns of {table}: SQLite, PostgreSQL"
        );
    }
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let rows: Vec<(String, String, String, bool, i64)> = sqlx::query_as(
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk
         FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for (table, column, declared, not_null, primary_key) in rows {
        if table == MIGRATOR_TABLE {
            continue;
        }
        let kind = match declared.as_str() {
            // Unix seconds, where SQLite computes with the instant (`watch_schedule.due_at`).
            "INTEGER" if is_instant(&column) => "instant",
            "INTEGER" => "integer",
            "TEXT" if is_instant(&column) => "instant",
            "TEXT" if is_day(&column) => "day",
            // Hex bytes ordered like addresses (`lookups.address_key`); PostgreSQL has inet.
            "TEXT" if column == "address_key" => "address",
            "TEXT" => "text",
            "BLOB" => "bytes",
            other => panic!("SQLite {table}.{column}: no kind for type {other}"),
        };
        // An INTEGER PRIMARY KEY is the rowid: never null, whatever the flag says.
        let nullable = !not_null && primary_key == 0;
        schema
            .entry(table)
            .or_default()
            .insert(column, (kind.to_owned(), nullable));
    }
    conn.close().await.unwrap();
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
         FROM information_schema.columns
         WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for (table, column, declared, nullable) in rows {
        if table == MIGRATOR_TABLE {
            continue;
        }
        let kind = match declared.as_str() {
            "bigint" | "integer" | "boolean" => "integer",
            "text" => "text",
            "timestamp with time zone" => {
                assert!(
                    is_instant(&column),
                    "PostgreSQL {table}.{column}: an instant whose name does not say so"
                );
                "instant"
            }
            "date" => {
                assert!(
                    is_day(&column),
                    "PostgreSQL {table}.{column}: a date whose name does not say so"
                );
                "day"
            }
            "bytea" => "bytes",
            "inet" => "address",
            other => panic!("PostgreSQL {table}.{column}: no kind for type {other}"),
        };
        schema
            .entry(table)
            .or_default()
            .insert(column, (kind.to_owned(), nullable == "YES"));
    }
    conn.close().await.unwrap();
    schema
}

/// Instants are named for when something happened or holds: `created_at`, `tokens_not_before`.
fn is_instant(column: &str) -> bool {
    column.ends_with("_at")
        || column.ends_with("_before")
        || column.ends_with("_until")
        || column == "run_after"
}

/// Days (UTC dates) are named `day`.
fn is_day(column: &str) -> bool {
    column == "day"
}
