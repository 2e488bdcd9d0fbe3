//! The accounts part of the configuration: the JWT signing secret,
//! registration, quotas and burst limits, login limits and the lockout, the
//! reset outbox. Declared like every setting (see [`crate::cli`]); their TOML
//! keys live in the `[auth]` table.
//!
//! The secret is never a flag (flags show in `ps`) nor a TOML value (files get
//! copied around): it comes from `NTSB_JWT_SECRET` or from the file named by
//! `jwt_secret_file` / `NTSB_JWT_SECRET_FILE` / `--jwt-secret-file`. Further
//! keys that verify but never sign (the retired key during a rotation, or the
//! next one before it signs) come from the files named by
//! `jwt_verify_key_files` (see docs/runbooks/rotate-secrets.md).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use ntsb_auth::{AuthConfig, KeySet, LoginLimits, Quotas, SigningSecret, Tier};

/// Largest daily quota or burst (0 means unlimited).
const MAX_LIMIT: u64 = 1_000_000_000;

fn quota_parser() -> clap::builder::RangedU64ValueParser {
    clap::value_parser!(u64).range(0..=MAX_LIMIT)
}

/// Accounts settings.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Accounts and limits")]
pub struct AuthArgs {
    /// File holding the JWT signing secret (at least 32 bytes); or set NTSB_JWT_SECRET [default: none].
    #[arg(long, env = "NTSB_JWT_SECRET_FILE", global = true, value_name = "FILE", hide_env_values = true)]
    pub jwt_secret_file: Option<PathBuf>,
    /// Files of further JWT keys that verify tokens but never sign: the retired key until its tokens expire, or the next key before it signs (comma-separated) [default: none].
    #[arg(
        long,
        env = "NTSB_JWT_VERIFY_KEY_FILES",
        global = true,
        value_name = "FILES",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub jwt_verify_key_files: Vec<PathBuf>,
    /// Self-registration of accounts.
    #[arg(
        long,
        env = "NTSB_REGISTRATION",
        global = true,
        value_name = "POLICY",
        hide_env_values = true,
        default_value = "open"
    )]
    pub registration: Registration,
    /// Requests per day of anonymous callers, per address (0: unlimited).
    #[arg(long, env = "NTSB_QUOTA_ANONYMOUS", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Quotas::default().anonymous.daily, value_parser = quota_parser())]
    pub quota_anonymous: u64,
    /// Requests per day of a free account (0: unlimited).
    #[arg(long, env = "NTSB_QUOTA_FREE", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Quotas::default().free.daily, value_parser = quota_parser())]
    pub quota_free: u64,
    /// Requests per day of a premium account (0: unlimited).
    #[arg(long, env = "NTSB_QUOTA_PREMIUM", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Quotas::default().premium.daily, value_parser = quota_parser())]
    pub quota_premium: u64,
    /// Requests per day of an admin account (0: unlimited).
    #[arg(long, env = "NTSB_QUOTA_ADMIN", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Quotas::default().admin.daily, value_parser = quota_parser())]
    pub quota_admin: u64,
    /// Requests per second of anonymous callers, per address (0: unlimited).
    #[arg(long, env = "NTSB_BURST_ANONYMOUS", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Quotas::default().anonymous.per_second, value_parser = quota_parser())]
    pub burst_anonymous: u64,
    /// Requests per second of a free account (0: unlimited).
    #[arg(long, env = "NTSB_BURST_FREE", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Quotas::default().free.per_second, value_parser = quota_parser())]
    pub burst_free: u64,
    /// Requests per second of a premium account (0: unlimited).
    #[arg(long, env = "NTSB_BURST_PREMIUM", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Quotas::default().premium.per_second, value_parser = quota_parser())]
    pub burst_premium: u64,
    /// Requests per second of an admin account (0: unlimited).
    #[arg(long, env = "NTSB_BURST_ADMIN", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Quotas::default().admin.per_second, value_parser = quota_parser())]
    pub burst_admin: u64,
    /// Login attempts per minute, per account and per address.
    #[arg(long, env = "NTSB_LOGIN_ATTEMPTS_PER_MINUTE", global = true, value_name = "N", hide_env_values = true,
          default_value_t = LoginLimits::default().per_ip_per_minute,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub login_attempts_per_minute: u64,
    /// Consecutive failed logins that lock an account.
    #[arg(long, env = "NTSB_LOCKOUT_THRESHOLD", global = true, value_name = "N", hide_env_values = true,
          default_value_t = LoginLimits::default().lock_after,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub lockout_threshold: u32,
    /// Minutes an account stays locked.
    #[arg(long, env = "NTSB_LOCKOUT_MINUTES", global = true, value_name = "N", hide_env_values = true,
          default_value_t = LoginLimits::default().lock_secs / 60,
          value_parser = clap::value_parser!(i64).range(1..=10_080))]
    pub lockout_minutes: i64,
    /// Accounts one client address may register per hour (0: unlimited).
    #[arg(long, env = "NTSB_REGISTRATIONS_PER_HOUR", global = true, value_name = "N", hide_env_values = true,
          default_value_t = AuthConfig::default().registrations_per_hour,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub registrations_per_hour: u64,
    /// Minutes without a request after which a dashboard session ends.
    #[arg(long, env = "NTSB_SESSION_IDLE_MINUTES", global = true, value_name = "N", hide_env_values = true,
          default_value_t = AuthConfig::default().session_idle_secs / 60,
          value_parser = clap::value_parser!(i64).range(1..=10_080))]
    pub session_idle_minutes: i64,
    /// Hours after sign-in at which a dashboard session ends, however active.
    #[arg(long, env = "NTSB_SESSION_MAX_HOURS", global = true, value_name = "N", hide_env_values = true,
          default_value_t = AuthConfig::default().session_max_secs / 3600,
          value_parser = clap::value_parser!(i64).range(1..=720))]
    pub session_max_hours: i64,
    /// Directory where password-reset messages are written for a mail relay [default: DATA_DIR/outbox].
    #[arg(long, env = "NTSB_RESET_OUTBOX", global = true, value_name = "DIR", hide_env_values = true)]
    pub reset_outbox: Option<PathBuf>,
}

/// Whether anyone may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Registration {
    /// Anyone may register.
    Open,
    /// Only an operator creates accounts (`ntsb user create`).
    Closed,
}

/// The validated accounts settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthSettings {
    /// The signing secret and the keys that only verify, when a secret is
    /// configured (`None`: `serve` generates an ephemeral one in development and
    /// refuses to start in production).
    pub jwt_keys: Option<KeySet>,
    /// The engine's settings.
    pub engine: AuthConfig,
    /// Where reset messages go.
    pub reset_outbox: PathBuf,
}

impl AuthSettings {
    /// Builds the engine's settings from the parsed (already layered and
    /// range-checked) arguments. `env` looks up `NTSB_JWT_SECRET` (a parameter
    /// so tests need not touch the process environment).
    pub fn load(args: &AuthArgs, data_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Result<AuthSettings> {
        let secret_env = env("NTSB_JWT_SECRET").filter(|s| !s.is_empty());
        let jwt_secret = match (secret_env, &args.jwt_secret_file) {
            (Some(_), Some(_)) => {
                bail!(
                    "jwt secret: set NTSB_JWT_SECRET or jwt_secret_file (--jwt-secret-file, NTSB_JWT_SECRET_FILE), not both"
                )
            }
            (Some(s), None) => Some(SigningSecret::new(s.into_bytes(), "NTSB_JWT_SECRET")?),
            (None, Some(path)) => {
                Some(SigningSecret::from_file(path, "jwt_secret_file (--jwt-secret-file, NTSB_JWT_SECRET_FILE)")?)
            }
            (None, None) => None,
        };
        const VERIFY: &str = "jwt_verify_key_files (--jwt-verify-key-files, NTSB_JWT_VERIFY_KEY_FILES)";
        let others = args
            .jwt_verify_key_files
            .iter()
            .map(|path| SigningSecret::from_file(path, VERIFY))
            .collect::<ntsb_auth::Result<Vec<_>>>()?;
        let jwt_keys = match jwt_secret {
            Some(signing) => Some(KeySet::new(signing, others)?),
            None if others.is_empty() => None,
            None => bail!("{VERIFY}: verification keys need a signing secret (NTSB_JWT_SECRET or jwt_secret_file)"),
        };
        let tier = |daily, per_second| Tier { daily, per_second };
        let quotas = Quotas {
            anonymous: tier(args.quota_anonymous, args.burst_anonymous),
            free: tier(args.quota_free, args.burst_free),
            premium: tier(args.quota_premium, args.burst_premium),
            admin: tier(args.quota_admin, args.burst_admin),
        };
        let engine = AuthConfig {
            registration_open: args.registration == Registration::Open,
            registrations_per_hour: args.registrations_per_hour,
            session_idle_secs: args.session_idle_minutes * 60,
            session_max_secs: args.session_max_hours * 3600,
            quotas,
            login: LoginLimits {
                per_account_per_minute: args.login_attempts_per_minute,
                per_ip_per_minute: args.login_attempts_per_minute,
                lock_after: args.lockout_threshold,
                lock_secs: args.lockout_minutes * 60,
            },
            ..AuthConfig::default()
        };
        let reset_outbox = args.reset_outbox.clone().unwrap_or_else(|| data_dir.join("outbox"));
        Ok(AuthSettings { jwt_keys, engine, reset_outbox })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    fn args(flags: &[&str]) -> AuthArgs {
        let argv = [&["ntsb"][..], flags, &["stats"]].concat();
        crate::config::parse(argv).unwrap().global.auth
    }

    #[test]
    fn defaults_are_the_engines() {
        let s = AuthSettings::load(&args(&[]), Path::new("d"), none).unwrap();
        assert_eq!(s.jwt_keys, None);
        assert_eq!(s.engine, AuthConfig::default());
        assert_eq!(s.reset_outbox, PathBuf::from("d/outbox"));
    }

    #[test]
    fn flags_set_the_engine_and_bad_values_name_the_flag() {
        let s = AuthSettings::load(
            &args(&["--quota-free", "9", "--burst-free", "2", "--registration", "closed", "--lockout-minutes", "3"]),
            Path::new("d"),
            none,
        )
        .unwrap();
        assert_eq!((s.engine.quotas.free.daily, s.engine.quotas.free.per_second), (9, 2));
        assert_eq!(s.engine.login.lock_secs, 180);
        assert!(!s.engine.registration_open);
        for (flag, value) in [("--registration", "maybe"), ("--lockout-threshold", "0"), ("--quota-free", "-1")] {
            // `--flag=value`: a bare `-1` would read as an unknown option, not a value.
            let err = crate::config::parse(["ntsb", &format!("{flag}={value}"), "stats"]).unwrap_err().to_string();
            assert!(err.contains(flag), "{err}");
        }
    }

    #[test]
    fn the_secret_comes_from_the_environment_or_a_file_and_is_checked() {
        let env = |k: &str| (k == "NTSB_JWT_SECRET").then(|| "s".repeat(40));
        let s = AuthSettings::load(&args(&[]), Path::new("d"), env).unwrap();
        assert!(s.jwt_keys.is_some());
        let short = |k: &str| (k == "NTSB_JWT_SECRET").then(|| "short".to_string());
        let err = AuthSettings::load(&args(&[]), Path::new("d"), short).unwrap_err().to_string();
        assert!(err.contains("NTSB_JWT_SECRET") && err.contains("32"), "{err}");
        assert!(!err.contains("short"), "the message never repeats the secret: {err}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "f".repeat(64)).unwrap();
        let with_file = args(&["--jwt-secret-file", path.to_str().unwrap()]);
        assert!(AuthSettings::load(&with_file, Path::new("d"), none).unwrap().jwt_keys.is_some());
        assert!(AuthSettings::load(&with_file, Path::new("d"), env).is_err(), "both at once is ambiguous");
    }

    #[test]
    fn verification_keys_come_from_files_and_join_the_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let (old, next, short) = (dir.path().join("old"), dir.path().join("next"), dir.path().join("short"));
        std::fs::write(&old, "o".repeat(48)).unwrap();
        std::fs::write(&next, "n".repeat(48)).unwrap();
        std::fs::write(&short, "tiny").unwrap();
        let env = |k: &str| (k == "NTSB_JWT_SECRET").then(|| "s".repeat(40));
        let list = format!("{},{}", old.display(), next.display());
        let keys = AuthSettings::load(&args(&["--jwt-verify-key-files", &list]), Path::new("d"), env)
            .unwrap()
            .jwt_keys
            .unwrap();
        let id = |p: &Path| ntsb_auth::jwt::key_id(&SigningSecret::from_file(p, "t").unwrap());
        assert_eq!(keys.other_ids(), [id(&old), id(&next)]);
        assert_eq!(
            keys.signing_id(),
            ntsb_auth::jwt::key_id(&SigningSecret::new("s".repeat(40).into_bytes(), "t").unwrap())
        );

        let err = AuthSettings::load(&args(&["--jwt-verify-key-files", short.to_str().unwrap()]), Path::new("d"), env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("jwt_verify_key_files") && err.contains("32"), "{err}");
        let err = AuthSettings::load(&args(&["--jwt-verify-key-files", old.to_str().unwrap()]), Path::new("d"), none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("need a signing secret"), "{err}");
        let same = |k: &str| (k == "NTSB_JWT_SECRET").then(|| "o".repeat(48));
        let err = AuthSettings::load(&args(&["--jwt-verify-key-files", old.to_str().unwrap()]), Path::new("d"), same)
            .unwrap_err()
            .to_string();
        assert!(err.contains("given twice"), "{err}");
    }
}
