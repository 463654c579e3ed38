//! The one timestamp format secworks stores and serves: RFC 3339 UTC with microseconds,
//! e.g. `2022-02-08T06:10:00.591595Z`. Fixed width, so text order is time order. Finer
//! fractions are cut off (PostgreSQL's `timestamptz` keeps microseconds too).

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

pub fn format(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_else(|_| unreachable_format(at))
}

/// Reads any RFC 3339 timestamp (this format or another system's).
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

const DAY: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// A day as text, `YYYY-MM-DD` (where a database has no date type).
pub fn format_day(day: Date) -> String {
    day.format(DAY).unwrap_or_else(|_| day.to_string())
}

/// Reads [`format_day`] text.
pub fn parse_day(text: &str) -> Option<Date> {
    Date::parse(text, DAY).ok()
}

// Formatting fails only for years outside 0..=9999, which no clock, TTL or stored value here
// produces.
#[cold]
fn unreachable_format(at: OffsetDateTime) -> String {
    at.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_utc_with_microseconds() {
        assert_eq!(
            format(datetime!(2022-02-08 07:10:00.591595123 +01:00)),
            "2022-02-08T06:10:00.591595Z"
        );
    }

    #[test]
    fn parses_what_it_formats() {
        let at = datetime!(2022-02-08 06:10:00.591595 UTC);
        assert_eq!(parse(&format(at)), Some(at));
        assert_eq!(parse("2022-02-08 06:10:00"), None);
    }

    #[test]
    fn days_are_iso_dates() {
        let day = time::macros::date!(2024 - 03 - 09);
        assert_eq!(format_day(day), "2024-03-09");
        assert_eq!(parse_day("2024-03-09"), Some(day));
        assert_eq!(parse_day("2024-3-9"), None);
    }
}
