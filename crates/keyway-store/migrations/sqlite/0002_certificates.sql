-- keyway schema 2 (SQLite): users' client certificates, key pairs waiting for a CA's
-- signature, named truststores.

-- A key pair made for a user, with the CSR sent to a CA; removed when the signed
-- certificate is uploaded.
CREATE TABLE pending_keys (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subject        TEXT NOT NULL,
    key_type       TEXT NOT NULL,
    public_key_sha256 TEXT NOT NULL UNIQUE, -- of the SubjectPublicKeyInfo: finds the key an upload is for
    sealed_key     TEXT NOT NULL,           -- PKCS#8, sealed with the master key
    csr            TEXT NOT NULL,           -- PEM
    created_at     BIGINT NOT NULL
);
CREATE INDEX pending_keys_user ON pending_keys (user_id);

CREATE TABLE client_certificates (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sha256        TEXT NOT NULL UNIQUE,    -- lower-case hex, no colons: what the gateway looks up
    origin        TEXT NOT NULL,           -- uploaded | issued
    subject       TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    serial        TEXT NOT NULL,
    not_before    BIGINT NOT NULL,
    not_after     BIGINT NOT NULL,
    key_type      TEXT NOT NULL,
    certificate   TEXT NOT NULL,           -- PEM, the leaf
    chain         TEXT NOT NULL,           -- PEM, the CAs above it
    sealed_key    TEXT,                    -- PKCS#8 sealed; NULL when the key is kept elsewhere
    revoked_at    BIGINT,
    revoke_reason TEXT,
    created_at    BIGINT NOT NULL,
    version       BIGINT NOT NULL
);
CREATE INDEX client_certificates_user ON client_certificates (user_id);

CREATE TABLE truststores (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE,
    certificates TEXT NOT NULL,            -- PEM bundle
    source       TEXT NOT NULL,            -- what it was read from
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL
);
