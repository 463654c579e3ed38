-- The listing-event log: every change of a target's status on a list (listed, delisted,
-- listed with other codes), appended in the transaction that stores the answer. Never
-- updated or deleted.
CREATE TABLE listing_events (
    id                    INTEGER NOT NULL PRIMARY KEY,
    checked_at            TEXT    NOT NULL,
    target                TEXT    NOT NULL,
    blocklist             TEXT    NOT NULL,
    change                TEXT    NOT NULL CHECK (change IN ('listed', 'delisted', 'changed')),
    -- checked_at: when the answer came (list_results.checked_at). A records, numeric order, joined by ',' ('' for none), as in list_results.
    return_codes          TEXT    NOT NULL,
    previous_return_codes TEXT    NOT NULL,
    reason                TEXT
) STRICT;
CREATE INDEX listing_events_by_target ON listing_events (target, id);

-- The last event id given out. Event ids come from this one row, bumped in the transaction
-- that writes the events, so that ids are in commit order on every backend (see the
-- PostgreSQL migration; SQLite's single writer orders them anyway).
CREATE TABLE listing_event_ids (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL CHECK (last >= 0)
) STRICT;
INSERT INTO listing_event_ids (id, last) VALUES (1, 0);
