-- queueStatus without reading every job ever done, and done jobs that go after
-- SECWORKS_JOB_RETENTION (PostgreSQL's 0013 holds the same).
--
-- Done and failed jobs are tallied by the writers, in the transaction that marks them (and
-- that deletes done ones): counting them read the whole table. Pending and running jobs are
-- counted from partial indexes: they are the work in flight, not the history. One row here;
-- PostgreSQL spreads its writers over several (`shard`) so replicas do not queue on one.
CREATE TABLE job_tallies (
    shard  INTEGER PRIMARY KEY,
    done   INTEGER NOT NULL,
    failed INTEGER NOT NULL
);
INSERT INTO job_tallies (shard, done, failed)
SELECT 0,
       (SELECT count(*) FROM lookup_jobs WHERE state = 'done'),
       (SELECT count(*) FROM lookup_jobs WHERE state = 'failed');

CREATE INDEX lookup_jobs_running ON lookup_jobs (lease_expires_at) WHERE state = 'running';
-- The retention deletes the oldest done jobs first.
CREATE INDEX lookup_jobs_done ON lookup_jobs (updated_at) WHERE state = 'done';
