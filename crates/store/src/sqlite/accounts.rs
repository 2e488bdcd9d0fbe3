//! [`Accounts`] on SQLite. Writes go through the store's one writing
//! connection (so they serialise with loads, as SQLite requires); reads use the
//! pooled read-only connections. Account writes do not bump the store's own
//! commit counter: they change no query answer.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::SqliteStore;
use crate::accounts::{
    Accounts, ApiKey, AuditEvent, AuditQuery, FailureCount, NewApiKey, NewAuditEvent, NewUser, Role, Rotation, User,
    UserId, check_limit, count_u32, stored_role,
};
use crate::{Error, Result};

const USER_COLUMNS: &str = "id, email, password_hash, role, disabled, created_at, password_changed_at, \
     last_login_at, failed_logins, locked_until";

const KEY_COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, revoked_at";

fn user_row(r: &Row<'_>, at: usize) -> rusqlite::Result<RawUser> {
    Ok((
        r.get(at)?,
        r.get(at + 1)?,
        r.get(at + 2)?,
        r.get(at + 3)?,
        r.get::<_, i64>(at + 4)? != 0,
        r.get(at + 5)?,
        r.get(at + 6)?,
        r.get(at + 7)?,
        r.get(at + 8)?,
        r.get(at + 9)?,
    ))
}

/// A refresh token and its family: family id, owner, family revoked at,
/// token expires at, token used at.
type RefreshRow = (String, i64, Option<i64>, i64, Option<i64>);

type RawUser = (i64, String, String, String, bool, i64, i64, Option<i64>, i64, Option<i64>);

fn to_user(raw: RawUser) -> Result<User> {
    let (id, email, password_hash, role, disabled, created_at, password_changed_at, last_login_at, failed, locked) =
        raw;
    Ok(User {
        id: UserId(id),
        email,
        password_hash,
        role: stored_role(&role)?,
        disabled,
        created_at,
        password_changed_at,
        last_login_at,
        failed_logins: count_u32(failed),
        locked_until: locked,
    })
}

fn key_row(r: &Row<'_>, at: usize) -> rusqlite::Result<ApiKey> {
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

fn one_user(conn: &Connection, sql: &str, param: &dyn rusqlite::ToSql) -> Result<Option<User>> {
    let raw = conn.prepare_cached(sql)?.query_row([param], |r| user_row(r, 0)).optional()?;
    raw.map(to_user).transpose()
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == rusqlite::ErrorCode::ConstraintViolation
            && f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl Accounts for SqliteStore {
    fn create_user(&self, user: &NewUser, now: i64) -> Result<User> {
        let conn = self.ready()?;
        let inserted = conn
            .prepare_cached(
                "INSERT INTO users (email, password_hash, role, created_at, password_changed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![user.email, user.password_hash, user.role.as_str(), now]);
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::Conflict("an account with this e-mail address exists".into()));
            }
            Err(e) => return Err(e.into()),
        }
        let id = conn.last_insert_rowid();
        one_user(&conn, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), &id)?
            .ok_or_else(|| Error::Corrupt("a user just inserted is missing".into()))
    }

    fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let conn = self.reader()?;
        one_user(&conn, &format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1"), &email)
    }

    fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let conn = self.reader()?;
        one_user(&conn, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), &id.0)
    }

    fn list_users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>> {
        let limit = check_limit(limit)?;
        let conn = self.reader()?;
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id > ?1 ORDER BY id LIMIT ?2"))?;
        let raws = stmt
            .query_map(params![after.map_or(i64::MIN, |u| u.0), limit], |r| user_row(r, 0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(to_user).collect()
    }

    fn set_role(&self, id: UserId, role: Role) -> Result<bool> {
        let conn = self.ready()?;
        Ok(conn.prepare_cached("UPDATE users SET role = ?1 WHERE id = ?2")?.execute(params![role.as_str(), id.0])? > 0)
    }

    fn set_disabled(&self, id: UserId, disabled: bool) -> Result<bool> {
        let conn = self.ready()?;
        Ok(conn
            .prepare_cached("UPDATE users SET disabled = ?1 WHERE id = ?2")?
            .execute(params![i64::from(disabled), id.0])?
            > 0)
    }

    fn set_password(&self, id: UserId, password_hash: &str, now: i64) -> Result<bool> {
        let conn = self.ready()?;
        Ok(conn
            .prepare_cached(
                "UPDATE users SET password_hash = ?1, password_changed_at = ?2, failed_logins = 0, \
                 locked_until = NULL WHERE id = ?3",
            )?
            .execute(params![password_hash, now, id.0])?
            > 0)
    }

    fn record_login_failure(&self, id: UserId, lock_after: u32, lock_until: i64) -> Result<FailureCount> {
        let conn = self.ready()?;
        let row: Option<(i64, Option<i64>)> = conn
            .prepare_cached(
                "UPDATE users SET failed_logins = failed_logins + 1, \
                 locked_until = CASE WHEN failed_logins + 1 >= ?1 THEN max(coalesce(locked_until, 0), ?2) \
                                     ELSE locked_until END \
                 WHERE id = ?3 RETURNING failed_logins, locked_until",
            )?
            .query_row(params![i64::from(lock_after), lock_until, id.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (failures, locked_until) = row.ok_or_else(|| Error::NotFound(format!("user {id}")))?;
        Ok(FailureCount { failures: count_u32(failures), locked_until })
    }

    fn record_login_success(&self, id: UserId, now: i64) -> Result<()> {
        let conn = self.ready()?;
        conn.prepare_cached(
            "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ?1 WHERE id = ?2",
        )?
        .execute(params![now, id.0])?;
        Ok(())
    }

    fn create_refresh_family(
        &self,
        family: &str,
        user: UserId,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        let mut conn = self.ready()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached("INSERT INTO refresh_families (id, user_id, created_at) VALUES (?1, ?2, ?3)")?
            .execute(params![family, user.0, now])?;
        tx.prepare_cached(
            "INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![token_hash, family, now, expires_at])?;
        tx.commit()?;
        Ok(())
    }

    fn rotate_refresh(&self, token_hash: &str, new_hash: &str, now: i64, expires_at: i64) -> Result<Rotation> {
        let mut conn = self.ready()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<RefreshRow> = tx
            .prepare_cached(
                "SELECT f.id, f.user_id, f.revoked_at, t.expires_at, t.used_at \
                 FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.token_hash = ?1",
            )?
            .query_row([token_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .optional()?;
        let Some((family, user, revoked_at, token_expires, used_at)) = found else { return Ok(Rotation::Invalid) };
        if revoked_at.is_some() {
            return Ok(Rotation::Invalid);
        }
        if used_at.is_some() {
            tx.prepare_cached(
                "UPDATE refresh_families SET revoked_at = ?1, revoke_reason = 'reuse' WHERE id = ?2 AND revoked_at IS NULL",
            )?
            .execute(params![now, family])?;
            tx.commit()?;
            return Ok(Rotation::Reused { user: UserId(user), family });
        }
        if token_expires <= now {
            return Ok(Rotation::Invalid);
        }
        tx.prepare_cached("UPDATE refresh_tokens SET used_at = ?1 WHERE token_hash = ?2")?
            .execute(params![now, token_hash])?;
        tx.prepare_cached(
            "INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![new_hash, family, now, expires_at])?;
        tx.commit()?;
        Ok(Rotation::Rotated { user: UserId(user), family })
    }

    fn revoke_family(&self, user: UserId, family: &str, now: i64, reason: &str) -> Result<bool> {
        let conn = self.ready()?;
        Ok(conn
            .prepare_cached(
                "UPDATE refresh_families SET revoked_at = ?1, revoke_reason = ?2 \
                 WHERE id = ?3 AND user_id = ?4 AND revoked_at IS NULL",
            )?
            .execute(params![now, reason, family, user.0])?
            > 0)
    }

    fn revoke_user_families(&self, user: UserId, now: i64, reason: &str) -> Result<u64> {
        let conn = self.ready()?;
        let n = conn
            .prepare_cached(
                "UPDATE refresh_families SET revoked_at = ?1, revoke_reason = ?2 WHERE user_id = ?3 AND revoked_at IS NULL",
            )?
            .execute(params![now, reason, user.0])?;
        Ok(n as u64)
    }

    fn family_active(&self, user: UserId, family: &str) -> Result<bool> {
        let conn = self.reader()?;
        let found: Option<i64> = conn
            .prepare_cached("SELECT 1 FROM refresh_families WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL")?
            .query_row(params![family, user.0], |r| r.get(0))
            .optional()?;
        Ok(found.is_some())
    }

    fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKey> {
        let conn = self.ready()?;
        conn.prepare_cached(
            "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![key.id, key.user_id.0, key.name, key.key_hash, key.prefix, key.created_at])
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::Conflict("an API key with this id or hash exists".into())
            } else {
                e.into()
            }
        })?;
        Ok(ApiKey {
            id: key.id.clone(),
            user_id: key.user_id,
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            created_at: key.created_at,
            last_used_at: None,
            revoked_at: None,
        })
    }

    fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = ?1 ORDER BY created_at DESC, id"
        ))?;
        Ok(stmt.query_map([user.0], |r| key_row(r, 0))?.collect::<rusqlite::Result<_>>()?)
    }

    fn revoke_api_key(&self, owner: Option<UserId>, id: &str, now: i64) -> Result<bool> {
        let conn = self.ready()?;
        let n = match owner {
            Some(owner) => conn
                .prepare_cached(
                    "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND user_id = ?3 AND revoked_at IS NULL",
                )?
                .execute(params![now, id, owner.0])?,
            None => conn
                .prepare_cached("UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")?
                .execute(params![now, id])?,
        };
        Ok(n > 0)
    }

    fn revoke_user_api_keys(&self, user: UserId, now: i64) -> Result<u64> {
        let conn = self.ready()?;
        let n = conn
            .prepare_cached("UPDATE api_keys SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL")?
            .execute(params![now, user.0])?;
        Ok(n as u64)
    }

    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<(ApiKey, User)>> {
        let conn = self.reader()?;
        let user_cols: String = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
        let key_cols: String = KEY_COLUMNS.split(", ").map(|c| format!("k.{c}")).collect::<Vec<_>>().join(", ");
        let found = conn
            .prepare_cached(&format!(
                "SELECT {key_cols}, {user_cols} FROM api_keys k JOIN users u ON u.id = k.user_id \
                 WHERE k.key_hash = ?1 AND k.revoked_at IS NULL"
            ))?
            .query_row([key_hash], |r| Ok((key_row(r, 0)?, user_row(r, 7)?)))
            .optional()?;
        match found {
            Some((key, raw)) => Ok(Some((key, to_user(raw)?))),
            None => Ok(None),
        }
    }

    fn touch_api_key(&self, id: &str, now: i64) -> Result<()> {
        let conn = self.ready()?;
        conn.prepare_cached("UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2")?.execute(params![now, id])?;
        Ok(())
    }

    fn create_password_reset(&self, token_hash: &str, user: UserId, now: i64, expires_at: i64) -> Result<()> {
        let conn = self.ready()?;
        conn.prepare_cached(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![token_hash, user.0, now, expires_at])?;
        Ok(())
    }

    fn consume_password_reset(&self, token_hash: &str, now: i64) -> Result<Option<UserId>> {
        let mut conn = self.ready()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let user: Option<i64> = tx
            .prepare_cached(
                "UPDATE password_resets SET used_at = ?1 \
                 WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1 RETURNING user_id",
            )?
            .query_row(params![now, token_hash], |r| r.get(0))
            .optional()?;
        if let Some(user) = user {
            // One reset per request: the user's other outstanding tokens die too.
            tx.prepare_cached("UPDATE password_resets SET used_at = ?1 WHERE user_id = ?2 AND used_at IS NULL")?
                .execute(params![now, user])?;
        }
        tx.commit()?;
        Ok(user.map(UserId))
    }

    fn record_audit(&self, event: &NewAuditEvent) -> Result<()> {
        let conn = self.ready()?;
        conn.prepare_cached(
            "INSERT INTO audit_log (at, event, user_id, actor_id, ip, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            event.at,
            event.event,
            event.user_id.map(|u| u.0),
            event.actor_id.map(|u| u.0),
            event.ip,
            event.detail
        ])?;
        Ok(())
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let limit = check_limit(query.limit)?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, event, user_id, actor_id, ip, detail FROM audit_log \
             WHERE (?1 IS NULL OR event = ?1) AND (?2 IS NULL OR user_id = ?2) AND id < ?3 \
             ORDER BY id DESC LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![query.event, query.user_id.map(|u| u.0), query.before_id.unwrap_or(i64::MAX), limit],
            |r| {
                Ok(AuditEvent {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    event: r.get(2)?,
                    user_id: r.get::<_, Option<i64>>(3)?.map(UserId),
                    actor_id: r.get::<_, Option<i64>>(4)?.map(UserId),
                    ip: r.get(5)?,
                    detail: r.get(6)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
