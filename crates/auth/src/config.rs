//! What the engine enforces: token lifetimes, registration, quotas, burst
//! limits, login limits and the lockout, reset mails, and the password hashing cost.

use crate::password::HashCost;

/// Limits of one tier of callers. `0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    /// Requests per day (a 24-hour window from the first request).
    pub daily: u64,
    /// Requests per second (burst).
    pub per_second: u64,
}

/// Limits per kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Callers without credentials, per client address.
    pub anonymous: Tier,
    /// `free` accounts (and their keys).
    pub free: Tier,
    /// `premium` accounts.
    pub premium: Tier,
    /// `admin` accounts.
    pub admin: Tier,
}

impl Default for Quotas {
    /// Each tier allows at least what the one below it does (anonymous ≤ free ≤
    /// premium ≤ admin), so an account is never worth less than no account and
    /// registering many accounts gains nothing over one address's anonymous share.
    fn default() -> Self {
        Quotas {
            anonymous: Tier { daily: 1_000, per_second: 10 },
            free: Tier { daily: 2_000, per_second: 10 },
            premium: Tier { daily: 10_000, per_second: 20 },
            admin: Tier { daily: 0, per_second: 0 },
        }
    }
}

impl Quotas {
    /// Where a tier allows less than the tier below it, one sentence each,
    /// naming the settings: `ntsb serve` warns about them at start. Only limits
    /// on both sides are compared: a tier made unlimited (`0`) on purpose, such
    /// as anonymous traffic on an internal deployment, is not flagged.
    pub fn inconsistencies(&self) -> Vec<String> {
        let tiers =
            [("anonymous", self.anonymous), ("free", self.free), ("premium", self.premium), ("admin", self.admin)];
        let above = |a: u64, b: u64| a != 0 && b != 0 && a > b;
        let mut found = Vec::new();
        for pair in tiers.windows(2) {
            let ((low, l), (high, h)) = (pair[0], pair[1]);
            if above(l.daily, h.daily) {
                found.push(format!(
                    "quota_{high} ({}) is below quota_{low} ({}): an account of that tier gets less than {low} callers",
                    h.daily, l.daily
                ));
            }
            if above(l.per_second, h.per_second) {
                found.push(format!(
                    "burst_{high} ({}) is below burst_{low} ({}): an account of that tier gets less than {low} callers",
                    h.per_second, l.per_second
                ));
            }
        }
        found
    }
}

/// Brute-force protection of logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Login attempts per minute per account (e-mail address), known or not.
    pub per_account_per_minute: u64,
    /// Login attempts per minute per client address.
    pub per_ip_per_minute: u64,
    /// Consecutive failures that lock an account.
    pub lock_after: u32,
    /// How long a lock lasts, in seconds.
    pub lock_secs: i64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { per_account_per_minute: 5, per_ip_per_minute: 5, lock_after: 10, lock_secs: 15 * 60 }
    }
}

/// The engine's settings. [`AuthConfig::default`] is the documented production default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Lifetime of access tokens, in seconds (1 hour).
    pub access_ttl: i64,
    /// Lifetime of refresh tokens, in seconds (30 days).
    pub refresh_ttl: i64,
    /// Lifetime of password-reset tokens, in seconds (30 minutes).
    pub reset_ttl: i64,
    /// Whether anyone may register (`POST /api/v1/auth/register`).
    pub registration_open: bool,
    /// Quotas and burst limits.
    pub quotas: Quotas,
    /// Login limits and lockout.
    pub login: LoginLimits,
    /// Argon2id cost.
    pub hash_cost: HashCost,
    /// Accounts one client address may register per hour (`0`: unlimited).
    pub registrations_per_hour: u64,
    /// A password-reset mail is sent to one account at most once in this many
    /// seconds; further requests meanwhile answer the same but send nothing.
    pub reset_mail_every: i64,
    /// A dashboard session ends after this many seconds without a request (1 hour).
    pub session_idle_secs: i64,
    /// A dashboard session ends this many seconds after sign-in at the latest (8 hours).
    pub session_max_secs: i64,
    /// Failed logins from one address (within the lockout time) after which
    /// the dashboard's sign-in form demands a proof-of-work challenge (3).
    pub challenge_after: u64,
    /// Leading zero bits the challenge's SHA-256 must have (about 2^bits hashes
    /// to find, under a second in a browser at the default 16).
    pub challenge_bits: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            access_ttl: 3600,
            refresh_ttl: 30 * 24 * 3600,
            reset_ttl: 30 * 60,
            registration_open: true,
            quotas: Quotas::default(),
            login: LoginLimits::default(),
            hash_cost: HashCost::default(),
            registrations_per_hour: 3,
            reset_mail_every: 5 * 60,
            session_idle_secs: 3600,
            session_max_secs: 8 * 3600,
            challenge_after: 3,
            challenge_bits: 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tiers_are_ordered_and_a_tier_below_the_one_beneath_is_named() {
        assert_eq!(Quotas::default().inconsistencies(), Vec::<String>::new());
        let q = Quotas::default();
        assert!(q.free.daily >= q.anonymous.daily && q.free.per_second >= q.anonymous.per_second);
        let bad = Quotas { free: Tier { daily: 100, per_second: 5 }, ..Quotas::default() };
        let found = bad.inconsistencies();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("quota_free (100) is below quota_anonymous (1000)"), "{found:?}");
        assert!(found[1].starts_with("burst_free (5) is below burst_anonymous (10)"), "{found:?}");
        let unlimited_anonymous = Quotas { anonymous: Tier { daily: 0, per_second: 0 }, ..bad };
        assert!(unlimited_anonymous.inconsistencies().is_empty(), "an unlimited tier is a choice");
    }
}
