//! [`Accounts`] on PostgreSQL: the same statements as the SQLite
//! implementation, each in one (retried) transaction. Account writes do not
//! bump `store_meta.data_version`: they change no query answer.

use postgres::Row;
use postgres::error::SqlState;

use super::PostgresStore;
use super::sql::Db;
use crate::accounts::{
    Accounts, ApiKey, AuditEvent, AuditQuery, FailureCount, NewApiKey, NewAuditEvent, NewUser, Role, Rotation, User,
    UserId, check_limit, count_u32, stored_role,
};
use crate::{Error, Result};

const USER_COLUMNS: &str = "id, email, password_hash, role, disabled, created_at, password_changed_at, \
     last_login_at, failed_logins, locked_until";

const KEY_COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, revoked_at";

fn to_user(r: &Row, at: usize) -> Result<User> {
    let role: String = r.try_get(at + 3)?;
    Ok(User {
        id: UserId(r.try_get(at)?),
        email: r.try_get(at + 1)?,
        password_hash: r.try_get(at + 2)?,
        role: stored_role(&role)?,
        disabled: r.try_get(at + 4)?,
        created_at: r.try_get(at + 5)?,
        password_changed_at: r.try_get(at + 6)?,
        last_login_at: r.try_get(at + 7)?,
        failed_logins: count_u32(r.try_get(at + 8)?),
        locked_until: r.try_get(at + 9)?,
    })
}

fn to_key(r: &Row, at: usize) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.try_get(at)?,
        user_id: UserId(r.try_get(at + 1)?),
        name: r.try_get(at + 2)?,
        prefix: r.try_get(at + 3)?,
        created_at: r.try_get(at + 4)?,
        last_used_at: r.try_get(at + 5)?,
        revoked_at: r.try_get(at + 6)?,
    })
}

fn is_unique_violation(e: &Error) -> bool {
    matches!(e, Error::Postgres(pg) if pg.code() == Some(&SqlState::UNIQUE_VIOLATION))
}

fn one_user(db: &mut Db<'_, '_>, sql: &str, param: &(dyn postgres::types::ToSql + Sync)) -> Result<Option<User>> {
    db.query_opt(sql, &[param])?.map(|r| to_user(&r, 0)).transpose()
}

impl Accounts for PostgresStore {
    fn create_user(&self, user: &NewUser, now: i64) -> Result<User> {
        let created = self.transaction(|db| {
            let row = db.query_one(
                &format!(
                    "INSERT INTO users (email, password_hash, role, created_at, password_changed_at) \
                     VALUES (?1, ?2, ?3, ?4, ?4) RETURNING {USER_COLUMNS}"
                ),
                &[&user.email, &user.password_hash, &user.role.as_str(), &now],
            )?;
            to_user(&row, 0)
        });
        match created {
            Err(e) if is_unique_violation(&e) => {
                Err(Error::Conflict("an account with this e-mail address exists".into()))
            }
            other => other,
        }
    }

    fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.read(|db| one_user(db, &format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"), &email))
    }

    fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        self.read(|db| one_user(db, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), &id.0))
    }

    fn list_users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>> {
        let limit = check_limit(limit)?;
        let after = after.map_or(i64::MIN, |u| u.0);
        self.read(|db| {
            db.query(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id > ?1 ORDER BY id LIMIT ?2"),
                &[&after, &limit],
            )?
            .iter()
            .map(|r| to_user(r, 0))
            .collect()
        })
    }

    fn set_role(&self, id: UserId, role: Role) -> Result<bool> {
        self.transaction(|db| Ok(db.execute("UPDATE users SET role = ?1 WHERE id = ?2", &[&role.as_str(), &id.0])? > 0))
    }

    fn set_disabled(&self, id: UserId, disabled: bool) -> Result<bool> {
        self.transaction(|db| Ok(db.execute("UPDATE users SET disabled = ?1 WHERE id = ?2", &[&disabled, &id.0])? > 0))
    }

    fn set_password(&self, id: UserId, password_hash: &str, now: i64) -> Result<bool> {
        self.transaction(|db| {
            Ok(db.execute(
                "UPDATE users SET password_hash = ?1, password_changed_at = ?2, failed_logins = 0, \
                 locked_until = NULL WHERE id = ?3",
                &[&password_hash, &now, &id.0],
            )? > 0)
        })
    }

    fn record_login_failure(&self, id: UserId, lock_after: u32, lock_until: i64) -> Result<FailureCount> {
        let lock_after = i64::from(lock_after);
        self.transaction(|db| {
            let row = db
                .query_opt(
                    "UPDATE users SET failed_logins = failed_logins + 1, \
                     locked_until = CASE WHEN failed_logins + 1 >= ?1 THEN greatest(coalesce(locked_until, 0), ?2) \
                                         ELSE locked_until END \
                     WHERE id = ?3 RETURNING failed_logins, locked_until",
                    &[&lock_after, &lock_until, &id.0],
                )?
                .ok_or_else(|| Error::NotFound(format!("user {id}")))?;
            Ok(FailureCount { failures: count_u32(row.try_get(0)?), locked_until: row.try_get(1)? })
        })
    }

    fn record_login_success(&self, id: UserId, now: i64) -> Result<()> {
        self.transaction(|db| {
            db.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ?1 WHERE id = ?2",
                &[&now, &id.0],
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
        self.transaction(|db| {
            db.execute(
                "INSERT INTO refresh_families (id, user_id, created_at) VALUES (?1, ?2, ?3)",
                &[&family, &user.0, &now],
            )?;
            db.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                &[&token_hash, &family, &now, &expires_at],
            )?;
            Ok(())
        })
    }

    fn rotate_refresh(&self, token_hash: &str, new_hash: &str, now: i64, expires_at: i64) -> Result<Rotation> {
        self.transaction(|db| {
            // FOR UPDATE: two concurrent presentations of one token serialise here,
            // so only one can rotate it; the other sees it used.
            let Some(row) = db.query_opt(
                "SELECT f.id, f.user_id, f.revoked_at, t.expires_at, t.used_at \
                 FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
                 WHERE t.token_hash = ?1 FOR UPDATE",
                &[&token_hash],
            )?
            else {
                return Ok(Rotation::Invalid);
            };
            let family: String = row.try_get(0)?;
            let user = UserId(row.try_get(1)?);
            let revoked_at: Option<i64> = row.try_get(2)?;
            let token_expires: i64 = row.try_get(3)?;
            let used_at: Option<i64> = row.try_get(4)?;
            if revoked_at.is_some() {
                return Ok(Rotation::Invalid);
            }
            if used_at.is_some() {
                db.execute(
                    "UPDATE refresh_families SET revoked_at = ?1, revoke_reason = 'reuse' \
                     WHERE id = ?2 AND revoked_at IS NULL",
                    &[&now, &family],
                )?;
                return Ok(Rotation::Reused { user, family });
            }
            if token_expires <= now {
                return Ok(Rotation::Invalid);
            }
            db.execute("UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2", &[&now, &token_hash])?;
            db.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                &[&new_hash, &family, &now, &expires_at],
            )?;
            Ok(Rotation::Rotated { user, family })
        })
    }

    fn revoke_family(&self, user: UserId, family: &str, now: i64, reason: &str) -> Result<bool> {
        self.transaction(|db| {
            Ok(db.execute(
                "UPDATE refresh_families SET revoked_at = ?1, revoke_reason = ?2 \
                 WHERE id = ?3 AND user_id = ?4 AND revoked_at IS NULL",
                &[&now, &reason, &family, &user.0],
            )? > 0)
        })
    }

    fn revoke_user_families(&self, user: UserId, now: i64, reason: &str) -> Result<u64> {
        self.transaction(|db| {
            db.execute(
                "UPDATE refresh_families SET revoked_at = ?1, revoke_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL",
                &[&now, &reason, &user.0],
            )
        })
    }

    fn family_active(&self, user: UserId, family: &str) -> Result<bool> {
        self.read(|db| {
            Ok(db
                .query_opt(
                    "SELECT 1 FROM refresh_families WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                    &[&family, &user.0],
                )?
                .is_some())
        })
    }

    fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKey> {
        let created = self.transaction(|db| {
            let row = db.query_one(
                &format!(
                    "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {KEY_COLUMNS}"
                ),
                &[&key.id, &key.user_id.0, &key.name, &key.key_hash, &key.prefix, &key.created_at],
            )?;
            to_key(&row, 0)
        });
        match created {
            Err(e) if is_unique_violation(&e) => Err(Error::Conflict("an API key with this id or hash exists".into())),
            other => other,
        }
    }

    fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
        self.read(|db| {
            db.query(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = ?1 ORDER BY created_at DESC, id"),
                &[&user.0],
            )?
            .iter()
            .map(|r| to_key(r, 0))
            .collect()
        })
    }

    fn revoke_api_key(&self, owner: Option<UserId>, id: &str, now: i64) -> Result<bool> {
        self.transaction(|db| {
            let n = match owner {
                Some(owner) => db.execute(
                    "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL",
                    &[&now, &id, &owner.0],
                )?,
                None => db.execute(
                    "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                    &[&now, &id],
                )?,
            };
            Ok(n > 0)
        })
    }

    fn revoke_user_api_keys(&self, user: UserId, now: i64) -> Result<u64> {
        self.transaction(|db| {
            db.execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
                &[&now, &user.0],
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
        self.read(|db| match db.query_opt(&sql, &[&key_hash])? {
            Some(r) => Ok(Some((to_key(&r, 0)?, to_user(&r, 7)?))),
            None => Ok(None),
        })
    }

    fn touch_api_key(&self, id: &str, now: i64) -> Result<()> {
        self.transaction(|db| {
            db.execute("UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2", &[&now, &id])?;
            Ok(())
        })
    }

    fn create_password_reset(&self, token_hash: &str, user: UserId, now: i64, expires_at: i64) -> Result<()> {
        self.transaction(|db| {
            db.execute(
                "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                &[&token_hash, &user.0, &now, &expires_at],
            )?;
            Ok(())
        })
    }

    fn consume_password_reset(&self, token_hash: &str, now: i64) -> Result<Option<UserId>> {
        self.transaction(|db| {
            let user: Option<i64> = match db.query_opt(
                "UPDATE password_resets SET used_at = ?1 \
                 WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1 RETURNING user_id",
                &[&now, &token_hash],
            )? {
                Some(r) => Some(r.try_get(0)?),
                None => None,
            };
            if let Some(user) = user {
                db.execute(
                    "UPDATE password_resets SET used_at = ?1 WHERE user_id = ?2 AND used_at IS NULL",
                    &[&now, &user],
                )?;
            }
            Ok(user.map(UserId))
        })
    }

    fn record_audit(&self, event: &NewAuditEvent) -> Result<()> {
        let user = event.user_id.map(|u| u.0);
        let actor = event.actor_id.map(|u| u.0);
        self.transaction(|db| {
            db.execute(
                "INSERT INTO audit_log (at, event, user_id, actor_id, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[&event.at, &event.event, &user, &actor, &event.ip, &event.detail],
            )?;
            Ok(())
        })
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let limit = check_limit(query.limit)?;
        let user = query.user_id.map(|u| u.0);
        let before = query.before_id.unwrap_or(i64::MAX);
        self.read(|db| {
            db.query(
                "SELECT id, at, event, user_id, actor_id, ip, detail FROM audit_log \
                 WHERE (CAST(?1 AS TEXT) IS NULL OR event = ?1) AND (CAST(?2 AS BIGINT) IS NULL OR user_id = ?2) \
                 AND id < ?3 ORDER BY id DESC LIMIT ?4",
                &[&query.event, &user, &before, &limit],
            )?
            .iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    event: r.try_get(2)?,
                    user_id: r.try_get::<_, Option<i64>>(3)?.map(UserId),
                    actor_id: r.try_get::<_, Option<i64>>(4)?.map(UserId),
                    ip: r.try_get(5)?,
                    detail: r.try_get(6)?,
                })
            })
            .collect()
        })
    }
}
