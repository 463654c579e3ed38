-- Watchlists (SQLite's 0005): named sets of addresses, CIDR ranges and domains to keep an eye
-- on. Each is stored twice: its entries as given (canonical text), and the targets they
-- expand to, one row per (watchlist, target), which the re-check planner walks and joins with
-- list_results.

CREATE TABLE watchlists (
    name             TEXT        PRIMARY KEY,
    -- How often its targets are re-checked, in seconds (1 minute to 30 days).
    interval_seconds BIGINT      NOT NULL CHECK (interval_seconds > 0),
    -- Rows in watch_targets: kept here so the limit on all watchlists' targets is one sum.
    target_count     BIGINT      NOT NULL CHECK (target_count >= 0),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- The entries as given: an address, `network/prefix`, or a domain.
CREATE TABLE watchlist_entries (
    watchlist TEXT NOT NULL REFERENCES watchlists (name) ON DELETE CASCADE,
    entry     TEXT NOT NULL,
    PRIMARY KEY (watchlist, entry)
);

-- Every address and domain the entries stand for. A target may be in several watchlists.
CREATE TABLE watch_targets (
    watchlist TEXT NOT NULL REFERENCES watchlists (name) ON DELETE CASCADE,
    target    TEXT NOT NULL,
    PRIMARY KEY (watchlist, target)
);
-- Which watchlists hold a target: the planner's and the event filter's join.
CREATE INDEX watch_targets_by_target ON watch_targets (target);
