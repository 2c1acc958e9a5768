-- Portal and API sessions. Only the SHA-256 of the session token is stored (like invitation
-- tokens), so a copy of the database opens no session. Each session has its own CSRF token,
-- which forms and API writes must echo.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
