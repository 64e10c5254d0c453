-- Only replaceable and addressable events have an address (d_tag NOT NULL); regular events, the
-- bulk of the store, need not pay for maintaining this index on every insert.
DROP INDEX events_by_address;
CREATE INDEX events_by_address ON events (pubkey, kind, d_tag) WHERE d_tag IS NOT NULL;
