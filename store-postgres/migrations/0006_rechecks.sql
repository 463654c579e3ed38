-- The re-check planner (SQLite's 0008): each watched target's kind (which lists take it), each
-- list's schedule of watched targets, and which replica plans each list.

-- What a target is, so that a list's schedule takes only the targets it answers for. Written
-- by secworks from the parsed target; rows written before are classified here once, by their
-- canonical text (an IPv6 address has colons, an IPv4 address only digits and dots; a
-- domain's last label is never all digits).
ALTER TABLE watch_targets ADD COLUMN kind TEXT NOT NULL DEFAULT 'domain'
    CHECK (kind IN ('ipv4', 'ipv6', 'domain'));
UPDATE watch_targets SET kind = CASE
    WHEN target LIKE '%:%' THEN 'ipv6'
    WHEN target ~ '^[0-9.]+$' THEN 'ipv4'
    ELSE 'domain' END;
-- From here on secworks writes every kind itself: a writer that does not (an older replica
-- during a rolling upgrade) fails rather than file addresses as domains.
ALTER TABLE watch_targets ALTER COLUMN kind DROP DEFAULT;
CREATE INDEX watch_targets_by_kind ON watch_targets (kind, target);

-- Bumped by every watchlist write, in its transaction: a list's schedule is brought in line
-- when this moved.
CREATE TABLE watch_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT  NOT NULL CHECK (generation >= 0)
);
INSERT INTO watch_generation (id, generation) VALUES (1, 0);

-- Each list the planner serves: the kinds and generation its schedule was brought to, and the
-- replica that plans it until lease_until (one at a time, so a budget is spent once).
CREATE TABLE recheck_lists (
    blocklist         TEXT        PRIMARY KEY,
    kinds             TEXT        NOT NULL,
    synced_generation BIGINT      NOT NULL,
    holder            TEXT,
    lease_until       TIMESTAMPTZ
);

-- One row per list and watched target it takes: the target's interval (the shortest of its
-- watchlists'), and when it is next due (SQLite keeps Unix seconds; an instant here).
CREATE TABLE watch_schedule (
    blocklist        TEXT        NOT NULL,
    target           TEXT        NOT NULL,
    interval_seconds BIGINT      NOT NULL CHECK (interval_seconds > 0),
    due_at           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (blocklist, target)
);
CREATE INDEX watch_schedule_due ON watch_schedule (blocklist, due_at);

-- The planner's priority: the targets a list lists now, and its recent listing events.
CREATE INDEX list_results_listed ON list_results (blocklist) WHERE state = 'listed';
CREATE INDEX listing_events_by_list ON listing_events (blocklist, checked_at);
