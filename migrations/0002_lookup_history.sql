-- Every lookup attempt's outcome, newest last: an answer (response_code) or an error, never
-- both. The current result stays in `lookups`; errors never overwrite it.
CREATE TABLE lookup_history (
    id            INTEGER PRIMARY KEY,
    ip_address    TEXT NOT NULL,
    looked_up_at  TEXT NOT NULL,
    response_code TEXT,
    error         TEXT,
    CHECK ((response_code IS NULL) <> (error IS NULL))
) STRICT;
CREATE INDEX lookup_history_by_address ON lookup_history (ip_address, id);

-- Claiming looks for running jobs whose lease ran out, too.
CREATE INDEX lookup_jobs_leases ON lookup_jobs (state, lease_expires_at);
