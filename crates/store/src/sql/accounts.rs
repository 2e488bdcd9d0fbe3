//! [`Accounts`] written once for every [`SqlStore`]. Writes run in one write
//! transaction each (on SQLite through the store's one writing connection, so
//! they serialise with loads); reads use the pooled connections. Account writes
//! announce no data change: they change no query answer.

use super::{Arg, Conn, Row, SqlStore, args};
use crate::accounts::{
    Accounts, ApiKey, AuditEvent, AuditQuery, FailureCount, NewApiKey, NewAuditEvent, NewUser, NewWebSession, Role,
    Rotation, User, UserId, WebSession, check_limit, count_u32, stored_role,
};
use crate::{Error, Result};

const USER_COLUMNS: &str = "id, email, password_hash, role, disabled, created_at, password_changed_at, \
     last_login_at, failed_logins, locked_until";

const SESSION_COLUMNS: &str = "id_hash, user_id, created_at, last_seen_at, expires_at";

const KEY_COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, revoked_at";

/// A user from [`USER_COLUMNS`], starting at column `at`.
fn to_user(r: &dyn Row, at: usize) -> Result<User> {
    Ok(User {
        id: UserId(r.get(at)?),
        email: r.get(at + 1)?,
        password_hash: r.get(at + 2)?,
        role: stored_role(&r.get::<String>(at + 3)?)?,
        disabled: r.get(at + 4)?,
        created_at: r.get(at + 5)?,
        password_changed_at: r.get(at + 6)?,
        last_login_at: r.get(at + 7)?,
        failed_logins: count_u32(r.get(at + 8)?),
        locked_until: r.get(at + 9)?,
    })
}

/// An API key from [`KEY_COLUMNS`], starting at column `at`.
fn to_key(r: &dyn Row, at: usize) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(at)?,
        user_id: UserId(r.get(at + 1)?),
        name: r.get(at + 2)?,
        prefix: r.get(at + 3)?,
        created_at: r.get(at + 4)?,
        last_used_at: r.get(at + 5)?,
        revoked_at: r.get(at + 6)?,
    })
}

fn one_user(db: &mut dyn Conn, by: &str, value: Arg) -> Result<Option<User>> {
    db.query_opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE {by} = ?1"), &[value], |r| to_user(r, 0))
}

/// `Ok(changed > 0)`.
fn changed(n: Result<u64>) -> Result<bool> {
    Ok(n? > 0)
}

impl<S: SqlStore> Accounts for S {
    fn create_user(&self, user: &NewUser, now: i64) -> Result<User> {
        let created = self.write(|db| {
            db.query_one(
                &format!(
                    "INSERT INTO users (email, password_hash, role, created_at, password_changed_at) \
                     VALUES (?1, ?2, ?3, ?4, ?4) RETURNING {USER_COLUMNS}"
                ),
                &args![&user.email, &user.password_hash, user.role.as_str(), now],
                |r| to_user(r, 0),
            )
        });
        match created {
            Err(e) if self.dialect().is_unique_violation(&e) => {
                Err(Error::Conflict("an account with this e-mail address exists".into()))
            }
            other => other,
        }
    }

    fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.read(|db| one_user(db, "email", email.into()))
    }

    fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        self.read(|db| one_user(db, "id", id.0.into()))
    }

    fn list_users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>> {
        let limit = check_limit(limit)?;
        let after = after.map_or(i64::MIN, |u| u.0);
        self.read(|db| {
            db.query(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id > ?1 ORDER BY id LIMIT ?2"),
                &args![after, limit],
                |r| to_user(r, 0),
            )
        })
    }

    fn set_role(&self, id: UserId, role: Role) -> Result<bool> {
        self.write(|db| changed(db.execute("UPDATE users SET role = ?1 WHERE id = ?2", &args![role.as_str(), id.0])))
    }

    fn set_disabled(&self, id: UserId, disabled: bool) -> Result<bool> {
        self.write(|db| changed(db.execute("UPDATE users SET disabled = ?1 WHERE id = ?2", &args![disabled, id.0])))
    }

    fn set_password(&self, id: UserId, password_hash: &str, now: i64) -> Result<bool> {
        self.write(|db| {
            changed(db.execute(
                "UPDATE users SET password_hash = ?1, password_changed_at = ?2, failed_logins = 0, \
                 locked_until = NULL WHERE id = ?3",
                &args![password_hash, now, id.0],
            ))
        })
    }

    fn record_login_failure(&self, id: UserId, lock_after: u32, lock_until: i64) -> Result<FailureCount> {
        let greatest = self.dialect().greatest();
        let row = self.write(|db| {
            db.query_opt(
                &format!(
                    "UPDATE users SET failed_logins = failed_logins + 1, \
                     locked_until = CASE WHEN failed_logins + 1 >= ?1 THEN {greatest}(coalesce(locked_until, 0), ?2) \
                                         ELSE locked_until END \
                     WHERE id = ?3 RETURNING failed_logins, locked_until"
                ),
                &args![i64::from(lock_after), lock_until, id.0],
                |r| Ok(FailureCount { failures: count_u32(r.get(0)?), locked_until: r.get(1)? }),
            )
        })?;
        row.ok_or_else(|| Error::NotFound(format!("user {id}")))
    }

    fn record_login_success(&self, id: UserId, now: i64) -> Result<()> {
        self.write(|db| {
            db.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ?1 WHERE id = ?2",
                &args![now, id.0],
            )?;
            Ok(())
        })
    }

    fn create_refresh_family(
        &self,
        family: &str,
        user: UserId,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.write(|db| {
            db.execute(
                "INSERT INTO refresh_families (id, user_id, created_at) VALUES (?1, ?2, ?3)",
                &args![family, user.0, now],
            )?;
            db.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                &args![token_hash, family, now, expires_at],
            )?;
            Ok(())
        })
    }

    fn rotate_refresh(&self, token_hash: &str, new_hash: &str, now: i64, expires_at: i64) -> Result<Rotation> {
        let for_update = self.dialect().for_update();
        self.write(|db| {
            // Locked (PostgreSQL) or inside the one write transaction (SQLite): two
            // concurrent presentations of one token serialise here, so only one can
            // rotate it; the other sees it used.
            let found = db.query_opt(
                &format!(
                    "SELECT f.id, f.user_id, f.revoked_at, t.expires_at, t.used_at \
                     FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
                     WHERE t.token_hash = ?1{for_update}"
                ),
                &args![token_hash],
                |r| {
                    let revoked_at: Option<i64> = r.get(2)?;
                    let used_at: Option<i64> = r.get(4)?;
                    Ok((r.get::<String>(0)?, UserId(r.get(1)?), revoked_at, r.get::<i64>(3)?, used_at))
                },
            )?;
            let Some((family, user, revoked_at, token_expires, used_at)) = found else {
                return Ok(Rotation::Invalid);
            };
            if revoked_at.is_some() {
                return Ok(Rotation::Invalid);
            }
            if used_at.is_some() {
                db.execute(
                    "UPDATE refresh_families SET revoked_at = ?1, revoke_reason = 'reuse' \
                     WHERE id = ?2 AND revoked_at IS NULL",
                    &args![now, &family],
                )?;
                return Ok(Rotation::Reused { user, family });
            }
            if token_expires <= now {
                return Ok(Rotation::Invalid);
            }
            db.execute("UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2", &args![now, token_hash])?;
            db.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                &args![new_hash, &family, now, expires_at],
            )?;
            Ok(Rotation::Rotated { user, family })
        })
    }

    fn revoke_family(&self, user: UserId, family: &str, now: i64, reason: &str) -> Result<bool> {
        self.write(|db| {
            changed(db.execute(
                "UPDATE refresh_families SET revoked_at = ?1, revoke_reason = ?2 \
                 WHERE id = ?3 AND user_id = ?4 AND revoked_at IS NULL",
                &args![now, reason, family, user.0],
            ))
        })
    }

    fn revoke_user_families(&self, user: UserId, now: i64, reason: &str) -> Result<u64> {
        self.write(|db| {
            db.execute(
                "UPDATE refresh_families SET revoked_at = ?1, revoke_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL",
                &args![now, reason, user.0],
            )
        })
    }

    fn family_active(&self, user: UserId, family: &str) -> Result<bool> {
        self.read(|db| {
            Ok(db
                .query_opt(
                    "SELECT 1 FROM refresh_families WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                    &args![family, user.0],
                    |_| Ok(()),
                )?
                .is_some())
        })
    }

    fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKey> {
        let created = self.write(|db| {
            db.query_one(
                &format!(
                    "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {KEY_COLUMNS}"
                ),
                &args![&key.id, key.user_id.0, &key.name, &key.key_hash, &key.prefix, key.created_at],
                |r| to_key(r, 0),
            )
        });
        match created {
            Err(e) if self.dialect().is_unique_violation(&e) => {
                Err(Error::Conflict("an API key with this id or hash exists".into()))
            }
            other => other,
        }
    }

    fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
        self.read(|db| {
            db.query(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = ?1 ORDER BY created_at DESC, id"),
                &args![user.0],
                |r| to_key(r, 0),
            )
        })
    }

    fn revoke_api_key(&self, owner: Option<UserId>, id: &str, now: i64) -> Result<bool> {
        self.write(|db| {
            changed(match owner {
                Some(owner) => db.execute(
                    "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL",
                    &args![now, id, owner.0],
                ),
                None => db.execute(
                    "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                    &args![now, id],
                ),
            })
        })
    }

    fn revoke_user_api_keys(&self, user: UserId, now: i64) -> Result<u64> {
        self.write(|db| {
            db.execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
                &args![now, user.0],
            )
        })
    }

    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<(ApiKey, User)>> {
        let user_cols: String = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
        let key_cols: String = KEY_COLUMNS.split(", ").map(|c| format!("k.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {key_cols}, {user_cols} FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = ?1 AND k.revoked_at IS NULL"
        );
        self.read(|db| db.query_opt(&sql, &args![key_hash], |r| Ok((to_key(r, 0)?, to_user(r, 7)?))))
    }

    fn touch_api_key(&self, id: &str, now: i64) -> Result<()> {
        self.write(|db| {
            db.execute("UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2", &args![now, id])?;
            Ok(())
        })
    }

    fn create_password_reset(&self, token_hash: &str, user: UserId, now: i64, expires_at: i64) -> Result<()> {
        self.write(|db| {
            // One live token per account: a new one ends the older ones.
            db.execute(
                "UPDATE password_resets SET used_at = ?1 WHERE user_id = ?2 AND used_at IS NULL",
                &args![now, user.0],
            )?;
            db.execute(
                "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                &args![token_hash, user.0, now, expires_at],
            )?;
            Ok(())
        })
    }

    fn consume_password_reset(&self, token_hash: &str, now: i64) -> Result<Option<UserId>> {
        self.write(|db| {
            let user: Option<i64> = db.query_opt(
                "UPDATE password_resets SET used_at = ?1 \
                 WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1 RETURNING user_id",
                &args![now, token_hash],
                |r| r.get(0),
            )?;
            if let Some(user) = user {
                // One reset per request: the user's other outstanding tokens die too.
                db.execute(
                    "UPDATE password_resets SET used_at = ?1 WHERE user_id = ?2 AND used_at IS NULL",
                    &args![now, user],
                )?;
            }
            Ok(user.map(UserId))
        })
    }

    fn create_web_session(&self, session: &NewWebSession) -> Result<()> {
        self.write(|db| {
            db.execute(
                "INSERT INTO web_sessions (id_hash, user_id, created_at, last_seen_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?3, ?4)",
                &args![&session.id_hash, session.user_id.0, session.created_at, session.expires_at],
            )?;
            Ok(())
        })
    }

    fn web_session(&self, id_hash: &str) -> Result<Option<(WebSession, User)>> {
        let session_cols: String = SESSION_COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
        let user_cols: String = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {session_cols}, {user_cols} FROM web_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = ?1"
        );
        self.read(|db| {
            db.query_opt(&sql, &args![id_hash], |r| {
                let session = WebSession {
                    id_hash: r.get(0)?,
                    user_id: UserId(r.get(1)?),
                    created_at: r.get(2)?,
                    last_seen_at: r.get(3)?,
                    expires_at: r.get(4)?,
                };
                Ok((session, to_user(r, 5)?))
            })
        })
    }

    fn touch_web_session(&self, id_hash: &str, now: i64) -> Result<bool> {
        let greatest = self.dialect().greatest();
        self.write(|db| {
            changed(db.execute(
                &format!("UPDATE web_sessions SET last_seen_at = {greatest}(last_seen_at, ?1) WHERE id_hash = ?2"),
                &args![now, id_hash],
            ))
        })
    }

    fn end_web_session(&self, id_hash: &str) -> Result<Option<UserId>> {
        self.write(|db| {
            let user: Option<i64> =
                db.query_opt("DELETE FROM web_sessions WHERE id_hash = ?1 RETURNING user_id", &args![id_hash], |r| {
                    r.get(0)
                })?;
            Ok(user.map(UserId))
        })
    }

    fn end_user_web_sessions(&self, user: UserId) -> Result<u64> {
        self.write(|db| db.execute("DELETE FROM web_sessions WHERE user_id = ?1", &args![user.0]))
    }

    fn purge_web_sessions(&self, now: i64, idle_before: i64) -> Result<u64> {
        self.write(|db| {
            db.execute(
                "DELETE FROM web_sessions WHERE expires_at <= ?1 OR last_seen_at <= ?2",
                &args![now, idle_before],
            )
        })
    }

    fn record_audit(&self, event: &NewAuditEvent) -> Result<()> {
        self.write(|db| {
            db.execute(
                "INSERT INTO audit_log (at, event, user_id, actor_id, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &args![
                    event.at,
                    &event.event,
                    event.user_id.map(|u| u.0),
                    event.actor_id.map(|u| u.0),
                    event.ip.as_deref(),
                    &event.detail
                ],
            )?;
            Ok(())
        })
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let limit = check_limit(query.limit)?;
        self.read(|db| {
            db.query(
                "SELECT id, at, event, user_id, actor_id, ip, detail FROM audit_log \
                 WHERE (CAST(?1 AS TEXT) IS NULL OR event = ?1) AND (CAST(?2 AS BIGINT) IS NULL OR user_id = ?2) \
                 AND id < ?3 ORDER BY id DESC LIMIT ?4",
                &args![query.event.as_deref(), query.user_id.map(|u| u.0), query.before_id.unwrap_or(i64::MAX), limit],
                |r| {
                    Ok(AuditEvent {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        event: r.get(2)?,
                        user_id: r.get::<Option<i64>>(3)?.map(UserId),
                        actor_id: r.get::<Option<i64>>(4)?.map(UserId),
                        ip: r.get(5)?,
                        detail: r.get(6)?,
                    })
                },
            )
        })
    }
}
