-- keyway schema 6 (SQLite): CRLs of outside CAs (a partner CA that issues client
-- certificates the gateway accepts), one per issuer: the newest imported. Checked
-- against the CA that signed it when imported; public, so kept in plain.
CREATE TABLE crls (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    issuer       TEXT NOT NULL UNIQUE,     -- the issuer's name as printed
    der          TEXT NOT NULL,            -- the CRL, base64 of its DER
    number       TEXT NOT NULL,            -- CRL number in hex; '-' when it has none
    this_update  BIGINT NOT NULL,
    next_update  BIGINT,
    revoked      BIGINT NOT NULL,          -- how many certificates it lists
    signed_by    TEXT NOT NULL,            -- truststore NAME | keyway's CA
    source       TEXT NOT NULL,            -- what it was read from
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL
);
