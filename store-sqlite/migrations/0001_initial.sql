-- Users who may obtain tokens. Passwords are stored as PHC strings (argon2id).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
) STRICT;

-- The symmetric key that encrypts tokens, created once so that a restart keeps tokens valid.
CREATE TABLE token_keys (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    key        BLOB    NOT NULL CHECK (length(key) = 32),
    created_at TEXT    NOT NULL
) STRICT;

-- Revoked token ids, kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT NOT NULL PRIMARY KEY,
    expires_at TEXT NOT NULL,
    revoked_at TEXT NOT NULL
) STRICT;
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- The current result for each address; uuid and created_at never change once written.
-- Keyed by address alone (one b-tree): it is what every read and write looks up by.
CREATE TABLE lookups (
    ip_address    TEXT NOT NULL PRIMARY KEY,
    uuid          TEXT NOT NULL,
    response_code TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- Durable lookup jobs. At most one pending job per address: enqueueing an address that is
-- already waiting joins the existing job.
CREATE TABLE lookup_jobs (
    id               INTEGER PRIMARY KEY,
    ip_address       TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    run_after        TEXT    NOT NULL,
    lease_expires_at TEXT,
    last_error       TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
) STRICT;
CREATE UNIQUE INDEX lookup_jobs_one_pending_per_address
    ON lookup_jobs (ip_address) WHERE state = 'pending';
CREATE INDEX lookup_jobs_claimable ON lookup_jobs (state, run_after);
