//! `/api/v1/auth`: registration, login, token refresh, logout, the caller's
//! account, password change and reset, and API keys.
//!
//! Bodies are small JSON objects, each parsed into the type that documents it
//! ([`crate::json::parse`]): every mistake is a 400 naming the field, unknown
//! fields are refused, and nothing larger than [`MAX_BODY`] is read. Every
//! decision is the engine's ([`ntsb_auth::Auth`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ntsb_auth::{Account, ApiKey, Auth, TokenPair};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{AuthUser, ClientIp};
use crate::error::{ApiError, Problem};
use crate::extract::PathText;
use crate::fields::{Text, ws};
use crate::state::AppState;

/// Largest body of an account request.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// The engine, or 503 when accounts are not configured.
pub(crate) fn engine(state: &AppState) -> Result<&Auth, ApiError> {
    state.auth.as_ref().ok_or_else(|| ApiError::Unavailable("accounts are not configured on this server".into()))
}

/// The body of an account request, parsed into its type.
pub(crate) fn body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    crate::json::parse(body, MAX_BODY)
}

/// E-mail and password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    /// E-mail address.
    #[schema(example = "pilot@example.org")]
    email: Text,
    /// Password: 12 to 128 characters, no control characters, hard to guess
    /// (zxcvbn score 4 of 4, 10^10 guesses or more; common and breached passwords and the
    /// e-mail address's words are refused).
    #[schema(example = "blue-Heron-7-ladder")]
    password: Text,
}

/// An e-mail address, as the engine's rule reads it
/// (`ntsb_auth::Email::parse`: trimmed, one `@`, a dotted domain, no spaces or
/// control characters, at most 254 characters); a test checks the two agree.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct EmailAddress(Text);

/// The rule of [`EmailAddress`] as a regular expression, for the document.
const EMAIL_PATTERN: &str = concat!(
    "^[",
    ws!(),
    "]*",
    "[^@",
    ws!(),
    r"\x00-\x1f\x7f-\x9f]+@",
    "[^@.",
    ws!(),
    r"\x00-\x1f\x7f-\x9f]",
    "[^@",
    ws!(),
    r"\x00-\x1f\x7f-\x9f]*\.",
    "[^@",
    ws!(),
    r"\x00-\x1f\x7f-\x9f]*",
    "[^@.",
    ws!(),
    r"\x00-\x1f\x7f-\x9f]",
    "[",
    ws!(),
    "]*$"
);

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new().schema_type(Type::String).max_length(Some(254)).pattern(Some(EMAIL_PATTERN)).into()
    }
}

impl utoipa::ToSchema for EmailAddress {}

/// A new password. The engine applies the rule (`ntsb_auth::password`); its
/// length bounds and the refusal of control characters are stated in the
/// document from the same constants. How hard it is to guess (zxcvbn) no
/// schema can say.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct NewPassword(Text);

impl utoipa::PartialSchema for NewPassword {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use ntsb_auth::password::{MAX_LENGTH, MIN_LENGTH};
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(MIN_LENGTH))
            .max_length(Some(MAX_LENGTH))
            .pattern(Some(r"^[^\x00-\x1f\x7f-\x9f]*$"))
            .into()
    }
}

impl utoipa::ToSchema for NewPassword {}

/// A name for an API key: 1 to `MAX_KEY_NAME` characters once trimmed, no
/// control characters (the engine's rule, `Auth::create_key_for`).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct KeyName(Text);

/// The rule of [`KeyName`] as a regular expression: once trimmed, 1 to
/// `MAX_KEY_NAME` (100) characters with no control character.
const KEY_NAME_PATTERN: &str = concat!(
    "^[",
    ws!(),
    "]*",
    "(?:[^",
    ws!(),
    r"\x00-\x1f\x7f-\x9f]",
    "|[^",
    ws!(),
    r"\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]{0,98}[^",
    ws!(),
    r"\x00-\x1f\x7f-\x9f])",
    "[",
    ws!(),
    "]*$"
);

impl utoipa::PartialSchema for KeyName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(crate::fields::MAX_TEXT))
            .pattern(Some(KEY_NAME_PATTERN))
            .into()
    }
}

impl utoipa::ToSchema for KeyName {}

/// E-mail and password of a new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Registration {
    /// E-mail address.
    #[schema(example = "pilot@example.org")]
    email: EmailAddress,
    /// Password: 12 to 128 characters, no control characters, hard to guess
    /// (zxcvbn score 4 of 4, 10^10 guesses or more; common and breached passwords and the
    /// e-mail address's words are refused).
    #[schema(example = "blue-Heron-7-ladder")]
    password: NewPassword,
}

/// A refresh token to exchange.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The refresh token from the last login or refresh (single use).
    refresh_token: Text,
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    /// The current password.
    current_password: Text,
    /// The new password (same rule as registration).
    new_password: NewPassword,
    /// Keep the account's API keys (default `false`: every key is revoked, as
    /// the change may answer a leak).
    keep_api_keys: Option<bool>,
}

/// A password-reset request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetRequest {
    /// The account's e-mail address.
    email: EmailAddress,
}

/// A password-reset confirmation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetConfirm {
    /// The token delivered to the account's address.
    token: Text,
    /// The new password (same rule as registration).
    new_password: NewPassword,
}

/// A new API key's name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyRequest {
    /// A label for the key (1–100 characters).
    #[schema(example = "laptop")]
    name: KeyName,
}

/// Tokens of a session.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct TokensBody {
    /// JWT access token (HS256), sent as `Authorization: Bearer …`.
    access_token: String,
    /// Single-use refresh token (30 days); every refresh returns a new one.
    refresh_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Seconds the access token is valid (3600).
    expires_in: i64,
}

/// An account.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct AccountBody {
    /// User id.
    id: i64,
    /// E-mail address.
    email: String,
    /// `free`, `premium` or `admin`.
    role: String,
    /// Disabled by an administrator.
    disabled: bool,
    /// Creation time, Unix seconds.
    created_at: i64,
    /// Last login, Unix seconds.
    last_login_at: Option<i64>,
    /// End of a lockout in force, Unix seconds.
    locked_until: Option<i64>,
}

/// An API key (without the key).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct KeyBody {
    /// Public id, used to revoke it.
    id: String,
    /// Label.
    name: String,
    /// First characters of the key.
    prefix: String,
    /// Creation time, Unix seconds.
    created_at: i64,
    /// Last use, Unix seconds (about a minute's precision).
    last_used_at: Option<i64>,
    /// Revocation time, Unix seconds.
    revoked_at: Option<i64>,
}

/// A new API key, with the key itself: shown this once, never again.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedKeyBody {
    /// Public id.
    id: String,
    /// The key: send it as `X-API-Key`. Store it now; it cannot be shown again.
    key: String,
    /// Label.
    name: String,
    /// First characters of the key.
    prefix: String,
    /// Creation time, Unix seconds.
    created_at: i64,
}

/// The caller's keys.
#[derive(Serialize, ToSchema)]
pub(crate) struct KeysBody {
    /// Newest first, revoked ones included.
    #[schema(value_type = Vec<KeyBody>)]
    items: Vec<ApiKey>,
}

/// An accepted request whose outcome is not disclosed.
#[derive(Serialize, ToSchema)]
pub(crate) struct AcceptedBody {
    /// What happens next.
    status: String,
}

fn tokens(pair: TokenPair) -> Response {
    let mut res = Json(pair).into_response();
    // Tokens must never sit in a shared or browser cache.
    res.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    res
}

/// Registers a `free` account (when registration is open).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = Registration,
    responses((status = 201, description = "Registered", body = AccountBody),
              (status = 400, description = "Invalid e-mail or weak password", body = Problem),
              (status = 403, description = "Registration is closed (`registration_closed`)", body = Problem),
              (status = 429, description = "Too many registrations from this address (3 an hour by default)", body = Problem),
              (status = 409, description = "The address is registered", body = Problem)))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Registration { email: EmailAddress(email), password: NewPassword(password) } = self::body(&body)?;
    let account: Account = engine(&state)?.register(email.as_str(), password.as_str(), &ip).await?;
    Ok((StatusCode::CREATED, Json(account)).into_response())
}

/// Logs in; answers an access token (1 hour) and a refresh token (30 days).
/// Unknown addresses and wrong passwords get the same 401. Limited to 5
/// attempts a minute per account and per address; 10 consecutive failures lock
/// the account for 15 minutes (429 `account_locked`).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = Credentials,
    responses((status = 200, description = "Logged in", body = TokensBody),
              (status = 401, description = "Wrong e-mail or password (`invalid_credentials`)", body = Problem),
              (status = 403, description = "Account disabled", body = Problem),
              (status = 429, description = "Too many attempts, or the account is locked", body = Problem)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Credentials { email, password } = self::body(&body)?;
    let pair = engine(&state)?.login(email.as_str(), password.as_str(), &ip).await?;
    Ok(tokens(pair))
}

/// Exchanges a refresh token for new tokens. Each refresh token works once;
/// presenting a used one ends the whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "accounts", request_body = RefreshRequest,
    responses((status = 200, description = "New tokens", body = TokensBody),
              (status = 401, description = "Invalid, expired, used or revoked refresh token", body = Problem)))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Response, ApiError> {
    let RefreshRequest { refresh_token } = self::body(&body)?;
    Ok(tokens(engine(&state)?.refresh(refresh_token.as_str(), &ip).await?))
}

/// Ends the caller's session: its access and refresh tokens stop working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    responses((status = 204, description = "Logged out")))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(who): AuthUser,
) -> Result<StatusCode, ApiError> {
    engine(&state)?.logout(&who, &ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "accounts",
    responses((status = 200, description = "The account", body = AccountBody)))]
pub(crate) async fn me(State(state): State<AppState>, AuthUser(who): AuthUser) -> Result<Json<Account>, ApiError> {
    Ok(Json(engine(&state)?.me(&who).await?))
}

/// Changes the caller's password; every session ends (log in again) and every
/// API key is revoked unless `keep_api_keys` is `true`.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "accounts", request_body = PasswordChange,
    responses((status = 204, description = "Changed"),
              (status = 400, description = "Weak new password", body = Problem),
              (status = 401, description = "Wrong current password", body = Problem)))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(who): AuthUser,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let PasswordChange { current_password, new_password, keep_api_keys } = self::body(&body)?;
    engine(&state)?
        .change_password(&who, current_password.as_str(), new_password.0.as_str(), keep_api_keys.unwrap_or(false), &ip)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks for a password reset. The answer is the same whether or not the
/// address has an account; when it has, a single-use token valid 30 minutes
/// is sent to it, ending any older token. One mail per account per five
/// minutes: requests meanwhile get the same answer and send nothing.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts", request_body = ResetRequest,
    responses((status = 202, description = "Accepted", body = AcceptedBody)))]
pub(crate) async fn reset_request(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ResetRequest { email: EmailAddress(email) } = self::body(&body)?;
    engine(&state)?.request_reset(email.as_str(), &ip).await?;
    let body = AcceptedBody { status: "if the address has an account, a reset token was sent to it".into() };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Sets a new password with a reset token; every session ends and every API
/// key of the account is revoked.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts", request_body = ResetConfirm,
    responses((status = 204, description = "Password set"),
              (status = 400, description = "Weak new password", body = Problem),
              (status = 401, description = "Invalid, used or expired token", body = Problem)))]
pub(crate) async fn reset_confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let ResetConfirm { token, new_password } = self::body(&body)?;
    engine(&state)?.confirm_reset(token.as_str(), new_password.0.as_str(), &ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an API key. The key is in this answer only: it is stored hashed.
#[utoipa::path(post, path = "/api/v1/auth/api-keys", tag = "accounts", request_body = KeyRequest,
    responses((status = 201, description = "Created", body = CreatedKeyBody),
              (status = 400, description = "Invalid name", body = Problem)))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(who): AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let KeyRequest { name: KeyName(name) } = self::body(&body)?;
    let created = engine(&state)?.create_key(&who, name.as_str(), &ip).await?;
    let body = CreatedKeyBody {
        id: created.record.id,
        key: created.key,
        name: created.record.name,
        prefix: created.record.prefix,
        created_at: created.record.created_at,
    };
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    res.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The caller's API keys (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/auth/api-keys", tag = "accounts",
    responses((status = 200, description = "Keys", body = KeysBody)))]
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    AuthUser(who): AuthUser,
) -> Result<Json<KeysBody>, ApiError> {
    Ok(Json(KeysBody { items: engine(&state)?.list_keys(&who).await? }))
}

/// Revokes one of the caller's API keys. Another user's key id is a 404.
#[utoipa::path(delete, path = "/api/v1/auth/api-keys/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Key id (`key_…`)")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such key of yours", body = Problem)))]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(who): AuthUser,
    PathText(id): PathText,
) -> Result<StatusCode, ApiError> {
    if id.is_empty() || id.len() > 64 {
        return Err(ApiError::NotFound("no such API key".into()));
    }
    engine(&state)?.revoke_key(&who, &id, &ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_email_pattern_is_the_engine_rule() {
        let pattern = regex::Regex::new(EMAIL_PATTERN).unwrap();
        for raw in [
            "pilot@example.org",
            " Pilot@Example.ORG ",
            "a@b.c",
            "",
            "@example.org",
            "pilot@",
            "pilot@example",
            "pilot@.example.org",
            "pilot@example.org.",
            "pi lot@example.org",
            "a@b@example.org",
            "pilot@ex\u{1}ample.org",
            "pilot@exa\u{85}mple.org",
            "pilot@@example.org",
            "p@-.x",
            "\u{85}pilot@example.org",
            "\u{feff}p@example.org",
        ] {
            assert_eq!(pattern.is_match(raw), ntsb_auth::Email::parse(raw).is_ok(), "{raw:?}");
        }
    }

    #[test]
    fn the_documented_key_name_pattern_is_the_engine_rule() {
        let pattern = regex::Regex::new(KEY_NAME_PATTERN).unwrap();
        let engine_accepts = |raw: &str| {
            let name = raw.trim();
            !name.is_empty() && name.chars().count() <= ntsb_auth::MAX_KEY_NAME && !name.chars().any(char::is_control)
        };
        let long = "k".repeat(ntsb_auth::MAX_KEY_NAME);
        let padded = format!(" {long}{}", " ".repeat(50));
        let too_long = format!("{long}k");
        for raw in [
            "laptop",
            " laptop ",
            "",
            "   ",
            "a",
            "lap\ttop",
            "\tlaptop\n",
            "lap top",
            "\u{85}x",
            &long,
            &padded,
            &too_long,
        ] {
            assert_eq!(pattern.is_match(raw), engine_accepts(raw), "{raw:?}");
        }
        assert_eq!(
            ntsb_auth::MAX_KEY_NAME,
            100,
            "KEY_NAME_PATTERN spells the limit as {{0,98}} between two characters"
        );
    }
}
