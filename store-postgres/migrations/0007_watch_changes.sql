-- The watchlists' change log (SQLite's 0009), so that a list's schedule is brought in line
-- with what changed rather than with every watched target.

-- Each target whose watchlists or shortest interval a watchlist write may have changed, with
-- the generation that write bumped watch_generation to, in the write's transaction. A sync
-- applies the entries after the generation its list was synced at; entries every planned
-- list has passed are deleted.
CREATE TABLE watch_changes (
    generation BIGINT NOT NULL,
    target     TEXT   NOT NULL,
    PRIMARY KEY (generation, target)
);

-- purged_through: the log holds every entry after this generation, and none up to it; a list
-- synced before it is synced in full. Nothing before this migration was logged.
ALTER TABLE watch_generation ADD COLUMN purged_through BIGINT NOT NULL DEFAULT 0
    CHECK (purged_through >= 0);
-- Bumped with generation by every write that logs its changes: a writer that bumps the
-- generation alone (an older replica during a rolling upgrade) fails the check rather than
-- leave a hole in the log that the planner would never see.
ALTER TABLE watch_generation ADD COLUMN logged_generation BIGINT NOT NULL DEFAULT 0;
UPDATE watch_generation SET purged_through = generation, logged_generation = generation;
ALTER TABLE watch_generation ADD CONSTRAINT watch_generation_logged
    CHECK (logged_generation = generation);
