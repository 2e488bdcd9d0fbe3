//! Errors of the authentication engine, split by whose fault they are. The
//! HTTP layer maps each variant to a status and a stable problem `code`.

use crate::limits::Limit;

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an authentication operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of the request is missing or malformed (400, naming the field).
    #[error("{field}: {reason}")]
    InvalidInput {
        /// The field, as the API names it.
        field: &'static str,
        /// Why, in one sentence.
        reason: String,
    },
    /// Unknown e-mail or wrong password: one message for both, so a caller
    /// cannot tell which accounts exist (401).
    #[error("the e-mail address or password is wrong")]
    InvalidCredentials,
    /// No usable credential: a missing, malformed, forged, expired or revoked
    /// token or key (401). The reason is for the log, never for the client.
    #[error("authentication required")]
    Unauthenticated(&'static str),
    /// Too many consecutive failed logins: the account is locked (429 with Retry-After).
    #[error("too many failed logins; try again later")]
    Locked {
        /// Seconds until the lock ends.
        retry_after: u64,
    },
    /// The account is disabled by an administrator (403).
    #[error("this account is disabled")]
    Disabled,
    /// Authenticated, but not allowed to do this (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// Over a rate limit or quota (429 with Retry-After and RateLimit headers).
    #[error("{} limit reached", .0.scope)]
    RateLimited(Limit),
    /// Self-registration is turned off by configuration (403).
    #[error("registration is closed; ask an administrator for an account")]
    RegistrationClosed,
    /// The e-mail address is already registered (409).
    #[error("an account with this e-mail address exists")]
    Conflict,
    /// The named user or key does not exist (or is not the caller's) (404).
    #[error("{0}")]
    NotFound(String),
    /// The sign-in form needs a solved proof-of-work challenge first (too many
    /// failed logins from the address), or the one sent is wrong, expired or spent (403).
    #[error("solve the challenge before signing in")]
    ChallengeRequired,
    /// The configuration is unusable (refused at start-up).
    #[error("{0}")]
    Config(String),
    /// The store failed (500; the cause is logged, not sent).
    #[error("store: {0}")]
    Store(#[from] ntsb_store::Error),
    /// Anything else that is our fault (500).
    #[error("internal: {0}")]
    Internal(String),
}
