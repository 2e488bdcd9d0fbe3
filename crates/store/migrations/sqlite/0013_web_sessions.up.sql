-- Browser sessions of the dashboard (issue 20). The session id lives only in
-- the visitor's cookie; the store keeps its SHA-256 digest. Times are Unix
-- seconds from the authentication engine's clock: a session ends when it has
-- been idle too long (last_seen_at) or at expires_at (its absolute lifetime),
-- whichever comes first; the engine decides, the store only records.

CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
