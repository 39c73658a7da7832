-- the schema of data_dir/licences.sqlite3 before schema versions (user_version 0), frozen as shipped
CREATE TABLE IF NOT EXISTS idempotency (
    principal   TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    response    TEXT,
    created_at  REAL NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE TABLE IF NOT EXISTS holders (
    subject  BLOB PRIMARY KEY,
    kind     TEXT NOT NULL,
    display  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    licence_id BLOB NOT NULL,
    tx_hash    TEXT NOT NULL,
    action     TEXT NOT NULL,
    note       TEXT NOT NULL,
    PRIMARY KEY (tx_hash, licence_id)
);
CREATE TABLE IF NOT EXISTS serials (
    licence_id BLOB PRIMARY KEY,
    serial     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metadata (
    licence_id BLOB PRIMARY KEY,
    metadata   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS verifications (
    id          TEXT PRIMARY KEY,
    record_hash BLOB NOT NULL UNIQUE,
    record      TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS verification_licences (
    verification_id TEXT NOT NULL REFERENCES verifications (id),
    licence_id      BLOB NOT NULL,
    PRIMARY KEY (licence_id, verification_id)
);
