-- Finding results by filter (`lookups`, `/export/lookups`) and each address's job state
-- (SQLite's 0010).

-- The address as inet (SQLite's address_key is hex text ordered the same way), for CIDR
-- ranges (`<<=` uses the btree index) and address order (IPv4 before IPv6, each by number).
-- Generated: every writer and import gets it for free.
ALTER TABLE lookups
    ADD COLUMN address_key inet GENERATED ALWAYS AS (ip_address::inet) STORED;
CREATE INDEX lookups_by_address ON lookups (address_key);
-- Newest change first.
CREATE INDEX lookups_by_change ON lookups (updated_at, ip_address);
-- Addresses ZEN lists now: response_code holds its A records (the original contract), which
-- start with a digit, where other answers are text ('No Response', 'No records found.').
CREATE INDEX lookups_listed ON lookups (updated_at) WHERE response_code ~ '^[0-9]';
-- The latest job of each list for a target: Lookup.state.
CREATE INDEX lookup_jobs_by_target ON lookup_jobs (target, blocklist, id);
