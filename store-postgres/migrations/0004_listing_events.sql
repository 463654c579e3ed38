-- The listing-event log (SQLite's 0006): every change of a target's status on a list
-- (listed, delisted, listed with other codes), appended in the transaction that stores the
-- answer. Never updated or deleted.
CREATE TABLE listing_events (
    id                    BIGINT      PRIMARY KEY,
    checked_at            TIMESTAMPTZ NOT NULL,
    target                TEXT        NOT NULL,
    blocklist             TEXT        NOT NULL,
    change                TEXT        NOT NULL CHECK (change IN ('listed', 'delisted', 'changed')),
    -- checked_at: when the answer came (list_results.checked_at). A records, numeric order, joined by ',' ('' for none), as in list_results.
    return_codes          TEXT        NOT NULL,
    previous_return_codes TEXT        NOT NULL,
    reason                TEXT
);
CREATE INDEX listing_events_by_target ON listing_events (target, id);

-- The last event id given out. Not a sequence: a sequence hands out ids when rows are
-- inserted, but transactions commit in their own order, so a reader could see id 11 commit,
-- move its cursor past it, and never see id 10, committed a moment later. Bumping this one
-- row (UPDATE … RETURNING) in the transaction that writes the events locks it until that
-- transaction ends: the next writer of events gets its ids only after the previous one has
-- committed, so ids are in commit order and a cursor is safe to resume from. Writers of
-- events queue on this row; events are rare, and it is the last lock their transaction takes.
CREATE TABLE listing_event_ids (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last BIGINT  NOT NULL CHECK (last >= 0)
);
INSERT INTO listing_event_ids (id, last) VALUES (1, 0);
