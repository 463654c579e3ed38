-- secworks on PostgreSQL: the schema of the SQLite migrations 0001-0003 in one step, with the
-- same tables, columns and constraints. Instants are timestamptz (microseconds, like the
-- stored text format); the store converts them to and from RFC 3339 text at its boundary.

-- Users who may obtain tokens. Names compare and sort bytewise ("C"), as in SQLite.
CREATE TABLE users (
    id                BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username          TEXT        COLLATE "C" NOT NULL UNIQUE,
    -- PHC string (argon2id), or a hash imported from pysecworks.
    password_hash     TEXT        NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    -- Tokens the user was issued before this instant are refused; NULL for never.
    tokens_not_before TIMESTAMPTZ
);

-- The symmetric key that encrypts tokens, created once so that a restart keeps tokens valid.
CREATE TABLE token_keys (
    id         INTEGER     PRIMARY KEY CHECK (id = 1),
    key        BYTEA       NOT NULL CHECK (length(key) = 32),
    created_at TIMESTAMPTZ NOT NULL
);

-- Revoked token ids, kept until the token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT        PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);

-- The current result for each address; uuid and created_at never change once written.
CREATE TABLE lookups (
    ip_address    TEXT        PRIMARY KEY,
    uuid          TEXT        NOT NULL,
    response_code TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- Durable lookup jobs. At most one pending job per address: enqueueing an address that is
-- already waiting joins the existing job. Each claim gets a lease token; an outcome counts
-- only if its job still holds the claim's token, so a job whose lease ran out and was claimed
-- again is never stored twice.
CREATE TABLE lookup_jobs (
    id               BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ip_address       TEXT        NOT NULL,
    state            TEXT        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts         BIGINT      NOT NULL DEFAULT 0,
    run_after        TIMESTAMPTZ NOT NULL,
    lease_expires_at TIMESTAMPTZ,
    lease_token      TEXT,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX lookup_jobs_one_pending_per_address
    ON lookup_jobs (ip_address) WHERE state = 'pending';
-- What a claim reads, in the order it claims.
CREATE INDEX lookup_jobs_claimable ON lookup_jobs (run_after, id) WHERE state = 'pending';
-- What reclaiming expired leases reads.
CREATE INDEX lookup_jobs_leased ON lookup_jobs (lease_expires_at) WHERE state = 'running';

-- Every lookup attempt's outcome, newest last: an answer (response_code) or an error, never
-- both. The current result stays in `lookups`; errors never overwrite it.
CREATE TABLE lookup_history (
    id            BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ip_address    TEXT        NOT NULL,
    looked_up_at  TIMESTAMPTZ NOT NULL,
    response_code TEXT,
    error         TEXT,
    CHECK ((response_code IS NULL) <> (error IS NULL))
);
CREATE INDEX lookup_history_by_address ON lookup_history (ip_address, id);
