-- Webhooks: where listing events are sent. The listing-event log is the outbox: each webhook
-- keeps the id of the last event it delivered (last_event_id, its cursor), and a delivery
-- worker claims it with a lease (lease_token, lease_expires_at) so that two processes never
-- deliver one webhook's events at once.
CREATE TABLE webhooks (
    id               INTEGER NOT NULL PRIMARY KEY,
    url              TEXT    NOT NULL,
    -- Only events of this watchlist's targets are sent; NULL: every event. No foreign key: a
    -- webhook whose watchlist is deleted sends nothing (and keeps its cursor) until a
    -- watchlist of that name exists again, rather than being deleted or widened with it.
    watchlist        TEXT,
    -- The signing secret (`whsec_…`): a credential, never listed (docs/security.md).
    secret           TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    last_event_id    INTEGER NOT NULL CHECK (last_event_id >= 0),
    -- When the next attempt is due (a retry waits here).
    next_attempt_at  TEXT    NOT NULL,
    -- Attempts that failed in a row, when the run began, and whether it has lasted long
    -- enough to be shown as failing; a success clears all three.
    failures         INTEGER NOT NULL CHECK (failures >= 0),
    first_failure_at TEXT,
    failing          INTEGER NOT NULL CHECK (failing IN (0, 1)),
    last_delivery_at TEXT,
    last_status      INTEGER,
    lease_token      TEXT,
    lease_expires_at TEXT
) STRICT;
