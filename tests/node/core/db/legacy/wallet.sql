-- the schema of data_dir/wallet.sqlite3 before schema versions (user_version 0), frozen as shipped
CREATE TABLE IF NOT EXISTS enterprises (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uscc TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    address TEXT NOT NULL UNIQUE,
    custody TEXT NOT NULL,
    keystore TEXT,
    data_key BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    login TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    kek_salt BLOB NOT NULL,
    wrapped_passphrase BLOB,
    agent_address TEXT,
    agent_keystore TEXT,
    assets TEXT,
    actions TEXT,
    until INTEGER,
    created_by INTEGER,
    created_at REAL NOT NULL,
    UNIQUE (enterprise_id, login)
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    wrapped_passphrase BLOB
);
CREATE INDEX IF NOT EXISTS sessions_person ON sessions(person_id);
CREATE TABLE IF NOT EXISTS materials (
    id TEXT PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    doc_hash BLOB NOT NULL,
    name TEXT NOT NULL,
    folder TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    state TEXT NOT NULL,
    filed_by TEXT NOT NULL,
    filed_by_kind TEXT NOT NULL,
    filed_at REAL NOT NULL,
    anchor_submitted INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    anchored_at INTEGER,
    confirmed_by TEXT,
    confirmed_at REAL,
    file_deleted_at REAL,
    UNIQUE (enterprise_id, doc_hash)
);
CREATE INDEX IF NOT EXISTS materials_state ON materials(state, anchor_submitted);
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    asset_id TEXT NOT NULL,
    asset_kind TEXT NOT NULL,
    grantee TEXT NOT NULL,
    purpose TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses INTEGER NOT NULL,
    tx_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_tx TEXT,
    revoked_at REAL,
    revoked_by TEXT
);
CREATE INDEX IF NOT EXISTS grants_enterprise ON grants(enterprise_id, created_at);
CREATE TABLE IF NOT EXISTS uses (
    tx_hash TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    grant_id TEXT NOT NULL,
    enterprise_id INTEGER NOT NULL,
    grantee TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    uses INTEGER NOT NULL,
    block_number INTEGER NOT NULL,
    redeemed_at REAL NOT NULL,
    PRIMARY KEY (tx_hash, log_index)
);
CREATE TABLE IF NOT EXISTS fetch_nonces (
    grantee TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (grantee, nonce)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id INTEGER NOT NULL,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_enterprise ON events(enterprise_id, id);
CREATE TABLE IF NOT EXISTS presentations (
    statement_hash TEXT PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    presenter TEXT NOT NULL,
    asset_ids TEXT NOT NULL,
    audience TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS presentations_enterprise ON presentations(enterprise_id, created_at);
