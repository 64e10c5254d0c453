-- The append-only transparency log (RFC 9162): one leaf per logged event, and every complete
-- subtree hash, so that proofs need O(log n) look-ups. Erasing an event never touches these rows.
CREATE TABLE log_entries (
    idx       INTEGER PRIMARY KEY,
    event_id  BLOB    NOT NULL UNIQUE,
    leaf      BLOB    NOT NULL,
    logged_at INTEGER NOT NULL
);

CREATE TABLE log_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- Tree heads the node signed (kind-3961 events), newest last.
CREATE TABLE tree_heads (
    size      INTEGER PRIMARY KEY,
    root      BLOB    NOT NULL,
    timestamp INTEGER NOT NULL,
    event     TEXT    NOT NULL
);

-- The anchoring service's own index of what it recorded on chain.
CREATE TABLE anchors (
    size         INTEGER PRIMARY KEY,
    root         BLOB    NOT NULL,
    chain_id     INTEGER NOT NULL,
    contract     TEXT    NOT NULL,
    operator     TEXT    NOT NULL,
    anchor_index INTEGER NOT NULL,
    tx_hash      TEXT    NOT NULL,
    block_number INTEGER NOT NULL,
    block_time   INTEGER NOT NULL,
    event        TEXT    NOT NULL
);
