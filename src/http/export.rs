//! `GET /export/lookups`: the stored results a filter finds, streamed as CSV or NDJSON in
//! address order. The rows are read a chunk at a time by address (a keyset that never moves
//! while results change under it, so every row is sent once), each chunk a short read of its
//! own: memory stays one chunk however many rows there are, and no database connection or
//! snapshot is held while a slow client reads.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::Stream;
use poem::web::Accept;
use poem::{FromRequest, Request};
use serde::Serialize;

use super::error::HttpError;
use super::rest::{BearerAuth, ExportLookupsResponse, StreamedBody};
use crate::auth::{Auth, Scope};
use crate::blocklists::Blocklists;
use crate::filters::{FilterError, FilterFields, read_filter};
use crate::store::{Address, FilteredLookups, FoundLookup, LookupFilter, Watchlists};
use crate::timestamp;

/// What an export reads: the results, the watchlists a filter may name, the enabled lists.
#[derive(Clone)]
pub struct Exports {
    pub results: Arc<dyn FilteredLookups>,
    pub watchlists: Arc<dyn Watchlists>,
    pub blocklists: Arc<Blocklists>,
}

/// `GET /export/lookups`: checks the token (scope `read`), the `Accept` header and the
/// filter, then streams; every refusal comes before the first byte.
pub async fn respond(
    exports: &Exports,
    auth: &Auth,
    req: &Request,
    bearer: BearerAuth,
    fields: FilterFields,
) -> ExportLookupsResponse {
    match start(exports, auth, req, bearer, fields).await {
        Ok(body) => ExportLookupsResponse::Ok { body },
        Err(refusal) => refusal.into(),
    }
}

async fn start(
    exports: &Exports,
    auth: &Auth,
    req: &Request,
    bearer: BearerAuth,
    fields: FilterFields,
) -> Result<StreamedBody, HttpError> {
    let principal = auth.authenticate(&bearer.0.token).await?;
    if !principal.scopes().contains(Scope::Read) {
        return Err(HttpError::Forbidden(
            "this token lacks the `read` scope, which exports need".to_owned(),
        ));
    }
    let accepted = Accept::from_request_without_body(req)
        .await
        .map(|accept| accept.0)
        .unwrap_or_default();
    let format = Format::negotiate(accepted.iter().map(|media| {
        let quality = media
            .get_param("q")
            .and_then(|q| q.as_str().parse::<f32>().ok())
            .unwrap_or(1.0);
        (media.essence_str(), quality)
    }))
    .ok_or_else(|| {
        HttpError::NotAcceptable(format!(
            "exports are {} or {}; Accept allows neither",
            Format::CSV,
            Format::NDJSON
        ))
    })?;
    let filter = read_filter(fields, &exports.blocklists, exports.watchlists.as_ref())
        .await
        .map_err(|error| match error {
            FilterError::Field { field, problem } => {
                HttpError::BadRequest(format!("query parameter `{field}`: {problem}"))
            }
            FilterError::Store(error) => HttpError::internal(&error),
        })?;
    Ok(StreamedBody {
        content_type: format.content_type().to_owned(),
        body: poem::Body::from_bytes_stream(rows(exports.results.clone(), filter, format)),
    })
}

/// Rows read per store call.
const CHUNK: u32 = 1_000;

/// The two forms an export comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

/// The columns, in order; also the CSV header.
const COLUMNS: [&str; 7] = [
    "ip_address",
    "listed",
    "listed_on",
    "response_code",
    "updated_at",
    "created_at",
    "uuid",
];

impl Format {
    pub const CSV: &'static str = "text/csv";
    pub const NDJSON: &'static str = "application/x-ndjson";

    /// The form the `Accept` header asks for, given its media ranges (`essence` strings) with
    /// their q-values: each form takes the q of the most specific range that matches it
    /// (`text/csv`, then `text/*`, then `*/*`, RFC 9110 §12.5.1), and the higher q wins, CSV
    /// on a tie or with no header; `None` when both are refused (q=0) or matched by nothing.
    pub fn negotiate<'a>(accepted: impl IntoIterator<Item = (&'a str, f32)>) -> Option<Format> {
        let ranges: Vec<(&str, f32)> = accepted.into_iter().collect();
        if ranges.is_empty() {
            return Some(Format::Csv);
        }
        let quality = |media: &str| {
            let kind = media.split('/').next().unwrap_or_default();
            let wildcard = format!("{kind}/*");
            [media, wildcard.as_str(), "*/*"].iter().find_map(|wanted| {
                ranges
                    .iter()
                    .find(|(range, _)| range == wanted)
                    .map(|(_, q)| *q)
            })
        };
        let csv = quality(Self::CSV).unwrap_or(0.0);
        let ndjson = quality(Self::NDJSON).unwrap_or(0.0);
        match (csv > 0.0, ndjson > 0.0) {
            (false, false) => None,
            _ if ndjson > csv => Some(Format::Ndjson),
            _ => Some(Format::Csv),
        }
    }

    /// The `Content-Type` sent.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Ndjson => "application/x-ndjson",
        }
    }
}

/// One exported row: a stored result and what the enabled lists say of it.
#[derive(Debug, Serialize)]
struct Row {
    ip_address: String,
    /// Listed by an enabled list; null while none answered (as `Lookup.listed`).
    listed: Option<bool>,
    /// The enabled lists that list it now.
    listed_on: Vec<String>,
    /// ZEN's answer as the original contract shows it.
    response_code: String,
    updated_at: String,
    created_at: String,
    uuid: String,
}

impl From<FoundLookup> for Row {
    fn from(found: FoundLookup) -> Self {
        let listed = found.listed();
        Row {
            ip_address: found.record.address.to_string(),
            listed,
            listed_on: found.listed_on,
            response_code: found.record.answer.text(),
            updated_at: timestamp::format(found.record.updated_at),
            created_at: timestamp::format(found.record.created_at),
            uuid: found.record.uuid,
        }
    }
}

/// Appends `rows` to `out` in `format`.
fn encode(format: Format, rows: Vec<FoundLookup>, out: &mut Vec<u8>) -> std::io::Result<()> {
    match format {
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            for row in rows.into_iter().map(Row::from) {
                let listed = match row.listed {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "",
                };
                writer.write_record([
                    row.ip_address.as_str(),
                    listed,
                    &row.listed_on.join(" "),
                    &row.response_code,
                    &row.updated_at,
                    &row.created_at,
                    &row.uuid,
                ])?;
            }
            writer.flush()?;
        }
        Format::Ndjson => {
            for row in rows.into_iter().map(Row::from) {
                serde_json::to_writer(&mut *out, &row)?;
                out.push(b'\n');
            }
        }
    }
    Ok(())
}

/// Where the stream is: the header to send first, then chunks after the last address sent.
struct Cursor {
    header: bool,
    after: Option<Address>,
    done: bool,
}

/// The export as a stream of byte chunks. A store failure ends the stream with an error (the
/// client sees a cut-off transfer, never a short file that looks complete) and is logged.
pub fn rows(
    store: Arc<dyn FilteredLookups>,
    filter: LookupFilter,
    format: Format,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let start = Cursor {
        header: format == Format::Csv,
        after: None,
        done: false,
    };
    futures_util::stream::try_unfold(start, move |mut cursor| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let mut out = Vec::new();
            if cursor.header {
                let mut writer = csv::Writer::from_writer(&mut out);
                writer.write_record(COLUMNS)?;
                writer.flush()?;
                drop(writer);
                cursor.header = false;
                return Ok(Some((Bytes::from(out), cursor)));
            }
            if cursor.done {
                return Ok(None);
            }
            let found = store
                .lookups_by_address(&filter, cursor.after, CHUNK)
                .await
                .map_err(|error| {
                    tracing::error!(error = %error, "export cut off by a store failure");
                    std::io::Error::other("the export was cut off by a store failure")
                })?;
            cursor.done = found.len() < CHUNK as usize;
            let Some(last) = found.last() else {
                return Ok(None);
            };
            cursor.after = Some(last.record.address);
            encode(format, found, &mut out)?;
            Ok(Some((Bytes::from(out), cursor)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_is_the_default_and_preferences_are_followed() {
        assert_eq!(Format::negotiate([]), Some(Format::Csv));
        assert_eq!(Format::negotiate([("*/*", 1.0)]), Some(Format::Csv));
        assert_eq!(
            Format::negotiate([("application/x-ndjson", 1.0), ("text/csv", 0.5)]),
            Some(Format::Ndjson)
        );
        assert_eq!(
            Format::negotiate([("application/x-ndjson", 0.0), ("text/*", 0.5)]),
            Some(Format::Csv)
        );
        assert_eq!(Format::negotiate([("application/json", 1.0)]), None);
        // The most specific range decides: CSV refused outright, NDJSON through a wildcard.
        assert_eq!(
            Format::negotiate([("text/csv", 0.0), ("*/*", 1.0)]),
            Some(Format::Ndjson)
        );
        assert_eq!(
            Format::negotiate([("application/*", 1.0)]),
            Some(Format::Ndjson)
        );
        assert_eq!(
            Format::negotiate([
                ("text/csv", 0.0),
                ("application/x-ndjson", 0.0),
                ("*/*", 1.0)
            ]),
            None
        );
    }
}
