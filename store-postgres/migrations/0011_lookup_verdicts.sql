-- Each address's verdicts kept beside its answers (SQLite's 0013 says why and what they mean).
-- original_verdict is ZEN's, generated from response_code; verdict, over every list that
-- answered, is set by the batch writer from it and list_results. answering_lists: the lists
-- other than ZEN that have answered about an address.
ALTER TABLE lookups
    ADD COLUMN original_verdict integer GENERATED ALWAYS AS (
        CASE WHEN response_code ~ '^[0-9]' THEN 1
             WHEN response_code = 'No Response' THEN 0 END) STORED,
    ADD COLUMN verdict integer CHECK (verdict IN (0, 1));
UPDATE lookups SET verdict = CASE
    WHEN original_verdict = 1
         OR EXISTS (SELECT 1 FROM list_results AS r
                    WHERE r.target = lookups.ip_address
                      AND r.blocklist <> 'spamhaus-zen' AND r.state = 'listed') THEN 1
    WHEN original_verdict IS NOT NULL
         OR EXISTS (SELECT 1 FROM list_results AS r
                    WHERE r.target = lookups.ip_address
                      AND r.blocklist <> 'spamhaus-zen' AND r.state <> 'unknown') THEN 0
    END;
CREATE INDEX lookups_by_verdict ON lookups (verdict, updated_at);

CREATE TABLE answering_lists (
    blocklist text NOT NULL PRIMARY KEY
);
INSERT INTO answering_lists (blocklist)
    SELECT DISTINCT r.blocklist FROM list_results AS r
    WHERE r.blocklist <> 'spamhaus-zen' AND r.state <> 'unknown'
      AND EXISTS (SELECT 1 FROM lookups AS l WHERE l.ip_address = r.target);
