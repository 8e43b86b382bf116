-- keyway schema 9 (SQLite): the watch — every connector's audit results over time (so a
-- change from passing to failing, or a partner's new certificate, is seen), and the
-- alerts already sent (each once, whichever node sends it).
CREATE TABLE connector_checks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    connector     TEXT NOT NULL,
    checked_at    BIGINT NOT NULL,
    standing      TEXT NOT NULL,     -- failing, would_break, expiring, passing
    code          TEXT,              -- the diagnosis code of a failure
    summary       TEXT NOT NULL,
    server_sha256 TEXT,              -- the partner's own certificate, as presented
    server_issuer TEXT,
    report        TEXT NOT NULL      -- JSON: the connector's row of `keyway audit --json`
);
CREATE INDEX connector_checks_latest ON connector_checks (connector, id);

CREATE TABLE alerts_sent (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_key TEXT NOT NULL UNIQUE,      -- e.g. expiry:<sha256>:14d, failing:<connector>:<check id>
    queued_at BIGINT NOT NULL,
    delivered BIGINT NOT NULL,       -- 0: queued, tried again at each run until delivered
    payload   TEXT                   -- JSON: the alert, while it waits
);
