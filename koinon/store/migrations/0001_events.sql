-- Events, their indexed single-letter tags, and NIP-09 deletion tombstones.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    id         BLOB    NOT NULL UNIQUE,
    pubkey     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    kind       INTEGER NOT NULL,
    d_tag      TEXT,
    json       TEXT    NOT NULL
);
CREATE INDEX events_by_time ON events (created_at DESC, id);
CREATE INDEX events_by_author ON events (pubkey, created_at DESC);
CREATE INDEX events_by_kind ON events (kind, created_at DESC);
CREATE INDEX events_by_address ON events (pubkey, kind, d_tag);

CREATE TABLE tags (
    seq        INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX tags_by_value ON tags (name, value, created_at DESC);
CREATE INDEX tags_by_event ON tags (seq);

-- An event id that `pubkey` asked to delete (kind 5 `e` tag). Keyed by both, so that someone
-- else's request for the same id cannot take the row; only the author's own blocks the id.
CREATE TABLE deleted_ids (
    id     BLOB NOT NULL,
    pubkey BLOB NOT NULL,
    PRIMARY KEY (id, pubkey)
) WITHOUT ROWID;

-- Versions of a replaceable or addressable event up to `until` are deleted (kind 5 `a` tag).
CREATE TABLE deleted_addresses (
    pubkey BLOB    NOT NULL,
    kind   INTEGER NOT NULL,
    d_tag  TEXT    NOT NULL,
    until  INTEGER NOT NULL,
    PRIMARY KEY (pubkey, kind, d_tag)
) WITHOUT ROWID;
