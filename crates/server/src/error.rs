//! [`ApiError`]: every way a request can fail, answered as an RFC 9457 problem
//! document (`application/problem+json`) with a stable machine-readable `code`.
//!
//! Whose fault it is decides the status: the caller's (400, 404, 405, 413) or
//! ours (500, 503). Internal causes never reach the client: the body says only
//! "internal error" and the cause rides along as a response extension, which the
//! problem middleware logs once with the request id.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "/docs#problem-invalid_parameter",
    "title": "Invalid parameter",
    "status": 400,
    "detail": "from: expected a date YYYY-MM-DD, got \"2020-13-01\"",
    "code": "invalid_parameter",
    "parameter": "from",
    "instance": "/api/v1/events"
}))]
pub struct Problem {
    /// URI reference naming the kind of problem (resolves to the API reference page).
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the kind of problem; the same for every occurrence of a `code`.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// Stable code for programs: `invalid_parameter`, `not_found`, `method_not_allowed`,
    /// `payload_too_large`, `timeout`, `body_timeout`, `unsupported_media_type`, `unavailable`, `internal`; `unauthenticated`,
    /// `invalid_credentials`, `forbidden`, `admin_required`, `session_required`,
    /// `account_disabled`, `registration_closed`, `conflict`, `rate_limited`,
    /// `quota_exceeded`, `account_locked`, `too_many_streams`.
    pub code: String,
    /// The query parameter at fault, for `invalid_parameter`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parameter: Option<String>,
    /// The request path this occurrence concerns.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub instance: Option<String>,
}

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// A query parameter is missing, malformed, out of range or unknown.
    #[error("{parameter}: {reason}")]
    InvalidParameter {
        /// The parameter, as the API names it.
        parameter: String,
        /// Why, in one sentence the caller can act on.
        reason: String,
    },
    /// The named thing (an event, a route) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request body is larger than the server accepts.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The request took longer than the configured timeout.
    #[error("the request took too long and was abandoned")]
    Timeout,
    /// The client did not send the whole request body in time (408; the
    /// connection is closed).
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    /// A request body in another media type than JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A dependency (store, index) is not usable right now.
    #[error("{0}")]
    Unavailable(String),
    /// No usable credentials (401, with `WWW-Authenticate`).
    #[error("{detail}")]
    Unauthorized {
        /// Stable code: `unauthenticated` or `invalid_credentials`.
        code: &'static str,
        /// What the caller can do about it (never why a token failed).
        detail: String,
    },
    /// Authenticated but not allowed (403).
    #[error("{detail}")]
    Forbidden {
        /// Stable code: `forbidden`, `admin_required`, `session_required`,
        /// `account_disabled`, `registration_closed`.
        code: &'static str,
        /// Why.
        detail: String,
    },
    /// The target already exists (409).
    #[error("{0}")]
    Conflict(String),
    /// Over a rate limit or quota, or a locked account (429 with `Retry-After`;
    /// `RateLimit-*` headers when a limit applies).
    #[error("{detail}")]
    TooManyRequests {
        /// Stable code: `rate_limited`, `quota_exceeded`, `account_locked` or
        /// `too_many_streams`.
        code: &'static str,
        /// What was exceeded and when to retry.
        detail: String,
        /// Seconds to wait.
        retry_after: u64,
        /// The limit's state, for the headers.
        limit: Option<ntsb_auth::Limit>,
    },
    /// Anything that is our fault. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// Any other status produced by the framework (kept as is, described generically).
    #[error("{0}")]
    Other(StatusCode),
}

/// The internal cause of a 5xx, attached to the response for the logging middleware.
#[derive(Debug, Clone)]
pub(crate) struct InternalCause(pub Arc<str>);

/// Every stable problem `code` the API answers with, its HTTP status and what it
/// means: the one list the `/docs` page's error section (whose anchors the
/// problems' `type` links point at) is made from. A test reads the crate's
/// sources and fails when a code is used that is not listed here.
pub(crate) const PROBLEM_CODES: &[(&str, u16, &str)] = &[
    (
        "invalid_parameter",
        400,
        "A query parameter or body field is malformed, out of range, repeated or unknown; `parameter` names it.",
    ),
    ("bad_request", 400, "The request could not be read (for example a malformed body)."),
    ("unauthenticated", 401, "Credentials are missing, malformed, expired or revoked."),
    ("invalid_credentials", 401, "The email address or password is wrong."),
    ("forbidden", 403, "The credentials do not allow this."),
    ("admin_required", 403, "The endpoint is for administrators."),
    ("session_required", 403, "The operation needs a signed-in session, not an API key."),
    ("account_disabled", 403, "The account is disabled."),
    ("registration_closed", 403, "Registration is closed on this server."),
    ("csrf", 403, "A dashboard form arrived without its CSRF token, or with a wrong one; reload the page."),
    ("challenge_required", 403, "The dashboard's sign-in form needs its proof-of-work challenge solved first."),
    ("not_found", 404, "No such event, resource or route."),
    ("method_not_allowed", 405, "The route does not accept this method."),
    ("body_timeout", 408, "The request body did not arrive in time."),
    ("conflict", 409, "The resource already exists or changed meanwhile."),
    ("payload_too_large", 413, "The request body is over the limit."),
    ("unsupported_media_type", 415, "A request body must be JSON (`Content-Type: application/json`)."),
    ("rate_limited", 429, "Too many requests; `Retry-After` says when to retry."),
    ("quota_exceeded", 429, "The daily quota is used up; `Retry-After` says when it resets."),
    ("account_locked", 429, "Too many failed sign-ins; `Retry-After` says when to try again."),
    (
        "too_many_streams",
        429,
        "This account holds its limit of live-feed connections (`serve.feed_max_per_user`); close one first.",
    ),
    ("too_many_connections", 429, "This address holds too many open connections; close some and retry."),
    ("internal", 500, "Our fault. Quote the `X-Request-Id` header when reporting it."),
    ("timeout", 503, "The request took too long; narrow it or retry."),
    ("unavailable", 503, "A dependency is busy or away; retry shortly."),
];

impl ApiError {
    /// A 400 naming `parameter`.
    pub fn invalid(parameter: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::InvalidParameter { parameter: parameter.into(), reason: reason.into() }
    }

    /// A 500 whose cause is logged but not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Other(status) => *status,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter { .. } => "invalid_parameter",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Timeout => "timeout",
            ApiError::BodyTimeout => "body_timeout",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::TooManyRequests { code, .. } => code,
            ApiError::Conflict(_) => "conflict",
            ApiError::Internal(_) => "internal",
            ApiError::Other(status) if status.is_server_error() => "internal",
            ApiError::Other(_) => "bad_request",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter { .. } => "Invalid parameter",
            ApiError::NotFound(_) => "Not found",
            ApiError::MethodNotAllowed => "Method not allowed",
            ApiError::PayloadTooLarge => "Payload too large",
            ApiError::Timeout => "Request timed out",
            ApiError::BodyTimeout => "Request body timed out",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::Unauthorized { .. } => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::Conflict(_) => "Conflict",
            ApiError::TooManyRequests { .. } => "Too many requests",
            ApiError::Internal(_) => "Internal error",
            ApiError::Other(status) => status.canonical_reason().unwrap_or("Error"),
        }
    }

    /// The problem document, without `instance` (the middleware adds it).
    pub fn problem(&self) -> Problem {
        let detail = match self {
            // Never leak internals.
            ApiError::Internal(_) => "internal error; the request id identifies it in the server's log".to_string(),
            ApiError::Other(status) => {
                format!("the request failed with status {}", status.as_u16())
            }
            other => other.to_string(),
        };
        let parameter = match self {
            ApiError::InvalidParameter { parameter, .. } => Some(parameter.clone()),
            _ => None,
        };
        Problem {
            type_: format!("/docs#problem-{}", self.code()),
            title: self.title().to_string(),
            status: self.status().as_u16(),
            detail,
            code: self.code().to_string(),
            parameter,
            instance: None,
        }
    }
}

/// Serialises a problem into a response with the right media type.
pub(crate) fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_else(|_| b"{\"code\":\"internal\"}".to_vec());
    let mut res = (status, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let mut res = problem_response(&problem);
        if let ApiError::Internal(cause) = &self {
            res.extensions_mut().insert(InternalCause(Arc::from(cause.as_str())));
        }
        if matches!(self, ApiError::Timeout | ApiError::Unavailable(_)) {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if matches!(self, ApiError::BodyTimeout) {
            // The rest of the body may still be on its way: this connection is done.
            res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let ApiError::Unauthorized { .. } = &self {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"ntsb\", X-API-Key"));
        }
        if let ApiError::TooManyRequests { retry_after, limit, .. } = &self {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(&1).to_owned()));
            if let Some(limit) = limit {
                crate::access::rate_limit_headers(res.headers_mut(), limit);
            }
        }
        res.extensions_mut().insert(problem);
        res
    }
}

impl From<ntsb_store::Error> for ApiError {
    fn from(err: ntsb_store::Error) -> Self {
        use ntsb_store::Error as E;
        // Every variant is listed so that a new one is a deliberate decision; the
        // enum is `#[non_exhaustive]`, so the compiler still demands the last arm.
        match err {
            E::InvalidQuery { parameter, reason } => ApiError::InvalidParameter { parameter, reason },
            E::NotFound(what) => ApiError::NotFound(what),
            E::Conflict(what) => ApiError::Conflict(what),
            e @ (E::Config { .. }
            | E::MixedContent(_)
            | E::Migration { .. }
            | E::SchemaOutOfDate { .. }
            | E::Database(_)
            | E::Corrupt(_)
            | E::Io { .. }) => ApiError::internal(format!("store: {e}")),
            #[allow(unreachable_patterns)]
            e => ApiError::internal(format!("store (unclassified error): {e}")),
        }
    }
}

impl From<ntsb_search::Error> for ApiError {
    fn from(err: ntsb_search::Error) -> Self {
        use ntsb_search::Error as E;
        match err {
            E::Store(e) => ApiError::from(e),
            E::Locked { .. } => ApiError::Unavailable("the search index is being rebuilt; retry shortly".into()),
            e @ (E::SchemaVersion { .. }
            | E::NotAnIndex { .. }
            | E::StoreNotAdvancing(_)
            | E::Io { .. }
            | E::Tantivy(_)) => ApiError::internal(format!("search index: {e}")),
            #[allow(unreachable_patterns)]
            e => ApiError::internal(format!("search index (unclassified error): {e}")),
        }
    }
}

impl From<ntsb_retrieval::Error> for ApiError {
    fn from(err: ntsb_retrieval::Error) -> Self {
        use ntsb_retrieval::Error as E;
        match err {
            E::Search(e) => ApiError::from(e),
            E::Store(e) => ApiError::from(e),
            e @ (E::Model { .. }
            | E::Index { .. }
            | E::Io { .. }
            | E::Inference(_)
            | E::Tokenizer(_)
            | E::StoreNotAdvancing(_)
            | E::Stopped) => ApiError::internal(format!("dense retrieval: {e}")),
            #[allow(unreachable_patterns)]
            e => ApiError::internal(format!("dense retrieval (unclassified error): {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snake-case literals the crate's sources give as a code (`code: "…"`,
    /// `let code = if … { "…" } else { "…" }`) and in the arms of
    /// [`ApiError::code`]: every problem code the server can answer with.
    fn codes_used_in_sources() -> std::collections::BTreeSet<String> {
        let mut found = std::collections::BTreeSet::new();
        let mut files = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).expect("src dir").map(|e| e.expect("entry").path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            let mut in_code_fn = false;
            for line in text.lines() {
                let trimmed = line.trim_start();
                if trimmed.starts_with("//") || trimmed.starts_with("(\"") {
                    continue;
                }
                if trimmed.starts_with("pub fn code(") {
                    in_code_fn = true;
                } else if in_code_fn && trimmed.starts_with("fn ") {
                    in_code_fn = false;
                }
                let snake = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                let after = |marker: &str| -> Vec<String> {
                    line.split(marker).skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_string).collect()
                };
                let mut words = after("code: \"");
                if in_code_fn {
                    words.extend(after("=> \""));
                }
                if line.contains("let code = ") {
                    words.extend(after("{ \""));
                }
                found.extend(words.into_iter().filter(|w| snake(w)));
            }
        }
        found
    }

    #[test]
    fn every_problem_code_in_use_is_documented() {
        let listed: std::collections::BTreeSet<&str> = PROBLEM_CODES.iter().map(|(c, _, _)| *c).collect();
        assert_eq!(listed.len(), PROBLEM_CODES.len(), "a code is listed twice");
        let used = codes_used_in_sources();
        for code in ["invalid_parameter", "rate_limited", "quota_exceeded", "account_locked", "internal"] {
            assert!(used.contains(code), "the source scan misses {code}: {used:?}");
        }
        let missing: Vec<&String> = used.iter().filter(|c| !listed.contains(c.as_str())).collect();
        assert!(missing.is_empty(), "codes used but not in PROBLEM_CODES (error.rs): {missing:?}");
    }

    #[test]
    fn internal_errors_never_show_their_cause() {
        let p = ApiError::internal("disk I/O error at /secret/path").problem();
        assert_eq!(p.status, 500);
        assert_eq!(p.code, "internal");
        assert!(!p.detail.contains("secret"), "{}", p.detail);
    }

    #[test]
    fn store_invalid_query_names_the_parameter() {
        let e: ApiError =
            ntsb_store::Error::InvalidQuery { parameter: "cursor".into(), reason: "malformed".into() }.into();
        let p = e.problem();
        assert_eq!((p.status, p.code.as_str(), p.parameter.as_deref()), (400, "invalid_parameter", Some("cursor")));
    }

    #[test]
    fn store_failures_are_internal() {
        let e: ApiError = ntsb_store::Error::Corrupt("bad json in row 7".into()).into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.problem().detail.contains("row 7"));
    }
}
