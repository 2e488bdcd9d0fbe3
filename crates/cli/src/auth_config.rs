//! The accounts part of the typed configuration: the JWT signing secret,
//! registration, quotas and burst limits, login limits and the lockout, the
//! reset outbox. Layered like the rest (defaults < `[auth]` in the TOML file <
//! `NTSB_*` environment < flags) and validated with messages naming the setting.
//!
//! The secret is never a flag (flags show in `ps`) nor a TOML value (files get
//! copied around): it comes from `NTSB_JWT_SECRET` or from the file named by
//! `jwt_secret_file` / `NTSB_JWT_SECRET_FILE` / `--jwt-secret-file`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;
use ntsb_auth::{AuthConfig, LoginLimits, Quotas, SigningSecret, Tier};
use serde::Deserialize;

/// Flags (and their environment variables) of the accounts settings.
#[derive(Debug, Args, Clone, Default)]
pub struct AuthArgs {
    /// File holding the JWT signing secret (at least 32 bytes); or set NTSB_JWT_SECRET.
    #[arg(long, env = "NTSB_JWT_SECRET_FILE", global = true, value_name = "FILE")]
    pub jwt_secret_file: Option<PathBuf>,
    /// Self-registration: `open` or `closed` [default: open].
    #[arg(long, env = "NTSB_REGISTRATION", global = true, value_name = "open|closed")]
    pub registration: Option<String>,
    /// Requests per day of anonymous callers, per address (0 = unlimited) [default: 1000].
    #[arg(long, env = "NTSB_QUOTA_ANONYMOUS", global = true, value_name = "N")]
    pub quota_anonymous: Option<u64>,
    /// Requests per day of a free account (0 = unlimited) [default: 100].
    #[arg(long, env = "NTSB_QUOTA_FREE", global = true, value_name = "N")]
    pub quota_free: Option<u64>,
    /// Requests per day of a premium account (0 = unlimited) [default: 10000].
    #[arg(long, env = "NTSB_QUOTA_PREMIUM", global = true, value_name = "N")]
    pub quota_premium: Option<u64>,
    /// Requests per day of an admin account (0 = unlimited) [default: 0].
    #[arg(long, env = "NTSB_QUOTA_ADMIN", global = true, value_name = "N")]
    pub quota_admin: Option<u64>,
    /// Requests per second of anonymous callers, per address (0 = unlimited) [default: 10].
    #[arg(long, env = "NTSB_BURST_ANONYMOUS", global = true, value_name = "N")]
    pub burst_anonymous: Option<u64>,
    /// Requests per second of a free account (0 = unlimited) [default: 5].
    #[arg(long, env = "NTSB_BURST_FREE", global = true, value_name = "N")]
    pub burst_free: Option<u64>,
    /// Requests per second of a premium account (0 = unlimited) [default: 20].
    #[arg(long, env = "NTSB_BURST_PREMIUM", global = true, value_name = "N")]
    pub burst_premium: Option<u64>,
    /// Requests per second of an admin account (0 = unlimited) [default: 0].
    #[arg(long, env = "NTSB_BURST_ADMIN", global = true, value_name = "N")]
    pub burst_admin: Option<u64>,
    /// Login attempts per minute, per account and per address (1–1000) [default: 5].
    #[arg(long, env = "NTSB_LOGIN_ATTEMPTS_PER_MINUTE", global = true, value_name = "N")]
    pub login_attempts_per_minute: Option<u64>,
    /// Consecutive failed logins that lock an account (1–1000) [default: 10].
    #[arg(long, env = "NTSB_LOCKOUT_THRESHOLD", global = true, value_name = "N")]
    pub lockout_threshold: Option<u32>,
    /// Minutes an account stays locked (1–10080) [default: 15].
    #[arg(long, env = "NTSB_LOCKOUT_MINUTES", global = true, value_name = "N")]
    pub lockout_minutes: Option<u32>,
    /// Directory where password-reset messages are written for a mail relay [default: DATA_DIR/outbox].
    #[arg(long, env = "NTSB_RESET_OUTBOX", global = true, value_name = "DIR")]
    pub reset_outbox: Option<PathBuf>,
}

/// The `[auth]` table of the TOML file. Unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    jwt_secret_file: Option<PathBuf>,
    registration: Option<String>,
    quota_anonymous: Option<u64>,
    quota_free: Option<u64>,
    quota_premium: Option<u64>,
    quota_admin: Option<u64>,
    burst_anonymous: Option<u64>,
    burst_free: Option<u64>,
    burst_premium: Option<u64>,
    burst_admin: Option<u64>,
    login_attempts_per_minute: Option<u64>,
    lockout_threshold: Option<u32>,
    lockout_minutes: Option<u32>,
    reset_outbox: Option<PathBuf>,
}

/// The validated accounts settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthSettings {
    /// The signing secret, when one is configured (`None`: `serve` generates an
    /// ephemeral one in development and refuses to start in production).
    pub jwt_secret: Option<SigningSecret>,
    /// The engine's settings.
    pub engine: AuthConfig,
    /// Where reset messages go.
    pub reset_outbox: PathBuf,
}

impl AuthSettings {
    /// Layers flags/environment over the file over defaults. `env` looks up
    /// `NTSB_JWT_SECRET` (a parameter so tests need not touch the process environment).
    pub fn load(
        args: &AuthArgs,
        file: Option<AuthFile>,
        data_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<AuthSettings> {
        let file = file.unwrap_or_default();
        let secret_file = args.jwt_secret_file.clone().or(file.jwt_secret_file);
        let secret_env = env("NTSB_JWT_SECRET").filter(|s| !s.is_empty());
        let jwt_secret = match (secret_env, secret_file) {
            (Some(_), Some(_)) => {
                bail!(
                    "jwt secret: set NTSB_JWT_SECRET or jwt_secret_file (--jwt-secret-file, NTSB_JWT_SECRET_FILE), not both"
                )
            }
            (Some(s), None) => Some(SigningSecret::new(s.into_bytes(), "NTSB_JWT_SECRET")?),
            (None, Some(path)) => {
                Some(SigningSecret::from_file(&path, "jwt_secret_file (--jwt-secret-file, NTSB_JWT_SECRET_FILE)")?)
            }
            (None, None) => None,
        };
        let registration_open = match args.registration.clone().or(file.registration).as_deref() {
            None | Some("open") => true,
            Some("closed") => false,
            Some(other) => {
                bail!("registration (--registration, NTSB_REGISTRATION): {other:?} is not `open` or `closed`")
            }
        };
        let d = Quotas::default();
        let tier = |daily: Option<u64>, burst: Option<u64>, default: Tier| Tier {
            daily: daily.unwrap_or(default.daily),
            per_second: burst.unwrap_or(default.per_second),
        };
        let quotas = Quotas {
            anonymous: tier(
                args.quota_anonymous.or(file.quota_anonymous),
                args.burst_anonymous.or(file.burst_anonymous),
                d.anonymous,
            ),
            free: tier(args.quota_free.or(file.quota_free), args.burst_free.or(file.burst_free), d.free),
            premium: tier(
                args.quota_premium.or(file.quota_premium),
                args.burst_premium.or(file.burst_premium),
                d.premium,
            ),
            admin: tier(args.quota_admin.or(file.quota_admin), args.burst_admin.or(file.burst_admin), d.admin),
        };
        for (name, flag, value) in [
            ("quota_anonymous", "--quota-anonymous, NTSB_QUOTA_ANONYMOUS", quotas.anonymous.daily),
            ("quota_free", "--quota-free, NTSB_QUOTA_FREE", quotas.free.daily),
            ("quota_premium", "--quota-premium, NTSB_QUOTA_PREMIUM", quotas.premium.daily),
            ("quota_admin", "--quota-admin, NTSB_QUOTA_ADMIN", quotas.admin.daily),
            ("burst_anonymous", "--burst-anonymous, NTSB_BURST_ANONYMOUS", quotas.anonymous.per_second),
            ("burst_free", "--burst-free, NTSB_BURST_FREE", quotas.free.per_second),
            ("burst_premium", "--burst-premium, NTSB_BURST_PREMIUM", quotas.premium.per_second),
            ("burst_admin", "--burst-admin, NTSB_BURST_ADMIN", quotas.admin.per_second),
        ] {
            if value > 1_000_000_000 {
                bail!("{name} ({flag}): {value} is too large (at most 1000000000; 0 means unlimited)");
            }
        }
        let dl = LoginLimits::default();
        let attempts =
            args.login_attempts_per_minute.or(file.login_attempts_per_minute).unwrap_or(dl.per_ip_per_minute);
        if !(1..=1000).contains(&attempts) {
            bail!(
                "login_attempts_per_minute (--login-attempts-per-minute, NTSB_LOGIN_ATTEMPTS_PER_MINUTE): must be 1 to 1000, got {attempts}"
            );
        }
        let lock_after = args.lockout_threshold.or(file.lockout_threshold).unwrap_or(dl.lock_after);
        if !(1..=1000).contains(&lock_after) {
            bail!(
                "lockout_threshold (--lockout-threshold, NTSB_LOCKOUT_THRESHOLD): must be 1 to 1000, got {lock_after}"
            );
        }
        let lock_minutes = args.lockout_minutes.or(file.lockout_minutes).map_or(dl.lock_secs / 60, i64::from);
        if !(1..=10_080).contains(&lock_minutes) {
            bail!("lockout_minutes (--lockout-minutes, NTSB_LOCKOUT_MINUTES): must be 1 to 10080, got {lock_minutes}");
        }
        let engine = AuthConfig {
            registration_open,
            quotas,
            login: LoginLimits {
                per_account_per_minute: attempts,
                per_ip_per_minute: attempts,
                lock_after,
                lock_secs: lock_minutes * 60,
            },
            ..AuthConfig::default()
        };
        let reset_outbox = args.reset_outbox.clone().or(file.reset_outbox).unwrap_or_else(|| data_dir.join("outbox"));
        Ok(AuthSettings { jwt_secret, engine, reset_outbox })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = AuthSettings::load(&AuthArgs::default(), None, Path::new("d"), none).unwrap();
        assert_eq!(s.jwt_secret, None);
        assert_eq!(s.engine, AuthConfig::default());
        assert_eq!(s.reset_outbox, PathBuf::from("d/outbox"));
    }

    #[test]
    fn flags_win_over_the_file_and_bad_values_name_the_setting() {
        let file: AuthFile = toml::from_str("quota_free = 7\nregistration = \"closed\"\nburst_free = 2\n").unwrap();
        let args = AuthArgs { quota_free: Some(9), ..AuthArgs::default() };
        let s = AuthSettings::load(&args, Some(file), Path::new("d"), none).unwrap();
        assert_eq!((s.engine.quotas.free.daily, s.engine.quotas.free.per_second), (9, 2));
        assert!(!s.engine.registration_open);

        let bad = AuthArgs { registration: Some("maybe".into()), ..AuthArgs::default() };
        assert!(AuthSettings::load(&bad, None, Path::new("d"), none).unwrap_err().to_string().contains("registration"));
        let bad = AuthArgs { lockout_threshold: Some(0), ..AuthArgs::default() };
        assert!(
            AuthSettings::load(&bad, None, Path::new("d"), none).unwrap_err().to_string().contains("lockout_threshold")
        );
        assert!(toml::from_str::<AuthFile>("quota_fre = 1").is_err(), "typos are refused");
    }

    #[test]
    fn the_secret_comes_from_the_environment_or_a_file_and_is_checked() {
        let env = |k: &str| (k == "NTSB_JWT_SECRET").then(|| "s".repeat(40));
        let s = AuthSettings::load(&AuthArgs::default(), None, Path::new("d"), env).unwrap();
        assert!(s.jwt_secret.is_some());
        let short = |k: &str| (k == "NTSB_JWT_SECRET").then(|| "short".to_string());
        let err = AuthSettings::load(&AuthArgs::default(), None, Path::new("d"), short).unwrap_err().to_string();
        assert!(err.contains("NTSB_JWT_SECRET") && err.contains("32"), "{err}");
        assert!(!err.contains("short"), "the message never repeats the secret: {err}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "f".repeat(64)).unwrap();
        let args = AuthArgs { jwt_secret_file: Some(path), ..AuthArgs::default() };
        assert!(AuthSettings::load(&args, None, Path::new("d"), none).unwrap().jwt_secret.is_some());
        assert!(AuthSettings::load(&args, None, Path::new("d"), env).is_err(), "both at once is ambiguous");
    }
}
