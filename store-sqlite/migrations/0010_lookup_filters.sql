-- Finding results by filter (`lookups`, `/export/lookups`) and each address's job state.
--
-- address_key orders addresses by number within a family: '4' or '6', then the address's
-- bytes in lower-case hex (IPv4 8 digits, IPv6 32), so a CIDR range is one BETWEEN. Written
-- with every lookups row; rows from before are filled in once when the store opens (SQLite
-- has no function to read an address), and a row without one is never found by a range.
ALTER TABLE lookups ADD COLUMN address_key TEXT
    CHECK (address_key IS NULL OR length(address_key) IN (9, 33));
CREATE UNIQUE INDEX lookups_by_address ON lookups (address_key);
-- Newest change first (the index holds ip_address too: the table's key).
CREATE INDEX lookups_by_change ON lookups (updated_at, ip_address);
-- Addresses ZEN lists now: response_code holds its A records (the original contract), which
-- start with a digit, where other answers are text ('No Response', 'No records found.').
CREATE INDEX lookups_listed ON lookups (updated_at) WHERE response_code GLOB '[0-9]*';
-- The latest job of each list for a target: Lookup.state.
CREATE INDEX lookup_jobs_by_target ON lookup_jobs (target, blocklist, id);
