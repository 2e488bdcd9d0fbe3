//! Accounts, tokens, API keys, roles, quotas and abuse protection for NTSB
//! Analytics — the engine behind `/api/v1/auth`, `/api/v1/admin` and the
//! access policy of every route. It knows no HTTP: the server maps its
//! [`Error`]s to statuses and its [`Limit`]s to `RateLimit-*` headers.
//!
//! * **Passwords** ([`password`]): a strength rule and argon2id hashes.
//! * **Access tokens** ([`jwt`]): HS256 JWTs, one hour (longer-lived ones are
//!   refused), the algorithm pinned; each names its session, so logout ends it
//!   at once, and its key (`kid`), so keys rotate without logging anybody out
//!   ([`KeySet`]).
//! * **Refresh tokens**: 30 days, single use, rotated on every refresh; a
//!   replayed one revokes its whole session (family).
//! * **API keys**: `ntsb_…`, shown once, stored as SHA-256, with last-used time;
//!   owners list and revoke only their own.
//! * **Roles** `free < premium < admin`, read from the store on every request,
//!   so a role change or a disabled account takes effect at once.
//! * **Limits** ([`limits`]): per-tier daily quotas and per-second bursts,
//!   anonymous callers per address, login attempts per account and per address,
//!   a lockout after consecutive failures — all over a [`CounterStore`]
//!   (in process: [`MemoryCounters`]; a Redis one can be plugged in).
//! * **Audit**: every security event is a structured `tracing` line (target
//!   `ntsb::audit`) and a row in the store; no secret is ever logged.
//!
//! ```
//! # async fn demo() -> ntsb_auth::Result<()> {
//! use std::sync::Arc;
//! use ntsb_auth::{Auth, AuthConfig, MemoryCounters, SigningSecret, SystemClock, HashCost};
//! use ntsb_store::{Store, sqlite::SqliteStore};
//!
//! let store = Arc::new(SqliteStore::open_in_memory()?);
//! store.migrate()?;
//! let clock = Arc::new(SystemClock);
//! let config = AuthConfig { hash_cost: HashCost::TEST, ..AuthConfig::default() };
//! let auth = Auth::new(store, Arc::new(MemoryCounters::new(clock.clone())), clock,
//!                      SigningSecret::ephemeral()?, config)?;
//! auth.register("pilot@example.org", "blue-Heron-7-ladder", "192.0.2.1").await?;
//! let tokens = auth.login("pilot@example.org", "blue-Heron-7-ladder", "192.0.2.1").await?;
//! let me = auth.authenticate_bearer(&tokens.access_token).await?;
//! assert_eq!(me.email, "pilot@example.org");
//! # Ok(()) }
//! # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(demo()).unwrap();
//! ```
#![deny(missing_docs)]

pub mod clock;
mod config;
mod error;
pub mod jwt;
pub mod limits;
pub mod outbox;
pub mod password;
mod random;
mod recent;
mod secret;
mod service;
pub mod web;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AuthConfig, LoginLimits, Quotas, Tier};
pub use error::{Error, Result};
pub use jwt::KeySet;
pub use limits::{CounterStore, Hit, Limit, MemoryCounters};
pub use ntsb_store::accounts::{ApiKey, AuditEvent, AuditQuery, Role, UserId};
pub use outbox::{FileOutbox, ResetDelivery};
pub use password::HashCost;
pub use random::digest;
pub use secret::{MIN_SECRET_BYTES, SigningSecret};
pub use service::{
    Account, Auth, CreatedKey, EXPORT_ROWS_PER_UNIT, Email, KEY_PREFIX, MAX_KEY_NAME, MAX_KEYS_PER_USER, Principal,
    Subject, TokenPair, Via,
};
pub use web::{Challenge, ChallengeAnswer, WebSignIn};
