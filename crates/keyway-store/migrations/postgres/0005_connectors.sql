-- keyway schema 5 (PostgreSQL): TLS profiles, connectors and integrations — what a
-- keyway.toml describes, kept in the store. References are foreign keys, so a truststore,
-- keystore, profile or connector still in use cannot be removed.

CREATE TABLE profiles (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    definition  TEXT NOT NULL,                      -- JSON: what [profiles.NAME] says
    keystore    TEXT REFERENCES keystores (name),   -- the identity it presents
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL
);

CREATE TABLE profile_truststores (
    profile_id  BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    truststore  TEXT NOT NULL REFERENCES truststores (name),
    PRIMARY KEY (profile_id, truststore)
);

CREATE TABLE connectors (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    definition    TEXT NOT NULL,                    -- JSON: [connectors.NAME] without its password
    profile       TEXT REFERENCES profiles (name),
    auth_username TEXT,
    auth_password TEXT,                             -- sealed with the master key
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    version       BIGINT NOT NULL
);

-- What partners call on the gateway: /integrations/NAME/… runs through the connector.
CREATE TABLE integrations (
    id               BIGSERIAL PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    connector        TEXT NOT NULL REFERENCES connectors (name),
    description      TEXT NOT NULL,
    require_password BIGINT NOT NULL,               -- 1: basic auth required on top of the certificate
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    version          BIGINT NOT NULL
);
