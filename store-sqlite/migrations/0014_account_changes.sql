-- A counter of changes to what decides whether a sealed token still stands: revocations,
-- users removed or added, and each user's tokens_not_before. Every server keeps those facts
-- in memory and reads only this counter every few hundred milliseconds, reloading them when
-- it moved, so a change made by another process (a replica, or `secworks token revoke`)
-- counts within a bounded delay without a read per request (PostgreSQL's 0012 holds the
-- same). Triggers bump it in the transaction that makes the change, so no writer can forget
-- to. Purging expired revocations does not bump it: those tokens are refused as expired.
CREATE TABLE account_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO account_changes (id, version) VALUES (1, 0);

CREATE TRIGGER account_changes_on_revocation AFTER INSERT ON revoked_tokens
BEGIN
    UPDATE account_changes SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER account_changes_on_new_user AFTER INSERT ON users
BEGIN
    UPDATE account_changes SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER account_changes_on_removed_user AFTER DELETE ON users
BEGIN
    UPDATE account_changes SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER account_changes_on_not_before AFTER UPDATE OF tokens_not_before ON users
    WHEN OLD.tokens_not_before IS NOT NEW.tokens_not_before
BEGIN
    UPDATE account_changes SET version = version + 1 WHERE id = 1;
END;
