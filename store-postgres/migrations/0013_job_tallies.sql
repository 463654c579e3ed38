-- queueStatus without reading every job ever done, and done jobs that go after
-- SECWORKS_JOB_RETENTION (SQLite's 0015 holds the same).
--
-- Done and failed jobs are tallied by the writers, in the transaction that marks them (and
-- that deletes done ones): counting them read the whole table. Each transaction adds to one
-- of eight rows (`shard`, picked at random) just before its listing events, so replicas
-- storing batches at the same time rarely wait on one row; a reader sums them. The counts
-- start from the jobs there now: replicas of an older version still running after this
-- migration do not add to them (upgrade every replica together; docs/scaling.md). Pending and running jobs are
-- counted from their partial indexes (lookup_jobs_one_pending_per_target, lookup_jobs_leased):
-- the work in flight, not the history.
CREATE TABLE job_tallies (
    shard  INTEGER PRIMARY KEY,
    done   BIGINT  NOT NULL,
    failed BIGINT  NOT NULL
);
INSERT INTO job_tallies (shard, done, failed)
SELECT 0,
       (SELECT count(*) FROM lookup_jobs WHERE state = 'done'),
       (SELECT count(*) FROM lookup_jobs WHERE state = 'failed');
INSERT INTO job_tallies (shard, done, failed) SELECT shard, 0, 0 FROM generate_series(1, 7) AS shard;

-- The retention deletes the oldest done jobs first.
CREATE INDEX lookup_jobs_done ON lookup_jobs (updated_at) WHERE state = 'done';
