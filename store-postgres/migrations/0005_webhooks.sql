-- Webhooks (SQLite's 0007): where listing events are sent. The listing-event log is the
-- outbox: each webhook keeps the id of the last event it delivered (last_event_id, its
-- cursor), and a delivery worker claims it with a lease (lease_token, lease_expires_at;
-- FOR UPDATE SKIP LOCKED) so that two replicas never deliver one webhook's events at once.
CREATE TABLE webhooks (
    id               BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url              TEXT        NOT NULL,
    -- Only events of this watchlist's targets are sent; NULL: every event. No foreign key: a
    -- webhook whose watchlist is deleted sends nothing (and keeps its cursor) until a
    -- watchlist of that name exists again, rather than being deleted or widened with it.
    watchlist        TEXT,
    -- The signing secret (`whsec_…`): a credential, never listed (docs/security.md).
    secret           TEXT        NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    last_event_id    BIGINT      NOT NULL CHECK (last_event_id >= 0),
    -- When the next attempt is due (a retry waits here).
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    -- Attempts that failed in a row, when the run began, and whether it has lasted long
    -- enough to be shown as failing; a success clears all three.
    failures         INTEGER     NOT NULL CHECK (failures >= 0),
    first_failure_at TIMESTAMPTZ,
    failing          BOOLEAN     NOT NULL,
    last_delivery_at TIMESTAMPTZ,
    last_status      INTEGER,
    lease_token      TEXT,
    lease_expires_at TIMESTAMPTZ
);
