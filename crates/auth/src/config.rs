//! What the engine enforces: token lifetimes, registration, quotas, burst
//! limits, login limits and the lockout, and the password hashing cost.

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
    fn default() -> Self {
        Quotas {
            anonymous: Tier { daily: 1_000, per_second: 10 },
            free: Tier { daily: 100, per_second: 5 },
            premium: Tier { daily: 10_000, per_second: 20 },
            admin: Tier { daily: 0, per_second: 0 },
        }
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
        }
    }
}
