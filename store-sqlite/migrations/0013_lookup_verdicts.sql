-- Each address's verdicts kept beside its answers, so that `listed` filters over many results
-- are index ranges rather than a test of every row (benches/filters.rs). Real columns written
-- by secworks: an index on an expression or a generated column does not cover in SQLite, and
-- reading a million rows to count them is what this avoids.
--
-- original_verdict is ZEN's, from response_code (the CHECK holds the rule): its A records when
-- it lists the address (they start with a digit), 'No Response' when it answered that it does
-- not, other text while it never answered. 1 listed, 0 not listed, NULL no answer.
--
-- verdict is every list's that answered about the address: 1 when ZEN or another list lists
-- it now, 0 when one answered and none lists it, NULL when none answered. The batch writer
-- sets it in the transaction that writes the answers (from original_verdict and
-- list_results). It is what the filters mean while every list that has answered counts (see
-- answering_lists); when one that answered no longer counts, they test each row instead.
--
-- SQLite adds a checked column only by rebuilding the table (nothing references lookups; its
-- indexes are made again below).
CREATE TABLE lookups_rebuilt (
    ip_address       TEXT NOT NULL PRIMARY KEY,
    uuid             TEXT NOT NULL,
    response_code    TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    address_key      TEXT CHECK (address_key IS NULL OR length(address_key) IN (9, 33)),
    original_verdict INTEGER CHECK (original_verdict IS
        CASE WHEN response_code GLOB '[0-9]*' THEN 1
             WHEN response_code = 'No Response' THEN 0 END),
    verdict          INTEGER CHECK (verdict IN (0, 1))
) STRICT, WITHOUT ROWID;
INSERT INTO lookups_rebuilt (ip_address, uuid, response_code, created_at, updated_at,
                             address_key, original_verdict)
    SELECT ip_address, uuid, response_code, created_at, updated_at, address_key,
           CASE WHEN response_code GLOB '[0-9]*' THEN 1
                WHEN response_code = 'No Response' THEN 0 END
    FROM lookups;
UPDATE lookups_rebuilt SET verdict = CASE
    WHEN original_verdict = 1
         OR EXISTS (SELECT 1 FROM list_results AS r
                    WHERE r.target = lookups_rebuilt.ip_address
                      AND r.blocklist <> 'spamhaus-zen' AND r.state = 'listed') THEN 1
    WHEN original_verdict IS NOT NULL
         OR EXISTS (SELECT 1 FROM list_results AS r
                    WHERE r.target = lookups_rebuilt.ip_address
                      AND r.blocklist <> 'spamhaus-zen' AND r.state <> 'unknown') THEN 0
    END;
DROP TABLE lookups;
ALTER TABLE lookups_rebuilt RENAME TO lookups;

-- Newest change first (every index holds ip_address too: the table's key), with the verdict,
-- so that a walk that tests it reads the table only for the rows it keeps.
CREATE INDEX lookups_by_change ON lookups (updated_at, ip_address, verdict);
-- By verdict, newest change first: `listed: true` / `false` pages and counts are one range.
CREATE INDEX lookups_by_verdict ON lookups (verdict, updated_at);
-- Address order, holding what the other filters test, so that a range's or a watchlist's page
-- and count read this index alone and fetch only the rows a page returns.
CREATE INDEX lookups_by_address ON lookups (address_key, verdict, updated_at);

-- The lists other than ZEN ('spamhaus-zen') that have answered about an address: written with
-- their answers, never removed. `verdict` means what the filters mean while each of them counts.
CREATE TABLE answering_lists (
    blocklist TEXT NOT NULL PRIMARY KEY
) STRICT, WITHOUT ROWID;
INSERT INTO answering_lists (blocklist)
    SELECT DISTINCT r.blocklist FROM list_results AS r
    WHERE r.blocklist <> 'spamhaus-zen' AND r.state <> 'unknown'
      AND EXISTS (SELECT 1 FROM lookups AS l WHERE l.ip_address = r.target);
