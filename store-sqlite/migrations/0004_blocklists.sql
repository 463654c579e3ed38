-- Many blocklists: a job asks one list about one target (an address or a domain), each list's
-- answer per target is kept, domains have a record like addresses, and each list's queries are
-- counted per UTC day.

-- Jobs are per (target, list). Jobs queued before are Spamhaus ZEN jobs about addresses.
ALTER TABLE lookup_jobs RENAME COLUMN ip_address TO target;
ALTER TABLE lookup_jobs ADD COLUMN blocklist TEXT NOT NULL DEFAULT 'spamhaus-zen';
DROP INDEX lookup_jobs_one_pending_per_address;
CREATE UNIQUE INDEX lookup_jobs_one_pending_per_target
    ON lookup_jobs (target, blocklist) WHERE state = 'pending';
-- What a claim reads: one list's pending jobs due by now, oldest first.
DROP INDEX lookup_jobs_claimable;
CREATE INDEX lookup_jobs_claimable ON lookup_jobs (blocklist, state, run_after);

-- The domain twin of `lookups`: each domain some list answered about.
CREATE TABLE domain_lookups (
    domain     TEXT NOT NULL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Each list's current result for each target. An answer (listed, not listed) stays until a
-- newer answer replaces it; a failed attempt only sets last_error, or, while the list never
-- answered, makes the state unknown. return_codes: the A records, numeric order, joined by
-- ',' ('' for none). The evidence (resolver `ip:port` .. answered_at) is how the current
-- answer, or while unknown the latest failed attempt, was obtained: all set or all null
-- (ttl may be null on its own).
CREATE TABLE list_results (
    target             TEXT    NOT NULL,
    blocklist          TEXT    NOT NULL,
    state              TEXT    NOT NULL CHECK (state IN ('listed', 'not_listed', 'unknown')),
    return_codes       TEXT    NOT NULL,
    reason             TEXT,
    checked_at         TEXT,
    expires_at         TEXT,
    last_error         TEXT,
    resolver           TEXT,
    query_name         TEXT,
    rcode              TEXT,
    ttl                INTEGER CHECK (ttl >= 0),
    test_points_passed INTEGER CHECK (test_points_passed IN (0, 1)),
    answered_at        TEXT,
    PRIMARY KEY (target, blocklist),
    CHECK ((state = 'unknown') = (checked_at IS NULL)),
    CHECK ((checked_at IS NULL) = (expires_at IS NULL)),
    CHECK ((resolver IS NULL) = (query_name IS NULL)
       AND (resolver IS NULL) = (rcode IS NULL)
       AND (resolver IS NULL) = (test_points_passed IS NULL)
       AND (resolver IS NULL) = (answered_at IS NULL)
       AND (resolver IS NOT NULL OR ttl IS NULL)),
    CHECK (state = 'unknown' OR resolver IS NOT NULL)
) STRICT, WITHOUT ROWID;

-- Queries sent to each list per UTC day (YYYY-MM-DD), shared by every process on the
-- database: what a daily budget counts.
CREATE TABLE blocklist_queries (
    blocklist TEXT    NOT NULL,
    day       TEXT    NOT NULL,
    queries   INTEGER NOT NULL CHECK (queries >= 0),
    PRIMARY KEY (blocklist, day)
) STRICT, WITHOUT ROWID;
