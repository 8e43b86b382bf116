-- keyway schema 8 (SQLite): how people and programs reach the admin API:
-- login sessions and API tokens. Only SHA-256 digests of their secrets are kept.
CREATE TABLE api_sessions (
    digest       TEXT PRIMARY KEY,  -- SHA-256 (hex) of the session cookie's value
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf         TEXT NOT NULL,     -- the token unsafe requests made with the cookie must carry
    origin       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL    -- the absolute end, whatever the activity
);
CREATE INDEX api_sessions_user ON api_sessions (user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    digest       TEXT NOT NULL UNIQUE, -- SHA-256 (hex) of the token
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,               -- NULL: until revoked
    last_used_at BIGINT,
    last_origin  TEXT,
    UNIQUE (user_id, name)
);
