//! Storage of accounts and their credentials: users, refresh-token families,
//! API keys, password-reset tokens, login-failure (lockout) state and the
//! security audit trail, behind one trait, [`Accounts`], implemented by both
//! backends (migration 0006).
//!
//! The store holds no secrets and makes no security decisions: the
//! authentication engine (`ntsb-auth`) hashes every password (argon2id) and
//! every random token or key (SHA-256) before it gets here, supplies the time
//! (Unix seconds, from its own injectable clock) and decides what a lookup
//! means. What the store guarantees is atomicity where a race would be a hole:
//! rotating a refresh token, consuming a reset token and counting a login
//! failure are each one statement or one transaction, so two concurrent
//! requests can never both use the same single-use secret.

use serde::Serialize;

use crate::{Error, Result};

/// A user's internal id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What an account may do. Ordered by privilege: `Free < Premium < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The default tier: the smallest daily quota.
    Free,
    /// A paying tier: a larger daily quota.
    Premium,
    /// Operators: every endpoint, no quota.
    Admin,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 3] = [Role::Free, Role::Premium, Role::Admin];

    /// The stored and API name: `free`, `premium` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Free => "free",
            Role::Premium => "premium",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name (exact, lowercase).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored account. `password_hash` is an argon2id PHC string, never a password.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Internal id.
    pub id: UserId,
    /// Normalised (trimmed, lowercase) e-mail address; unique.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// What the account may do.
    pub role: Role,
    /// A disabled account cannot log in, and its tokens and keys stop working.
    pub disabled: bool,
    /// When the account was made (Unix seconds).
    pub created_at: i64,
    /// When the password was last set (Unix seconds).
    pub password_changed_at: i64,
    /// Last successful login (Unix seconds).
    pub last_login_at: Option<i64>,
    /// Consecutive failed logins since the last success.
    pub failed_logins: u32,
    /// Logins are refused until this time (Unix seconds), after too many failures.
    pub locked_until: Option<i64>,
}

impl std::fmt::Debug for User {
    // The hash stays out of debug output (and so out of any log line).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("failed_logins", &self.failed_logins)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// A user to create.
#[derive(Clone)]
pub struct NewUser {
    /// Normalised e-mail address.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Initial role.
    pub role: Role,
}

/// Login-failure state after one more failure was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// Consecutive failures, this one included.
    pub failures: u32,
    /// Set when this failure locked the account (or it was already locked).
    pub locked_until: Option<i64>,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now used, and the new one is stored.
    Rotated {
        /// Owner of the family.
        user: UserId,
        /// The family (session) id, unchanged by rotation.
        family: String,
    },
    /// The token was already used once: someone replayed it. Its whole family
    /// is now revoked (the legitimate holder's newer token dies too).
    Reused {
        /// Owner of the family.
        user: UserId,
        /// The revoked family.
        family: String,
    },
    /// The token is unknown, expired, or its family was revoked before.
    Invalid,
}

/// A stored API key (the key itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// Public id (random, not secret), used to list and revoke.
    pub id: String,
    /// Owner.
    pub user_id: UserId,
    /// The owner's label for it.
    pub name: String,
    /// First characters of the key, so the owner can tell keys apart.
    pub prefix: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// Last time it authenticated a request (Unix seconds, about a minute's precision).
    pub last_used_at: Option<i64>,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<i64>,
}

/// An API key to store.
#[derive(Clone)]
pub struct NewApiKey {
    /// Public id.
    pub id: String,
    /// Owner.
    pub user_id: UserId,
    /// Label.
    pub name: String,
    /// SHA-256 hex of the key.
    pub key_hash: String,
    /// First characters of the key.
    pub prefix: String,
    /// Creation time (Unix seconds).
    pub created_at: i64,
}

/// One security event, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// When (Unix seconds).
    pub at: i64,
    /// Event name, e.g. `login_failure`, `key_created`, `rate_limited`.
    pub event: String,
    /// The account concerned, if known.
    pub user_id: Option<UserId>,
    /// The account that acted (an admin changing a role), if different.
    pub actor_id: Option<UserId>,
    /// Client address, if known.
    pub ip: Option<String>,
    /// Free text without secrets (route, reason).
    pub detail: String,
}

/// A recorded security event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// Increasing id (the paging cursor).
    pub id: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// Event name.
    pub event: String,
    /// Account concerned.
    pub user_id: Option<UserId>,
    /// Account that acted.
    pub actor_id: Option<UserId>,
    /// Client address.
    pub ip: Option<String>,
    /// Details.
    pub detail: String,
}

/// A browser session of the dashboard, to store. Its id is a random secret
/// kept only in the visitor's cookie; the store sees its SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebSession {
    /// SHA-256 hex of the session id.
    pub id_hash: String,
    /// Who signed in.
    pub user_id: UserId,
    /// Sign-in time (Unix seconds); also the first `last_seen_at`.
    pub created_at: i64,
    /// End of its absolute lifetime (Unix seconds).
    pub expires_at: i64,
}

/// A stored browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// SHA-256 hex of the session id.
    pub id_hash: String,
    /// Who signed in.
    pub user_id: UserId,
    /// Sign-in time (Unix seconds).
    pub created_at: i64,
    /// Last request seen with it (Unix seconds; written about once a minute).
    pub last_seen_at: i64,
    /// End of its absolute lifetime (Unix seconds).
    pub expires_at: i64,
}

/// Which audit events to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this event name.
    pub event: Option<String>,
    /// Only events concerning this account.
    pub user_id: Option<UserId>,
    /// Only events older than this id (paging).
    pub before_id: Option<i64>,
    /// At most this many (1..=1000).
    pub limit: usize,
}

/// The storage of accounts and credentials. Every method is one atomic step.
pub trait Accounts: Send + Sync {
    /// Creates a user; [`Error::Conflict`] when the e-mail address is taken.
    fn create_user(&self, user: &NewUser, now: i64) -> Result<User>;
    /// The user with this (normalised) e-mail address.
    fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// The user with this id.
    fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    /// Users in id order, after `after`, at most `limit`.
    fn list_users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>>;
    /// Changes a role; false when there is no such user.
    fn set_role(&self, id: UserId, role: Role) -> Result<bool>;
    /// Disables or enables an account; false when there is no such user.
    fn set_disabled(&self, id: UserId, disabled: bool) -> Result<bool>;
    /// Replaces the password hash; false when there is no such user.
    fn set_password(&self, id: UserId, password_hash: &str, now: i64) -> Result<bool>;

    /// Counts one more consecutive failed login, atomically; locks the account
    /// until `lock_until` when the count reaches `lock_after`.
    fn record_login_failure(&self, id: UserId, lock_after: u32, lock_until: i64) -> Result<FailureCount>;
    /// Clears the failure count and lock, and notes the login time.
    fn record_login_success(&self, id: UserId, now: i64) -> Result<()>;

    /// Starts a session: a refresh family with its first token (by hash).
    fn create_refresh_family(
        &self,
        family: &str,
        user: UserId,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// Presents a refresh token (by hash), atomically: a current token is
    /// marked used and `new_hash` stored in its family; a used one revokes the
    /// family ([`Rotation::Reused`]); anything else is [`Rotation::Invalid`].
    fn rotate_refresh(&self, token_hash: &str, new_hash: &str, now: i64, expires_at: i64) -> Result<Rotation>;
    /// Revokes one family (logout); false when it does not exist or belongs to
    /// another user.
    fn revoke_family(&self, user: UserId, family: &str, now: i64, reason: &str) -> Result<bool>;
    /// Revokes every family of a user (password change, disabling); returns how many.
    fn revoke_user_families(&self, user: UserId, now: i64, reason: &str) -> Result<u64>;
    /// Whether a session (family) of this user is still open.
    fn family_active(&self, user: UserId, family: &str) -> Result<bool>;

    /// Stores a new API key.
    fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKey>;
    /// A user's keys, revoked ones included, newest first.
    fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>>;
    /// Revokes a key. With `owner`, only a key of that user (another user's
    /// key id is treated as unknown); false when nothing was revoked.
    fn revoke_api_key(&self, owner: Option<UserId>, id: &str, now: i64) -> Result<bool>;
    /// Revokes every key of a user; returns how many.
    fn revoke_user_api_keys(&self, user: UserId, now: i64) -> Result<u64>;
    /// The active (not revoked) key with this hash and its owner.
    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<(ApiKey, User)>>;
    /// Notes that a key was used now.
    fn touch_api_key(&self, id: &str, now: i64) -> Result<()>;

    /// Stores a password-reset token (by hash), ending the user's older unused
    /// ones in the same transaction: one live token per account.
    fn create_password_reset(&self, token_hash: &str, user: UserId, now: i64, expires_at: i64) -> Result<()>;
    /// Uses a reset token, atomically: returns its user when it was unused and
    /// not expired, and marks it (and the user's other reset tokens) used.
    fn consume_password_reset(&self, token_hash: &str, now: i64) -> Result<Option<UserId>>;

    /// Stores a new browser session.
    fn create_web_session(&self, session: &NewWebSession) -> Result<()>;
    /// The browser session with this id digest and its user, expired or not
    /// (the engine judges expiry with its own clock).
    fn web_session(&self, id_hash: &str) -> Result<Option<(WebSession, User)>>;
    /// Notes a request seen with the session now; false when it is gone.
    fn touch_web_session(&self, id_hash: &str, now: i64) -> Result<bool>;
    /// Deletes one browser session (sign-out, expiry); its user when it existed.
    fn end_web_session(&self, id_hash: &str) -> Result<Option<UserId>>;
    /// Deletes every browser session of a user (password change, disabling); how many.
    fn end_user_web_sessions(&self, user: UserId) -> Result<u64>;
    /// Deletes the sessions that ended by `now`: past their absolute end, or
    /// last seen at or before `idle_before`; how many.
    fn purge_web_sessions(&self, now: i64, idle_before: i64) -> Result<u64>;

    /// Appends a security event.
    fn record_audit(&self, event: &NewAuditEvent) -> Result<()>;
    /// Security events, newest first.
    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;
}

/// Largest page of users or audit events.
pub const MAX_PAGE: usize = 1000;

/// Rejects page sizes outside 1..=[`MAX_PAGE`].
pub(crate) fn check_limit(limit: usize) -> Result<i64> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::InvalidQuery {
            parameter: "limit".into(),
            reason: format!("must be between 1 and {MAX_PAGE}, got {limit}"),
        });
    }
    Ok(limit as i64)
}

/// Reads a stored role, refusing anything the schema's check should have kept out.
pub(crate) fn stored_role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| Error::Corrupt(format!("unknown role {s:?} in users")))
}

/// Clamps a stored count into `u32`.
pub(crate) fn count_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_are_ordered_by_privilege() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert!(Role::Free < Role::Premium && Role::Premium < Role::Admin);
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn debug_output_of_a_user_hides_the_password_hash() {
        let u = User {
            id: UserId(1),
            email: "a@b.c".into(),
            password_hash: "$argon2id$secret".into(),
            role: Role::Free,
            disabled: false,
            created_at: 0,
            password_changed_at: 0,
            last_login_at: None,
            failed_logins: 0,
            locked_until: None,
        };
        assert!(!format!("{u:?}").contains("argon2id"));
    }
}
