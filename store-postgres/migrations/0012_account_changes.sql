-- A counter of changes to what decides whether a sealed token still stands: revocations,
-- users removed or added, and each user's tokens_not_before (SQLite's 0014 holds the same).
-- Every replica keeps those facts in memory and reads only this counter every few hundred
-- milliseconds, reloading them when it moved, so a change made elsewhere counts within a
-- bounded delay without a read per request. Row triggers bump it in the transaction that
-- makes the change (only for rows that changed: a revocation already recorded, or a user
-- update that keeps tokens_not_before, moves nothing); the row lock they take orders
-- concurrent changes. Purging expired revocations does not bump it: those tokens are
-- refused as expired.
CREATE TABLE account_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO account_changes (id, version) VALUES (1, 0);

CREATE FUNCTION account_changes_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_changes SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER account_changes_on_revocation AFTER INSERT ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION account_changes_bump();
CREATE TRIGGER account_changes_on_users AFTER INSERT OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION account_changes_bump();
CREATE TRIGGER account_changes_on_not_before AFTER UPDATE OF tokens_not_before ON users
    FOR EACH ROW WHEN (OLD.tokens_not_before IS DISTINCT FROM NEW.tokens_not_before)
    EXECUTE FUNCTION account_changes_bump();
