-- Queries sent to each list per UTC hour (SQLite's 0012), for the dashboard's chart of
-- queries against the budget. Added to in the same transaction as blocklist_queries (the
-- daily count that budgets enforce); rows older than 8 days are purged when the test-point
-- checks count their queries. Keyed by hour first: the purge and the dashboard read ranges
-- of hours.
CREATE TABLE blocklist_query_hours (
    -- When the hour begins.
    begins_at TIMESTAMPTZ NOT NULL,
    blocklist TEXT        NOT NULL,
    queries   BIGINT      NOT NULL CHECK (queries >= 0),
    PRIMARY KEY (begins_at, blocklist)
);

-- The dashboard counts the events of recent hours, found by when their answer came.
CREATE INDEX listing_events_by_time ON listing_events (checked_at);
