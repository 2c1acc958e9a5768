-- People an organization's admin adds (issue 24: "ask your admins to add you" leads
-- somewhere). A new person has no password until they choose one from the link mailed to
-- them: each link kept as the SHA-256 of its token, used once, until it expires.
CREATE TABLE welcomes (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX welcomes_user ON welcomes (user_id);

-- A person an admin removed: kept for the audit log's sake, unable to log in.
ALTER TABLE users ADD COLUMN removed_at BIGINT;
