-- the schema of data_dir/indexer.sqlite3 before schema versions (user_version 0), frozen as shipped
CREATE TABLE IF NOT EXISTS events (
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    contract TEXT NOT NULL,
    address TEXT NOT NULL,
    event TEXT NOT NULL,
    args TEXT NOT NULL,
    block_hash TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    block_time INTEGER NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX IF NOT EXISTS events_by_name ON events(contract, event);
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS progress (id INTEGER PRIMARY KEY CHECK (id = 0), height INTEGER);
