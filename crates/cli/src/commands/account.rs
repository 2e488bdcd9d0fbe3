//! `ntsb user …` and `ntsb key …`: operator commands for accounts and API
//! keys, and [`engine`], which builds the authentication engine `serve` uses.
//!
//! Passwords never come from a flag (flags show in `ps` and shell history):
//! `user create` reads one line from stdin, or the environment variable named
//! by `--password-env`.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use ntsb_auth::{Auth, FileOutbox, MemoryCounters, Role, SigningSecret, SystemClock};
use ntsb_store::Accounts;

use crate::cli::{KeyCommand, UserCommand};
use crate::config::Config;
use crate::output::out;

/// Opens the configured store (migrating it: accounts are written) as its accounts interface.
fn open_accounts(config: &Config) -> Result<Arc<dyn Accounts>> {
    Ok(super::open_store(config, super::Schema::Migrate)?)
}

/// The engine over `accounts` with the configured settings. Without a
/// configured secret, production refuses to start; development generates an
/// ephemeral one and says so (tokens then die with the process).
/// With `redis`, rate-limit counters are shared by every replica (falling back to
/// this process's own while Redis is away).
pub fn engine(
    config: &Config,
    accounts: Arc<dyn Accounts>,
    production: bool,
    redis: Option<Arc<ntsb_server::redis_link::RedisLink>>,
    counter_namespace: &str,
) -> Result<Auth> {
    let keys = match (&config.auth.jwt_keys, production) {
        (Some(keys), _) => {
            tracing::info!(
                signing_key = keys.signing_id(),
                verify_only_keys = ?keys.other_ids(),
                "JWT keys loaded"
            );
            keys.clone()
        }
        (None, true) => bail!(
            "jwt secret: --production needs a signing secret of at least 32 bytes in NTSB_JWT_SECRET or in the file \
             named by jwt_secret_file (--jwt-secret-file, NTSB_JWT_SECRET_FILE)"
        ),
        (None, false) => {
            tracing::warn!(
                "no JWT signing secret configured (NTSB_JWT_SECRET or NTSB_JWT_SECRET_FILE): using an ephemeral one; \
                 tokens will not survive a restart"
            );
            SigningSecret::ephemeral()?.into()
        }
    };
    let clock = Arc::new(SystemClock);
    let counters: Arc<dyn ntsb_auth::CounterStore> = match redis {
        Some(link) => ntsb_server::shared_counters::SharedCounters::new(
            link,
            MemoryCounters::new(clock.clone()),
            counter_namespace,
        )
        .context("starting the rate-limit counter flusher")?,
        None => Arc::new(MemoryCounters::new(clock.clone())),
    };
    let auth = Auth::new(accounts, counters, clock, keys, config.auth.engine.clone())?
        .with_reset_delivery(Arc::new(FileOutbox::new(config.auth.reset_outbox.clone())));
    Ok(auth)
}

/// An engine for operator commands (no tokens are issued; the secret is unused).
fn operator_engine(config: &Config) -> Result<Auth> {
    let accounts = open_accounts(config)?;
    let clock = Arc::new(SystemClock);
    Ok(Auth::new(
        accounts,
        Arc::new(MemoryCounters::new(clock.clone())),
        clock,
        SigningSecret::ephemeral()?,
        config.auth.engine.clone(),
    )?)
}

fn role(raw: &str) -> Result<Role> {
    Role::parse(raw).ok_or_else(|| anyhow!("--role: {raw:?} is not free, premium or admin"))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().context("starting the runtime")
}

/// Reads the password: from the named variable, or the first line of stdin.
fn read_password(var: Option<&str>) -> Result<String> {
    let password = match var {
        Some(var) => std::env::var(var).map_err(|_| anyhow!("--password-env: the variable {var} is not set"))?,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if password.is_empty() {
        bail!("password: empty; give it on stdin or with --password-env VAR");
    }
    Ok(password)
}

/// `ntsb user …`.
pub fn user(config: &Config, cmd: UserCommand) -> Result<ExitCode> {
    let auth = operator_engine(config)?;
    let rt = runtime()?;
    match cmd {
        UserCommand::Create { email, role: r, password_env } => {
            let role = role(&r)?;
            let password = read_password(password_env.as_deref())?;
            let account =
                rt.block_on(auth.create_user(&email, &password, role)).map_err(|e| anyhow!("user create: {e}"))?;
            rt.block_on(auth.audit("user_created", Some(account.id), None, "cli", &format!("role {}", account.role)));
            out!("created user {} ({}, {})", account.id, account.email, account.role)?;
        }
        UserCommand::List { json } => {
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let page = rt.block_on(auth.list_users(after, 1000)).map_err(|e| anyhow!("user list: {e}"))?;
                let done = page.len() < 1000;
                after = page.last().map(|u| u.id);
                all.extend(page);
                if done {
                    break;
                }
            }
            if json {
                out!("{}", serde_json::to_string_pretty(&all)?)?;
            } else {
                out!("{:>6}  {:<8}  {:<8}  email", "id", "role", "status")?;
                for u in &all {
                    let status = if u.disabled { "disabled" } else { "active" };
                    out!("{:>6}  {:<8}  {:<8}  {}", u.id, u.role.as_str(), status, u.email)?;
                }
            }
        }
        UserCommand::SetRole { email, role: r } => {
            let role = role(&r)?;
            let account = rt.block_on(auth.find_user(&email)).map_err(|e| anyhow!("user set-role: {e}"))?;
            let account =
                rt.block_on(auth.set_role(None, account.id, role, "cli")).map_err(|e| anyhow!("user set-role: {e}"))?;
            out!("user {} ({}) is now {}", account.id, account.email, account.role)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ntsb key …`.
pub fn key(config: &Config, cmd: KeyCommand) -> Result<ExitCode> {
    let auth = operator_engine(config)?;
    let rt = runtime()?;
    match cmd {
        KeyCommand::Create { email, name, json } => {
            let account = rt.block_on(auth.find_user(&email)).map_err(|e| anyhow!("key create: {e}"))?;
            let created =
                rt.block_on(auth.create_key_for(account.id, &name)).map_err(|e| anyhow!("key create: {e}"))?;
            rt.block_on(auth.audit(
                "key_created",
                Some(account.id),
                None,
                "cli",
                &format!("key {}", created.record.id),
            ));
            if json {
                let v = serde_json::json!({"id": created.record.id, "key": created.key, "name": created.record.name,
                    "prefix": created.record.prefix, "created_at": created.record.created_at});
                out!("{v}")?;
            } else {
                eprintln!("API key {} for {} (shown once; send it as X-API-Key):", created.record.id, account.email);
                out!("{}", created.key)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
