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

-- Each claim gets a token; an outcome counts only if its job still holds the claim's token, so
-- a job whose lease ran out and was claimed again is never stored twice.
ALTER TABLE lookup_jobs ADD COLUMN lease_token TEXT;
