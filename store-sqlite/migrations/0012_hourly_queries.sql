-- Queries sent to each list per UTC hour, for the dashboard's chart of queries against the
-- budget. Added to in the same transaction as blocklist_queries (the daily count that budgets
-- enforce); rows older than 8 days are purged when the test-point checks count their queries.
-- Keyed by hour first: the purge and the dashboard read ranges of hours.
CREATE TABLE blocklist_query_hours (
    -- When the hour begins, RFC 3339 UTC (e.g. 2024-01-01T05:00:00.000000Z).
    begins_at TEXT    NOT NULL,
    blocklist TEXT    NOT NULL,
    queries   INTEGER NOT NULL CHECK (queries >= 0),
    PRIMARY KEY (begins_at, blocklist)
) STRICT, WITHOUT ROWID;

-- The dashboard counts the events of recent hours, found by when their answer came.
CREATE INDEX listing_events_by_time ON listing_events (checked_at);
