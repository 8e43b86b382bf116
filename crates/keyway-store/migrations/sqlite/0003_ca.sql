-- keyway schema 3 (SQLite): keyway's CA — its certificates, its keys sealed with the
-- master key, the record of every certificate it issued and the CRL number.

-- At most one row: keyway's CA.
CREATE TABLE ca (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    root             TEXT NOT NULL,         -- PEM
    intermediate     TEXT,                  -- PEM, when an intermediate signs
    root_key         TEXT NOT NULL,         -- PKCS#8, sealed with the master key
    intermediate_key TEXT,                  -- PKCS#8, sealed
    next_crl_number  BIGINT NOT NULL,
    origin           TEXT NOT NULL,         -- created | imported from DIR
    created_at       BIGINT NOT NULL
);

-- Every certificate keyway's CA issued (to users, servers, or anyone named as owner).
CREATE TABLE ca_issued (
    serial        TEXT PRIMARY KEY,         -- lower-case hex, no leading zero octets
    sha256        TEXT NOT NULL UNIQUE,     -- lower-case hex, no colons
    subject       TEXT NOT NULL,
    owner         TEXT,
    profile       TEXT NOT NULL,            -- client | server
    not_before    BIGINT NOT NULL,
    not_after     BIGINT NOT NULL,
    certificate   TEXT NOT NULL,            -- PEM
    revoked_at    BIGINT,
    revoke_reason TEXT,
    created_at    BIGINT NOT NULL
);
