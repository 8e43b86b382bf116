-- keyway schema 4 (SQLite): named keystores — a keystore file as it was given (JKS,
-- JCEKS, PKCS#12, PEM) with its passwords, all sealed with the master key; what it holds
-- is kept in plain beside it (certificates are public) so listing needs no secret.
CREATE TABLE keystores (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL UNIQUE,
    format         TEXT NOT NULL,           -- jks | jceks | pkcs12 | pem
    content        TEXT NOT NULL,           -- the file's bytes, sealed
    store_password TEXT NOT NULL,           -- sealed
    key_password   TEXT,                    -- sealed; NULL: the store password
    alias          TEXT,                    -- the key entry connectors present; NULL: the only one
    entries        TEXT NOT NULL,           -- JSON: alias, kind, chain (PEM) of every entry
    source         TEXT NOT NULL,           -- what it was read from
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    version        BIGINT NOT NULL
);
