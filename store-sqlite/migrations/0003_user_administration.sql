-- Tokens a user was issued before this instant are refused: `secworks token revoke-all`, a
-- password change and the removal of the user set it. RFC 3339 UTC, or NULL for never.
ALTER TABLE users ADD COLUMN tokens_not_before TEXT;
