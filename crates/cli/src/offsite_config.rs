//! The off-site backup part of the configuration (`ntsb db backup --to`,
//! `ntsb db restore --from`): the key file, the S3 endpoint and region, the
//! retention. Declared like every setting (see [`crate::cli`]); top-level TOML keys.
//!
//! The backup key is never a flag, a variable or a TOML value: only a file (a
//! mounted secret) named by `backup_key_file`. The object store's credentials
//! are read straight from the standard AWS variables, or from files named by
//! their `_FILE` variants, and only when an `s3://` location is used:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (optional),
//! `AWS_REGION` (when `s3_region` is not set).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use ntsb_offsite::{BackupKey, Retention, S3Settings};

/// Variables read directly (credentials are not settings: never flags or TOML keys);
/// `.env.example` lists them (a test checks).
#[cfg(test)]
pub const CREDENTIAL_VARIABLES: [&str; 7] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_ACCESS_KEY_ID_FILE",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY_FILE",
    "AWS_SESSION_TOKEN",
    "AWS_SESSION_TOKEN_FILE",
    "AWS_REGION",
];

/// Value parser of `s3_endpoint`: an http(s) URL without credentials.
pub fn endpoint(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value.trim()).map_err(|_| "must be an http:// or https:// URL".to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold credentials (use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)".into());
    }
    Ok(value.trim().to_string())
}

/// Off-site backup settings.
#[derive(Debug, Args, Clone, PartialEq)]
#[command(next_help_heading = "Off-site backups")]
pub struct OffsiteArgs {
    /// File holding the off-site backup key: 32 random bytes, as 64 hex digits or raw (`openssl rand -hex 32`) [default: none].
    #[arg(long, env = "NTSB_BACKUP_KEY_FILE", global = true, value_name = "FILE", hide_env_values = true)]
    pub backup_key_file: Option<PathBuf>,
    /// Endpoint of an S3-compatible object store (MinIO, Ceph, …), addressed path-style; none: AWS S3 [default: AWS].
    #[arg(long, env = "NTSB_S3_ENDPOINT", global = true, value_name = "URL", hide_env_values = true,
          value_parser = endpoint)]
    pub s3_endpoint: Option<String>,
    /// Region of the object store [default: AWS_REGION, else us-east-1].
    #[arg(long, env = "NTSB_S3_REGION", global = true, value_name = "REGION", hide_env_values = true)]
    pub s3_region: Option<String>,
    /// `db backup --prune`: keep the newest archive of each of this many most recent hours.
    #[arg(long, env = "NTSB_BACKUP_KEEP_HOURLY", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Retention::default().hourly, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub backup_keep_hourly: u32,
    /// `db backup --prune`: keep the newest archive of each of this many most recent days.
    #[arg(long, env = "NTSB_BACKUP_KEEP_DAILY", global = true, value_name = "N", hide_env_values = true,
          default_value_t = Retention::default().daily, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub backup_keep_daily: u32,
}

impl OffsiteArgs {
    /// The retention of `--prune`.
    pub fn retention(&self) -> Retention {
        Retention { hourly: self.backup_keep_hourly, daily: self.backup_keep_daily }
    }

    /// The backup key, which an `s3://` backup or restore requires.
    pub fn key(&self) -> Result<BackupKey> {
        let Some(path) = &self.backup_key_file else {
            bail!(
                "backup_key_file (--backup-key-file, NTSB_BACKUP_KEY_FILE): an s3:// backup or restore needs the backup key file"
            );
        };
        Ok(BackupKey::from_file(path)?)
    }

    /// How to reach the object store, with the credentials from `env`.
    pub fn s3_settings(&self, env: impl Fn(&str) -> Option<String>) -> Result<S3Settings> {
        let access_key_id = credential(&env, "AWS_ACCESS_KEY_ID")?;
        let secret_access_key = credential(&env, "AWS_SECRET_ACCESS_KEY")?;
        let session_token = credential(&env, "AWS_SESSION_TOKEN")?;
        let (Some(access_key_id), Some(secret_access_key)) = (access_key_id, secret_access_key) else {
            bail!(
                "object storage credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID_FILE and AWS_SECRET_ACCESS_KEY_FILE)"
            );
        };
        let region = self
            .s3_region
            .clone()
            .or_else(|| env("AWS_REGION").filter(|r| !r.trim().is_empty()))
            .unwrap_or_else(|| "us-east-1".to_string());
        let endpoint = match &self.s3_endpoint {
            Some(url) => Some(url.parse().context("s3_endpoint (--s3-endpoint, NTSB_S3_ENDPOINT)")?),
            None => None,
        };
        Ok(S3Settings { endpoint, region, access_key_id, secret_access_key, session_token })
    }
}

/// `NAME` from the environment, or the first line of the file named by `NAME_FILE`; not both.
fn credential(env: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<String>> {
    let direct = env(name).filter(|v| !v.is_empty());
    let file = env(&format!("{name}_FILE")).filter(|v| !v.is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => bail!("{name} and {name}_FILE: give one, not both"),
        (Some(v), None) => Ok(Some(v.trim().to_string())),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).with_context(|| format!("{name}_FILE: cannot read {path}"))?;
            match text.lines().map(str::trim).find(|l| !l.is_empty()) {
                Some(v) => Ok(Some(v.to_string())),
                None => bail!("{name}_FILE: {path} is empty"),
            }
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn args() -> OffsiteArgs {
        OffsiteArgs {
            backup_key_file: None,
            s3_endpoint: Some("http://127.0.0.1:9000".into()),
            s3_region: None,
            backup_keep_hourly: 48,
            backup_keep_daily: 30,
        }
    }

    #[test]
    fn credentials_come_from_variables_or_files_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, "from-file-s3cret\n").unwrap();
        let vars: HashMap<&str, String> = [
            ("AWS_ACCESS_KEY_ID", "AKID".to_string()),
            ("AWS_SECRET_ACCESS_KEY_FILE", secret_file.display().to_string()),
            ("AWS_REGION", "eu-central-1".to_string()),
        ]
        .into();
        let s = args().s3_settings(|k| vars.get(k).cloned()).unwrap();
        assert_eq!((s.access_key_id.as_str(), s.secret_access_key.as_str()), ("AKID", "from-file-s3cret"));
        assert_eq!(s.region, "eu-central-1");
        assert!(!format!("{s:?}").contains("s3cret"));

        let mut both = vars.clone();
        both.insert("AWS_SECRET_ACCESS_KEY", "x".into());
        let err = args().s3_settings(|k| both.get(k).cloned()).unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
        let err = args().s3_settings(|_| None).unwrap_err().to_string();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    }

    #[test]
    fn the_key_file_is_required_and_checked() {
        let err = args().key().unwrap_err().to_string();
        assert!(err.contains("--backup-key-file"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "not a key").unwrap();
        let err = OffsiteArgs { backup_key_file: Some(file.clone()), ..args() }.key().unwrap_err().to_string();
        assert!(err.contains("64 hexadecimal digits") && !err.contains("not a key"), "{err}");
        std::fs::write(&file, "ab".repeat(32)).unwrap();
        assert!(OffsiteArgs { backup_key_file: Some(file), ..args() }.key().is_ok());
        assert!(endpoint("http://user:pw@minio:9000").is_err());
        assert!(endpoint("ftp://minio").is_err());
        assert!(endpoint("https://minio.internal:9000").is_ok());
    }
}
