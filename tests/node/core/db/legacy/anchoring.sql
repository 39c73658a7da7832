-- the schema of data_dir/anchoring.sqlite3 before schema versions (user_version 0), frozen as shipped
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_hash BLOB NOT NULL UNIQUE,
    batch_id INTEGER,
    submitted_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_unbatched ON docs(batch_id, seq);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    root BLOB NOT NULL,
    leaf_count INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    tx_hash BLOB,
    block_number INTEGER,
    block_hash BLOB,
    block_time INTEGER,
    confirmed_at REAL,
    anchor_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS batches_status ON batches(status, id);
CREATE TABLE IF NOT EXISTS txs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id INTEGER NOT NULL,
    nonce INTEGER NOT NULL,
    tx_hash BLOB NOT NULL UNIQUE,
    raw BLOB NOT NULL,
    fee_cap INTEGER NOT NULL,
    tip INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS txs_batch ON txs(batch_id, state);
