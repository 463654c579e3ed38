-- Scoped tokens (SQLite's 0011). Each user holds the scopes an administrator granted,
-- space-separated in the fixed order `read lookup monitor admin` (as a token's `scope` claim
-- and OAuth 2 write them). Users who exist already, the first user and imported users hold all
-- but `admin`: what every user could do before scopes existed.
ALTER TABLE users ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read lookup monitor';

-- Service tokens issued with `secworks token issue`, so that they can be listed and revoked.
-- Never the token itself: its id (jti), name, scopes and lifetime. They go with their user.
CREATE TABLE service_tokens (
    id         BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jti        TEXT        NOT NULL UNIQUE,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT        NOT NULL,
    scopes     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX service_tokens_user_id ON service_tokens (user_id);
