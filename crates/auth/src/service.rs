//! [`Auth`]: every account operation, as the HTTP layer and the CLI call it.
//!
//! Methods are `async` because rate limiting talks to a [`CounterStore`] that
//! may be remote; store calls and argon2 run on tokio's blocking pool, never on
//! the reactor. Every security decision is made here, so the HTTP layer only
//! maps [`Error`]s to statuses.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ntsb_store::Accounts;
use ntsb_store::accounts::{
    ApiKey, AuditEvent, AuditQuery, NewApiKey, NewAuditEvent, NewUser, Role, Rotation, User, UserId,
};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::{AuthConfig, Tier};
use crate::jwt::{self, Claims, KeySet};
use crate::limits::{CounterStore, Limit};
use crate::outbox::ResetDelivery;
use crate::recent::RecentPrincipals;
use crate::{Error, Result, password, random};

/// Prefix of every API key (lets secret scanners recognise leaked keys).
pub const KEY_PREFIX: &str = "ntsb_";
/// Length of an API key: the prefix and 43 base64url characters.
const KEY_LEN: usize = KEY_PREFIX.len() + 43;
/// Prefix of refresh tokens.
const REFRESH_PREFIX: &str = "rt_";
/// Most active API keys one account may hold.
pub const MAX_KEYS_PER_USER: usize = 20;
/// Longest API key name.
pub const MAX_KEY_NAME: usize = 100;
/// A key's last-used time is written at most this often (seconds).
const TOUCH_EVERY: i64 = 60;
/// The same denial (event, subject, route) is written to the audit table at most
/// this often (seconds); every one is still a log line.
const AUDIT_DENIALS_EVERY: i64 = 60;
/// How long failed logins of an address are counted towards a lock, from the
/// first failure (seconds; at least twice the lock time).
const FAILURE_WINDOW: u64 = 24 * 3600;
/// Daily-quota units an export costs per this many rows (see [`Auth::charge`]).
pub const EXPORT_ROWS_PER_UNIT: u64 = 100;

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// An access token of this session (refresh family).
    Session(String),
    /// The API key with this public id.
    ApiKey(String),
    /// A dashboard session (cookie): the first characters of its id's digest,
    /// for logs. Accepted by the dashboard's pages only.
    Browser(String),
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account.
    pub user: UserId,
    /// Its e-mail address.
    pub email: String,
    /// Its role, as stored now (not as when the token was issued).
    pub role: Role,
    /// The credential used.
    pub via: Via,
}

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An account, at its role's tier.
    User(UserId, Role),
    /// No credentials: the client address.
    Anonymous(String),
}

/// What login and refresh answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    /// JWT (HS256), valid for `expires_in` seconds.
    pub access_token: String,
    /// Single-use refresh token, valid 30 days; rotated on every use.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: i64,
}

/// A new API key: the stored record and the key itself, shown once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The stored record.
    pub record: ApiKey,
    /// The key; never stored, never shown again.
    pub key: String,
}

/// The public part of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// User id.
    pub id: UserId,
    /// E-mail address.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Whether an administrator disabled it.
    pub disabled: bool,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Last successful login (Unix seconds).
    pub last_login_at: Option<i64>,
    /// End of a lockout in force (Unix seconds).
    pub locked_until: Option<i64>,
}

impl From<&User> for Account {
    fn from(u: &User) -> Account {
        Account {
            id: u.id,
            email: u.email.clone(),
            role: u.role,
            disabled: u.disabled,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            locked_until: u.locked_until,
        }
    }
}

/// A validated, normalised e-mail address (trimmed, lowercase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an address: 3 to 254 characters, one `@`, a dotted domain, no
    /// spaces or control characters.
    pub fn parse(raw: &str) -> Result<Email> {
        let s = raw.trim().to_lowercase();
        let invalid = |reason: &str| Err(Error::InvalidInput { field: "email", reason: reason.into() });
        if s.is_empty() {
            return invalid("must not be empty");
        }
        if s.chars().count() > 254 {
            return invalid("must be at most 254 characters");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid("must not contain spaces or control characters");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return invalid("must be an address like name@example.org");
        };
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return invalid("must be an address like name@example.org");
        }
        Ok(Email(s))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

struct Inner {
    accounts: Arc<dyn Accounts>,
    counters: Arc<dyn CounterStore>,
    clock: Arc<dyn Clock>,
    keys: KeySet,
    config: AuthConfig,
    delivery: Option<Arc<dyn ResetDelivery>>,
    /// Key id → last time its last-used time was written.
    touched: Mutex<HashMap<String, i64>>,
    /// Credentials verified in the last second (see [`crate::recent`]).
    recent: RecentPrincipals,
    /// Denial → last time it was written to the audit table.
    denials: Mutex<HashMap<String, i64>>,
    /// A hash of the configured cost that no password matches: unknown accounts
    /// are verified against it, so they take as long as known ones.
    dummy_hash: String,
}

/// The authentication engine. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// Runs blocking work (store calls, argon2) off the reactor.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Error::Internal(format!("blocking task failed: {e}"))),
    }
}

impl Auth {
    /// The engine over `accounts` and `counters`, signing with `keys` (a
    /// [`crate::SigningSecret`] alone, or a [`KeySet`] that also accepts retired keys).
    pub fn new(
        accounts: Arc<dyn Accounts>,
        counters: Arc<dyn CounterStore>,
        clock: Arc<dyn Clock>,
        keys: impl Into<KeySet>,
        config: AuthConfig,
    ) -> Result<Auth> {
        let dummy_hash = password::hash(&random::token("dummy-")?, config.hash_cost)?;
        Ok(Auth {
            inner: Arc::new(Inner {
                accounts,
                counters,
                clock,
                keys: keys.into(),
                config,
                delivery: None,
                touched: Mutex::new(HashMap::new()),
                recent: RecentPrincipals::default(),
                denials: Mutex::new(HashMap::new()),
                dummy_hash,
            }),
        })
    }

    /// The same engine delivering reset tokens through `delivery`. Call before cloning.
    pub fn with_reset_delivery(mut self, delivery: Arc<dyn ResetDelivery>) -> Auth {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.delivery = Some(delivery),
            None => tracing::error!("with_reset_delivery called on a shared Auth; ignored"),
        }
        self
    }

    /// The settings in force.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// Now, by the engine's clock.
    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    pub(crate) fn accounts(&self) -> Arc<dyn Accounts> {
        self.inner.accounts.clone()
    }

    pub(crate) fn counters(&self) -> &dyn CounterStore {
        self.inner.counters.as_ref()
    }

    pub(crate) fn keys(&self) -> &KeySet {
        &self.inner.keys
    }

    // ----- counters -------------------------------------------------------

    async fn count(&self, scope: &'static str, key: &str, limit: u64, window: u64) -> Result<Limit> {
        let hit = self.inner.counters.increment(key, 1, window).await.map_err(|e| Error::Internal(e.to_string()))?;
        Limit::judge(scope, limit, hit).map_err(Error::RateLimited)
    }

    /// Counts one request of `subject` against its tier's burst limit and daily
    /// quota. `Ok(Some(daily))` is the quota state for the `RateLimit-*`
    /// headers; `Ok(None)` means the tier is unlimited;
    /// [`Error::RateLimited`] means refuse with 429. A failing counter store lets
    /// the request through (logged): an outage of Redis must not take the API down.
    pub async fn check_rate(&self, subject: &Subject) -> Result<Option<Limit>> {
        let (tier, id): (Tier, String) = match subject {
            Subject::User(id, role) => (self.tier(*role), format!("u:{id}")),
            Subject::Anonymous(ip) => (self.inner.config.quotas.anonymous, format!("ip:{ip}")),
        };
        let fail_open = |e: Error| match e {
            Error::RateLimited(limit) => Err(Error::RateLimited(limit)),
            other => {
                tracing::error!(error = %other, "rate-limit counters failed; request let through");
                Ok(None)
            }
        };
        if tier.per_second > 0
            && let Err(e) = self.count("burst", &format!("q:s:{id}"), tier.per_second, 1).await
        {
            return fail_open(e);
        }
        if tier.daily == 0 {
            return Ok(None);
        }
        match self.count("daily quota", &format!("q:d:{id}"), tier.daily, 24 * 3600).await {
            Ok(limit) => Ok(Some(limit)),
            Err(e) => fail_open(e),
        }
    }

    /// Charges `units` more against `subject`'s daily quota, for a request whose
    /// work is larger than one ordinary request (see the cost model in
    /// docs/SECURITY.md: a batch of predictions costs one unit per item, an
    /// export one per [`EXPORT_ROWS_PER_UNIT`] rows). [`Auth::check_rate`] has
    /// already counted the request itself, so pass the cost beyond that one.
    ///
    /// Refused with [`Error::RateLimited`] (nothing charged) when the quota
    /// left is smaller than `units`; `Ok(Some(limit))` is the quota's state
    /// after the charge, `Ok(None)` an unlimited tier or no charge. A failing
    /// counter store lets the request through (logged), as in `check_rate`.
    pub async fn charge(&self, subject: &Subject, units: u64) -> Result<Option<Limit>> {
        let (tier, id): (Tier, String) = match subject {
            Subject::User(id, role) => (self.tier(*role), format!("u:{id}")),
            Subject::Anonymous(ip) => (self.inner.config.quotas.anonymous, format!("ip:{ip}")),
        };
        if tier.daily == 0 || units == 0 {
            return Ok(None);
        }
        let key = format!("q:d:{id}");
        let window = 24 * 3600;
        let counters = &self.inner.counters;
        let result: std::result::Result<std::result::Result<Limit, Limit>, crate::limits::CounterError> = async {
            // Look first (adding nothing), so a refused charge costs nothing.
            let seen = counters.increment(&key, 0, window).await?;
            let left = tier.daily.saturating_sub(seen.count);
            if units > left {
                return Ok(Err(Limit { scope: "daily quota", limit: tier.daily, remaining: left, reset: seen.ttl }));
            }
            let after = counters.increment(&key, units, window).await?;
            let remaining = tier.daily.saturating_sub(after.count);
            Ok(Ok(Limit { scope: "daily quota", limit: tier.daily, remaining, reset: after.ttl }))
        }
        .await;
        match result {
            Ok(Ok(limit)) => Ok(Some(limit)),
            Ok(Err(limit)) => Err(Error::RateLimited(limit)),
            Err(e) => {
                tracing::error!(error = %e, "rate-limit counters failed; request let through");
                Ok(None)
            }
        }
    }

    /// The state of `subject`'s daily quota without counting anything (the
    /// dashboard's account page); `None` for an unlimited tier or when the
    /// counters cannot be read.
    pub async fn usage(&self, subject: &Subject) -> Option<Limit> {
        let (tier, id): (Tier, String) = match subject {
            Subject::User(id, role) => (self.tier(*role), format!("u:{id}")),
            Subject::Anonymous(ip) => (self.inner.config.quotas.anonymous, format!("ip:{ip}")),
        };
        if tier.daily == 0 {
            return None;
        }
        let seen = self.inner.counters.increment(&format!("q:d:{id}"), 0, 24 * 3600).await.ok()?;
        let remaining = tier.daily.saturating_sub(seen.count);
        Some(Limit { scope: "daily quota", limit: tier.daily, remaining, reset: seen.ttl })
    }

    /// The limits of a role.
    pub fn tier(&self, role: Role) -> Tier {
        let q = &self.inner.config.quotas;
        match role {
            Role::Free => q.free,
            Role::Premium => q.premium,
            Role::Admin => q.admin,
        }
    }

    // ----- audit -----------------------------------------------------------

    /// Records a security event: one structured log line (target `ntsb::audit`)
    /// and one audit row. Never pass a secret in `detail`.
    pub async fn audit(
        &self,
        event: &'static str,
        user: Option<UserId>,
        actor: Option<UserId>,
        ip: &str,
        detail: &str,
    ) {
        self.log_audit(event, user, actor, ip, detail);
        let row = NewAuditEvent {
            at: self.now(),
            event: event.to_string(),
            user_id: user,
            actor_id: actor,
            ip: (!ip.is_empty()).then(|| ip.to_string()),
            detail: detail.to_string(),
        };
        let accounts = self.accounts();
        if let Err(e) = blocking(move || Ok(accounts.record_audit(&row)?)).await {
            tracing::error!(error = %e, event, "cannot write the audit row");
        }
    }

    fn log_audit(&self, event: &'static str, user: Option<UserId>, actor: Option<UserId>, ip: &str, detail: &str) {
        let user = user.map(|u| u.0);
        let actor = actor.map(|u| u.0);
        tracing::info!(target: "ntsb::audit", event, user, actor, ip, detail, "security event");
    }

    /// Records a denial (401, 403, 429) seen by the HTTP layer: always a log
    /// line, and an audit row at most once a minute per (event, subject, route),
    /// so a flood of refused requests cannot flood the database. Does not wait
    /// for the row to be written.
    pub fn audit_denial(&self, event: &'static str, user: Option<UserId>, ip: &str, detail: &str) {
        self.log_audit(event, user, None, ip, detail);
        let now = self.now();
        let key = format!("{event}|{}|{ip}|{detail}", user.map_or(0, |u| u.0));
        {
            let mut denials = self.inner.denials.lock().unwrap_or_else(|p| p.into_inner());
            if denials.get(&key).is_some_and(|at| now - at < AUDIT_DENIALS_EVERY) {
                return;
            }
            if denials.len() > 10_000 {
                denials.retain(|_, at| now - *at < AUDIT_DENIALS_EVERY);
            }
            denials.insert(key, now);
        }
        let row = NewAuditEvent {
            at: now,
            event: event.to_string(),
            user_id: user,
            actor_id: None,
            ip: (!ip.is_empty()).then(|| ip.to_string()),
            detail: detail.to_string(),
        };
        let accounts = self.accounts();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = accounts.record_audit(&row) {
                tracing::error!(error = %e, "cannot write the audit row");
            }
        });
    }

    /// Security events, newest first (admins).
    pub async fn audit_events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>> {
        let accounts = self.accounts();
        blocking(move || Ok(accounts.audit_events(&query)?)).await
    }

    // ----- accounts ----------------------------------------------------------

    /// Self-registration as a `free` user (refused when registration is closed;
    /// at most `registrations_per_hour` per client address, 429 beyond).
    pub async fn register(&self, email: &str, password: &str, ip: &str) -> Result<Account> {
        if !self.inner.config.registration_open {
            return Err(Error::RegistrationClosed);
        }
        // Check what can be checked for free first, so typos do not use up the limit.
        password::check_strength(password, Email::parse(email)?.as_str(), "password")?;
        let per_hour = self.inner.config.registrations_per_hour;
        if per_hour > 0
            && let Err(e) = self.count("registrations", &format!("register:ip:{ip}"), per_hour, 3600).await
        {
            if matches!(e, Error::RateLimited(_)) {
                self.audit_denial("rate_limited", None, ip, "registrations");
            }
            return Err(e);
        }
        let user = self.create_user(email, password, Role::Free).await?;
        self.audit("registered", Some(user.id), None, ip, "").await;
        Ok(user)
    }

    /// Creates an account with any role (operators: `ntsb user create`; never
    /// reachable anonymously).
    pub async fn create_user(&self, email: &str, password: &str, role: Role) -> Result<Account> {
        let email = Email::parse(email)?;
        password::check_strength(password, email.as_str(), "password")?;
        let password = password.to_string();
        let cost = self.inner.config.hash_cost;
        let accounts = self.accounts();
        let now = self.now();
        blocking(move || {
            let password_hash = password::hash(&password, cost)?;
            let new = NewUser { email: email.0, password_hash, role };
            match accounts.create_user(&new, now) {
                Ok(u) => Ok(Account::from(&u)),
                Err(ntsb_store::Error::Conflict(_)) => Err(Error::Conflict),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// Logs in: limits attempts per address and per account, refuses locked
    /// accounts, verifies the password in constant time (against a dummy hash
    /// for unknown accounts), counts failures towards the lockout, and on success
    /// starts a session (refresh family) and issues a token pair.
    pub async fn login(&self, email: &str, password: &str, ip: &str) -> Result<TokenPair> {
        let (user, now) = self.check_login(email, password, ip).await?;
        let pair = self.start_session(user.id, now).await?;
        self.audit("login_success", Some(user.id), None, ip, "").await;
        Ok(pair)
    }

    /// Every check of a login up to the session it starts: attempt limits,
    /// lockout, the password, a disabled account. Shared by the API's login and
    /// the dashboard's sign-in, so both obey the same rules. Returns the user
    /// and the time of the check.
    pub(crate) async fn check_login(&self, email: &str, password: &str, ip: &str) -> Result<(User, i64)> {
        let limits = self.inner.config.login;
        // Refuse junk before spending argon2 on it; same generic answer.
        let email = Email::parse(email).map_err(|_| Error::InvalidCredentials)?;
        if password.is_empty() || password.chars().count() > password::MAX_LENGTH {
            return Err(Error::InvalidCredentials);
        }
        // Attempt limits fail closed: without counters, no logins.
        for (key, limit) in [
            (format!("login:ip:{ip}"), limits.per_ip_per_minute),
            (format!("login:acct:{}", email.as_str()), limits.per_account_per_minute),
        ] {
            if limit > 0
                && let Err(e) = self.count("login attempts", &key, limit, 60).await
            {
                if matches!(e, Error::RateLimited(_)) {
                    self.audit_denial("rate_limited", None, ip, "login attempts");
                }
                return Err(e);
            }
        }
        let accounts = self.accounts();
        let cost = self.inner.config.hash_cost;
        let dummy = self.inner.dummy_hash.clone();
        let now = self.now();
        let lookup_email = email.as_str().to_string();
        let pw = password.to_string();
        let (user, ok) = blocking(move || {
            let user = accounts.user_by_email(&lookup_email)?;
            let stored = user.as_ref().map_or(dummy.as_str(), |u| u.password_hash.as_str());
            let ok = password::verify(&pw, stored, cost) && user.is_some();
            Ok((user, ok))
        })
        .await?;
        if let Some(u) = user.as_ref().filter(|_| ok)
            && let Some(until) = u.locked_until.filter(|until| *until > now)
        {
            // The right password during a lock: refused like any attempt then.
            self.audit("login_failure", Some(u.id), None, ip, "account locked").await;
            return Err(Error::Locked { retry_after: u64::try_from(until - now).unwrap_or(1).max(1) });
        }
        if !ok {
            return Err(self.login_failed(&email, user.as_ref(), ip, now).await);
        }
        let Some(user) = user else { return Err(Error::InvalidCredentials) };
        if user.disabled {
            self.audit("login_failure", Some(user.id), None, ip, "account disabled").await;
            return Err(Error::Disabled);
        }
        Ok((user, now))
    }

    /// A wrong password, or any password for an unknown address. Known and
    /// unknown addresses go through the same counters, so what an attacker
    /// sees (which attempt locks, for how long, when it ends, what happens
    /// after) is the same whether or not the address has an account:
    ///
    /// * every failure adds one to the address's failure count, kept
    ///   [`FAILURE_WINDOW`] from the first failure;
    /// * the failure that brings the count to the threshold locks the address
    ///   for the lock time, from that failure on; while locked, every attempt is
    ///   refused with the time left;
    /// * a failure after a lock ended locks again at once, until the count's
    ///   window ends.
    ///
    /// For a real account the lock is also written to its row (`locked_until`,
    /// shown to administrators and refusing the right password too) and audited
    /// as `lockout`.
    async fn login_failed(&self, email: &Email, user: Option<&User>, ip: &str, now: i64) -> Error {
        match self.count_login_failure(email, user, ip, now).await {
            Ok(e) | Err(e) => e,
        }
    }

    async fn count_login_failure(&self, email: &Email, user: Option<&User>, ip: &str, now: i64) -> Result<Error> {
        let limits = self.inner.config.login;
        let lock_secs = u64::try_from(limits.lock_secs).unwrap_or(900).max(1);
        let counter = |e: crate::limits::CounterError| Error::Internal(e.to_string());
        // Failures of the address, for the dashboard's sign-in challenge (see crate::web).
        self.inner.counters.increment(&crate::web::failures_key(ip), 1, lock_secs).await.map_err(counter)?;
        let failures = self
            .inner
            .counters
            .increment(&format!("login:fail:{}", email.as_str()), 1, FAILURE_WINDOW.max(2 * lock_secs))
            .await
            .map_err(counter)?;
        let threshold = u64::from(limits.lock_after);
        let lock_key = format!("login:lock:{}", email.as_str());
        // The failure that locks (a fresh lock), or an attempt during a lock.
        let (locks_now, locked) = if failures.count < threshold {
            (false, None)
        } else if failures.count == threshold {
            // The lock key is created here, so its window starts now.
            let _ = self.inner.counters.increment(&lock_key, 1, lock_secs).await.map_err(counter)?;
            (true, None)
        } else {
            let lock = self.inner.counters.increment(&lock_key, 1, lock_secs).await.map_err(counter)?;
            // A count of 1 means the last lock had ended: this failure locks again.
            if lock.count == 1 { (true, None) } else { (false, Some(lock.ttl)) }
        };
        let detail = match (user, locked) {
            (_, Some(_)) => "locked",
            (Some(_), None) => "wrong password",
            (None, None) => "unknown account",
        };
        if let Some(u) = user {
            let (accounts, id) = (self.accounts(), u.id);
            // The row mirrors the counters' decision: lock_after 0 locks now, MAX never.
            let lock_after = if locks_now { 0 } else { u32::MAX };
            let lock_until = now + limits.lock_secs;
            blocking(move || Ok(accounts.record_login_failure(id, lock_after, lock_until)?)).await?;
        }
        self.audit("login_failure", user.map(|u| u.id), None, ip, detail).await;
        if locks_now {
            let who = user.map(|u| u.id);
            self.audit("lockout", who, None, ip, &format!("{} failures", failures.count)).await;
        }
        match locked {
            Some(retry_after) => Ok(Error::Locked { retry_after }),
            None => Ok(Error::InvalidCredentials),
        }
    }

    async fn start_session(&self, user: UserId, now: i64) -> Result<TokenPair> {
        let family = random::id("s_")?;
        let refresh = random::token(REFRESH_PREFIX)?;
        let hash = random::digest(&refresh);
        let expires = now + self.inner.config.refresh_ttl;
        let accounts = self.accounts();
        let fam = family.clone();
        blocking(move || {
            accounts.record_login_success(user, now)?;
            accounts.create_refresh_family(&fam, user, &hash, now, expires)?;
            Ok(())
        })
        .await?;
        Ok(self.pair(user, &family, refresh, now))
    }

    fn pair(&self, user: UserId, family: &str, refresh_token: String, now: i64) -> TokenPair {
        let ttl = self.inner.config.access_ttl;
        let claims = Claims {
            iss: jwt::ISSUER.into(),
            sub: user.0,
            sid: family.to_string(),
            iat: now,
            exp: now + ttl,
            typ: jwt::ACCESS.into(),
        };
        TokenPair {
            access_token: jwt::sign_with(&claims, &self.inner.keys),
            refresh_token,
            token_type: "Bearer",
            expires_in: ttl,
        }
    }

    /// Exchanges a refresh token for a new pair. The old token is spent; a
    /// token presented twice revokes its whole session (someone copied it).
    pub async fn refresh(&self, refresh_token: &str, ip: &str) -> Result<TokenPair> {
        if !refresh_token.starts_with(REFRESH_PREFIX) || refresh_token.len() != REFRESH_PREFIX.len() + 43 {
            return Err(Error::Unauthenticated("malformed refresh token"));
        }
        let now = self.now();
        let new_token = random::token(REFRESH_PREFIX)?;
        let (old_hash, new_hash) = (random::digest(refresh_token), random::digest(&new_token));
        let expires = now + self.inner.config.refresh_ttl;
        let accounts = self.accounts();
        let (rotation, user) = blocking(move || {
            let rotation = accounts.rotate_refresh(&old_hash, &new_hash, now, expires)?;
            let user = match &rotation {
                Rotation::Rotated { user, .. } => accounts.user_by_id(*user)?,
                _ => None,
            };
            Ok((rotation, user))
        })
        .await?;
        match rotation {
            Rotation::Rotated { family, .. } => match user {
                Some(u) if !u.disabled => Ok(self.pair(u.id, &family, new_token, now)),
                Some(u) => {
                    self.audit_denial("unauthenticated", Some(u.id), ip, "refresh of a disabled account");
                    Err(Error::Disabled)
                }
                None => Err(Error::Unauthenticated("refresh token of a deleted account")),
            },
            Rotation::Reused { user, .. } => {
                self.inner.recent.forget_all();
                self.audit("refresh_reuse", Some(user), None, ip, "refresh token reused; session revoked").await;
                Err(Error::Unauthenticated("refresh token reused"))
            }
            Rotation::Invalid => {
                self.audit_denial("unauthenticated", None, ip, "invalid refresh token");
                Err(Error::Unauthenticated("invalid refresh token"))
            }
        }
    }

    /// Ends the caller's session: its refresh tokens and access tokens stop working.
    pub async fn logout(&self, who: &Principal, ip: &str) -> Result<()> {
        let Via::Session(family) = &who.via else { return Err(Error::Forbidden("API keys have no session to end")) };
        let (accounts, user, family, now) = (self.accounts(), who.user, family.clone(), self.now());
        blocking(move || Ok(accounts.revoke_family(user, &family, now, "logout")?)).await?;
        self.inner.recent.forget_all();
        self.audit("logout", Some(who.user), None, ip, "").await;
        Ok(())
    }

    /// Changes the caller's password after checking the current one; every
    /// session of the account ends (log in again), and every API key is revoked
    /// unless `keep_keys` (the owner's explicit choice: a password change is
    /// often the answer to a leak, and a key made by whoever knew the old
    /// password must not outlive it).
    pub async fn change_password(
        &self,
        who: &Principal,
        current: &str,
        new: &str,
        keep_keys: bool,
        ip: &str,
    ) -> Result<()> {
        password::check_strength(new, &who.email, "new_password")?;
        if current == new {
            return Err(Error::InvalidInput {
                field: "new_password",
                reason: "must differ from the current password".into(),
            });
        }
        let (accounts, id, cost, now) = (self.accounts(), who.user, self.inner.config.hash_cost, self.now());
        let (current, new) = (current.to_string(), new.to_string());
        let ok = blocking(move || {
            let user = accounts.user_by_id(id)?.ok_or_else(|| Error::NotFound("no such user".into()))?;
            if current.chars().count() > password::MAX_LENGTH || !password::verify(&current, &user.password_hash, cost)
            {
                return Ok(None);
            }
            let hash = password::hash(&new, cost)?;
            accounts.set_password(id, &hash, now)?;
            accounts.revoke_user_families(id, now, "password_changed")?;
            accounts.end_user_web_sessions(id)?;
            let keys = if keep_keys { None } else { Some(accounts.revoke_user_api_keys(id, now)?) };
            Ok(Some(keys))
        })
        .await?;
        self.inner.recent.forget_all();
        let Some(keys) = ok else {
            self.audit("password_change_failure", Some(who.user), None, ip, "wrong current password").await;
            return Err(Error::InvalidCredentials);
        };
        let detail = if keep_keys { "API keys kept at the owner's request" } else { "" };
        self.audit("password_changed", Some(who.user), None, ip, detail).await;
        if let Some(n) = keys {
            self.audit("key_revoked", Some(who.user), None, ip, &format!("all keys ({n}): password changed")).await;
        }
        Ok(())
    }

    /// Starts a password reset: when the address belongs to an enabled account,
    /// a single-use token valid for the reset lifetime is stored (hashed) and
    /// delivered to it; it replaces any older token (one live token per
    /// account). At most one mail per account per `reset_mail_every`; requests
    /// meanwhile send nothing. Answers the same whether or not the account
    /// exists, and whether or not a mail was sent.
    pub async fn request_reset(&self, email: &str, ip: &str) -> Result<()> {
        let email = Email::parse(email)?;
        let limit = self.inner.config.login.per_account_per_minute;
        if limit > 0 {
            self.count("password reset requests", &format!("reset:acct:{}", email.as_str()), limit, 60).await?;
        }
        let Some(delivery) = self.inner.delivery.clone() else {
            tracing::warn!("a password reset was requested but no reset delivery (outbox) is configured");
            self.audit("password_reset_requested", None, None, ip, "no delivery configured").await;
            return Ok(());
        };
        // One mail per account per interval, whether or not the account exists;
        // the answer is the same either way.
        let every = u64::try_from(self.inner.config.reset_mail_every).unwrap_or(0);
        if every > 0 {
            let sent = self
                .inner
                .counters
                .increment(&format!("reset:mail:{}", email.as_str()), 1, every)
                .await
                .map_err(|e| Error::Internal(e.to_string()))?;
            if sent.count > 1 {
                let detail = format!("not sent: a reset mail went out less than {every} s ago");
                self.audit("password_reset_requested", None, None, ip, &detail).await;
                return Ok(());
            }
        }
        let token = random::token("")?;
        let (hash, now) = (random::digest(&token), self.now());
        let expires = now + self.inner.config.reset_ttl;
        let accounts = self.accounts();
        let user = blocking(move || {
            let Some(user) = accounts.user_by_email(email.as_str())?.filter(|u| !u.disabled) else { return Ok(None) };
            // Storing the new token ends every older one of the account.
            accounts.create_password_reset(&hash, user.id, now, expires)?;
            delivery.deliver(&user.email, &token, expires)?;
            Ok(Some(user.id))
        })
        .await?;
        self.audit("password_reset_requested", user, None, ip, if user.is_some() { "" } else { "unknown account" })
            .await;
        Ok(())
    }

    /// Completes a reset: spends the token, sets the new password, clears any
    /// lockout, ends every session and revokes every API key.
    pub async fn confirm_reset(&self, token: &str, new: &str, ip: &str) -> Result<()> {
        password::check_strength(new, "", "new_password")?;
        if token.is_empty() || token.len() > 64 {
            return Err(Error::Unauthenticated("malformed reset token"));
        }
        let (hash, now, cost, accounts) =
            (random::digest(token), self.now(), self.inner.config.hash_cost, self.accounts());
        let new = new.to_string();
        let user = blocking(move || {
            let Some(id) = accounts.consume_password_reset(&hash, now)? else { return Ok(None) };
            let user = accounts.user_by_id(id)?.ok_or_else(|| Error::NotFound("no such user".into()))?;
            password::check_strength(&new, &user.email, "new_password")?;
            accounts.set_password(id, &password::hash(&new, cost)?, now)?;
            accounts.revoke_user_families(id, now, "password_reset")?;
            accounts.end_user_web_sessions(id)?;
            // Whoever took the account over may have made keys: they all end.
            let keys = accounts.revoke_user_api_keys(id, now)?;
            Ok(Some((id, keys)))
        })
        .await?;
        self.inner.recent.forget_all();
        match user {
            Some((id, keys)) => {
                self.audit("password_reset", Some(id), None, ip, "").await;
                self.audit("key_revoked", Some(id), None, ip, &format!("all keys ({keys}): password reset")).await;
                Ok(())
            }
            None => {
                self.audit_denial("unauthenticated", None, ip, "invalid reset token");
                Err(Error::Unauthenticated("invalid or expired reset token"))
            }
        }
    }

    // ----- authentication per request --------------------------------------------

    /// Who an access token belongs to: checks the signature (HS256 only), expiry,
    /// that the session is open and the account enabled.
    pub async fn authenticate_bearer(&self, token: &str) -> Result<Principal> {
        let claims = jwt::verify(token, &self.inner.keys, self.now(), self.inner.config.access_ttl)
            .map_err(|r| Error::Unauthenticated(r.as_str()))?;
        let remembered_as = format!("s:{}:{}", claims.sub, claims.sid);
        let generation = match self.inner.recent.get(&remembered_as) {
            Ok(known) => return Ok(known),
            Err(generation) => generation,
        };
        let accounts = self.accounts();
        let (user, family) = (UserId(claims.sub), claims.sid);
        let principal = blocking(move || {
            let Some(u) = accounts.user_by_id(user)? else { return Err(Error::Unauthenticated("unknown user")) };
            if u.disabled {
                return Err(Error::Disabled);
            }
            if !accounts.family_active(user, &family)? {
                return Err(Error::Unauthenticated("session ended"));
            }
            Ok(Principal { user: u.id, email: u.email, role: u.role, via: Via::Session(family) })
        })
        .await?;
        self.inner.recent.remember(remembered_as, &principal, generation);
        Ok(principal)
    }

    /// Who an API key belongs to (an active key of an enabled account); notes
    /// its use (at most once a minute per key).
    pub async fn authenticate_key(&self, key: &str) -> Result<Principal> {
        if key.len() != KEY_LEN
            || !key.starts_with(KEY_PREFIX)
            || !key[KEY_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Unauthenticated("malformed API key"));
        }
        let (hash, accounts, now) = (random::digest(key), self.accounts(), self.now());
        let remembered_as = format!("k:{hash}");
        let generation = match self.inner.recent.get(&remembered_as) {
            Ok(known) => return Ok(known),
            Err(generation) => generation,
        };
        let touch = {
            // Decided after the lookup; the map is small (active keys).
            let this = self.clone();
            move |id: &str| -> bool {
                let mut touched = this.inner.touched.lock().unwrap_or_else(|p| p.into_inner());
                if touched.get(id).is_some_and(|at| now - at < TOUCH_EVERY) {
                    return false;
                }
                if touched.len() > 100_000 {
                    touched.retain(|_, at| now - *at < TOUCH_EVERY);
                }
                touched.insert(id.to_string(), now);
                true
            }
        };
        let principal = blocking(move || {
            let Some((k, u)) = accounts.api_key_by_hash(&hash)? else {
                return Err(Error::Unauthenticated("unknown API key"));
            };
            if u.disabled {
                return Err(Error::Disabled);
            }
            if touch(&k.id) {
                accounts.touch_api_key(&k.id, now)?;
            }
            Ok(Principal { user: u.id, email: u.email, role: u.role, via: Via::ApiKey(k.id) })
        })
        .await?;
        self.inner.recent.remember(remembered_as, &principal, generation);
        Ok(principal)
    }

    /// The caller's account.
    pub async fn me(&self, who: &Principal) -> Result<Account> {
        let (accounts, id) = (self.accounts(), who.user);
        blocking(move || {
            accounts.user_by_id(id)?.map(|u| Account::from(&u)).ok_or_else(|| Error::NotFound("no such user".into()))
        })
        .await
    }

    // ----- API keys ------------------------------------------------------------------

    /// Makes an API key for the caller; the key is in the result only.
    pub async fn create_key(&self, who: &Principal, name: &str, ip: &str) -> Result<CreatedKey> {
        let created = self.create_key_for(who.user, name).await?;
        self.audit("key_created", Some(who.user), None, ip, &format!("key {}", created.record.id)).await;
        Ok(created)
    }

    /// Makes an API key for `user` (operators: `ntsb key create`).
    pub async fn create_key_for(&self, user: UserId, name: &str) -> Result<CreatedKey> {
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME || name.chars().any(char::is_control) {
            return Err(Error::InvalidInput {
                field: "name",
                reason: format!("must be 1 to {MAX_KEY_NAME} characters without control characters"),
            });
        }
        let key = random::token(KEY_PREFIX)?;
        let record = NewApiKey {
            id: random::id("key_")?,
            user_id: user,
            name,
            key_hash: random::digest(&key),
            prefix: key[..KEY_PREFIX.len() + 6].to_string(),
            created_at: self.now(),
        };
        let accounts = self.accounts();
        let record = blocking(move || {
            if accounts.user_by_id(user)?.is_none() {
                return Err(Error::NotFound(format!("no user {user}")));
            }
            let active = accounts.list_api_keys(user)?.iter().filter(|k| k.revoked_at.is_none()).count();
            if active >= MAX_KEYS_PER_USER {
                return Err(Error::Forbidden("an account may hold at most 20 active API keys; revoke one first"));
            }
            Ok(accounts.create_api_key(&record)?)
        })
        .await?;
        Ok(CreatedKey { record, key })
    }

    /// The caller's keys (without the keys themselves).
    pub async fn list_keys(&self, who: &Principal) -> Result<Vec<ApiKey>> {
        let (accounts, id) = (self.accounts(), who.user);
        blocking(move || Ok(accounts.list_api_keys(id)?)).await
    }

    /// Revokes one of the caller's keys; another user's key id is "not found".
    pub async fn revoke_key(&self, who: &Principal, key_id: &str, ip: &str) -> Result<()> {
        let (accounts, id, key, now) = (self.accounts(), who.user, key_id.to_string(), self.now());
        let done = blocking(move || Ok(accounts.revoke_api_key(Some(id), &key, now)?)).await?;
        self.inner.recent.forget_all();
        if !done {
            return Err(Error::NotFound("no such API key".into()));
        }
        self.audit("key_revoked", Some(who.user), None, ip, &format!("key {key_id}")).await;
        Ok(())
    }

    // ----- administration ------------------------------------------------------------

    /// Accounts in id order (admins, operators).
    pub async fn list_users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<Account>> {
        let accounts = self.accounts();
        blocking(move || Ok(accounts.list_users(after, limit)?.iter().map(Account::from).collect())).await
    }

    /// The account with this e-mail address (operators).
    pub async fn find_user(&self, email: &str) -> Result<Account> {
        let email = Email::parse(email)?;
        let accounts = self.accounts();
        blocking(move || {
            accounts
                .user_by_email(email.as_str())?
                .map(|u| Account::from(&u))
                .ok_or_else(|| Error::NotFound(format!("no account {}", email.as_str())))
        })
        .await
    }

    fn not_self(actor: Option<UserId>, target: UserId) -> Result<()> {
        if actor == Some(target) {
            return Err(Error::Forbidden("administrators cannot change their own role or status"));
        }
        Ok(())
    }

    /// Changes a role. `actor` is the admin (None: an operator at the console).
    pub async fn set_role(&self, actor: Option<UserId>, user: UserId, role: Role, ip: &str) -> Result<Account> {
        Self::not_self(actor, user)?;
        let accounts = self.accounts();
        let account = blocking(move || {
            if !accounts.set_role(user, role)? {
                return Err(Error::NotFound(format!("no user {user}")));
            }
            accounts
                .user_by_id(user)?
                .map(|u| Account::from(&u))
                .ok_or_else(|| Error::NotFound(format!("no user {user}")))
        })
        .await?;
        self.inner.recent.forget_all();
        self.audit("role_changed", Some(user), actor, ip, &format!("role {role}")).await;
        Ok(account)
    }

    /// Disables (ending every session and revoking every API key) or re-enables
    /// an account (its old keys stay revoked).
    pub async fn set_disabled(&self, actor: Option<UserId>, user: UserId, disabled: bool, ip: &str) -> Result<Account> {
        Self::not_self(actor, user)?;
        let (accounts, now) = (self.accounts(), self.now());
        let account = blocking(move || {
            if !accounts.set_disabled(user, disabled)? {
                return Err(Error::NotFound(format!("no user {user}")));
            }
            let keys = if disabled {
                accounts.revoke_user_families(user, now, "disabled")?;
                accounts.end_user_web_sessions(user)?;
                // Keys do not come back with a re-enabled account: the owner makes new ones.
                Some(accounts.revoke_user_api_keys(user, now)?)
            } else {
                None
            };
            let account = accounts
                .user_by_id(user)?
                .map(|u| Account::from(&u))
                .ok_or_else(|| Error::NotFound(format!("no user {user}")))?;
            Ok((account, keys))
        })
        .await?;
        let (account, keys) = account;
        self.inner.recent.forget_all();
        let event = if disabled { "account_disabled" } else { "account_enabled" };
        self.audit(event, Some(user), actor, ip, "").await;
        if let Some(n) = keys {
            self.audit("key_revoked", Some(user), actor, ip, &format!("all keys ({n}): account disabled")).await;
        }
        Ok(account)
    }

    /// Revokes every API key of an account; returns how many.
    pub async fn revoke_user_keys(&self, actor: Option<UserId>, user: UserId, ip: &str) -> Result<u64> {
        let (accounts, now) = (self.accounts(), self.now());
        let n = blocking(move || {
            if accounts.user_by_id(user)?.is_none() {
                return Err(Error::NotFound(format!("no user {user}")));
            }
            Ok(accounts.revoke_user_api_keys(user, now)?)
        })
        .await?;
        self.inner.recent.forget_all();
        self.audit("key_revoked", Some(user), actor, ip, &format!("all keys ({n})")).await;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused_naming_the_field() {
        assert_eq!(Email::parse("  Alice@Example.ORG ").unwrap().as_str(), "alice@example.org");
        for bad in [
            "",
            "alice",
            "@example.org",
            "a@b",
            "a@b@c.d",
            "a b@c.d",
            "a@.c",
            "a@c.",
            &format!("{}@x.org", "a".repeat(260)),
        ] {
            let err = Email::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("email:"), "{bad}: {err}");
        }
    }
}
