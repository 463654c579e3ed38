-- The watchlists' change log, so that a list's schedule is brought in line with what changed
-- rather than with every watched target.

-- Each target whose watchlists or shortest interval a watchlist write may have changed, with
-- the generation that write bumped watch_generation to. A sync applies the entries after the
-- generation its list was synced at; entries every planned list has passed are deleted.
CREATE TABLE watch_changes (
    generation INTEGER NOT NULL,
    target     TEXT    NOT NULL,
    PRIMARY KEY (generation, target)
) STRICT, WITHOUT ROWID;

-- purged_through: the log holds every entry after this generation, and none up to it; a list
-- synced before it is synced in full. Nothing before this migration was logged.
-- logged_generation: bumped with generation by every write that logs its changes, so a
-- writer that bumps without logging fails the check rather than leave a hole in the log.
ALTER TABLE watch_generation ADD COLUMN purged_through INTEGER NOT NULL DEFAULT 0
    CHECK (purged_through >= 0);
ALTER TABLE watch_generation ADD COLUMN logged_generation INTEGER NOT NULL DEFAULT 0
    CHECK (logged_generation = generation);
UPDATE watch_generation SET purged_through = generation, logged_generation = generation;
