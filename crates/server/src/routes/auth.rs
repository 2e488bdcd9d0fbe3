//! `/api/v1/auth`: registration, login, token refresh, logout, the caller's
//! account, password change and reset, and API keys.
//!
//! Bodies are small JSON objects parsed by hand, so every mistake is a 400
//! naming the field, unknown fields are refused, and nothing larger than
//! [`MAX_BODY`] is read. Every decision is the engine's ([`ntsb_auth::Auth`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ntsb_auth::{Account, ApiKey, Auth, TokenPair};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::access::{AuthUser, ClientIp};
use crate::error::{ApiError, Problem};
use crate::extract::PathText;
use crate::state::AppState;

/// Largest body of an account request.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Longest string field accepted.
const MAX_FIELD: usize = 1024;

/// The engine, or 503 when accounts are not configured.
pub(crate) fn engine(state: &AppState) -> Result<&Auth, ApiError> {
    state.auth.as_ref().ok_or_else(|| ApiError::Unavailable("accounts are not configured on this server".into()))
}

/// A JSON object body with exactly the `allowed` fields (unknown and repeated ones refused).
pub(crate) fn object(body: &Bytes, allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::PayloadTooLarge);
    }
    let map = crate::json::object(body)?;
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        let shown: String = key.chars().take(40).collect();
        return Err(ApiError::invalid(shown, format!("unknown field; expected {}", allowed.join(", "))));
    }
    Ok(map)
}

/// A required string field.
pub(crate) fn string<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match map.get(field) {
        Some(Value::String(s)) if s.chars().count() <= MAX_FIELD => Ok(s),
        Some(Value::String(_)) => Err(ApiError::invalid(field, format!("must be at most {MAX_FIELD} characters"))),
        Some(_) => Err(ApiError::invalid(field, "must be a string")),
        None => Err(ApiError::invalid(field, "is required")),
    }
}

/// E-mail and password.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Credentials {
    /// E-mail address.
    #[schema(example = "pilot@example.org")]
    email: String,
    /// Password: 12 to 128 characters, no control characters, hard to guess
    /// (zxcvbn score 4 of 4, 10^10 guesses or more; common and breached passwords and the
    /// e-mail address's words are refused).
    #[schema(example = "blue-Heron-7-ladder")]
    password: String,
}

/// A refresh token to exchange.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RefreshRequest {
    /// The refresh token from the last login or refresh (single use).
    refresh_token: String,
}

/// A password change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct PasswordChange {
    /// The current password.
    current_password: String,
    /// The new password (same rule as registration).
    new_password: String,
    /// Keep the account's API keys (default `false`: every key is revoked, as
    /// the change may answer a leak).
    keep_api_keys: Option<bool>,
}

/// A password-reset request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ResetRequest {
    /// The account's e-mail address.
    email: String,
}

/// A password-reset confirmation.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ResetConfirm {
    /// The token delivered to the account's address.
    token: String,
    /// The new password.
    new_password: String,
}

/// A new API key's name.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct KeyRequest {
    /// A label for the key (1–100 characters).
    #[schema(example = "laptop")]
    name: String,
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
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = Credentials,
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
    let map = object(&body, &["email", "password"])?;
    let account: Account = engine(&state)?.register(string(&map, "email")?, string(&map, "password")?, &ip).await?;
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
    let map = object(&body, &["email", "password"])?;
    let pair = engine(&state)?.login(string(&map, "email")?, string(&map, "password")?, &ip).await?;
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
    let map = object(&body, &["refresh_token"])?;
    Ok(tokens(engine(&state)?.refresh(string(&map, "refresh_token")?, &ip).await?))
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
    let map = object(&body, &["current_password", "new_password", "keep_api_keys"])?;
    let keep_keys = match map.get("keep_api_keys") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("keep_api_keys", "must be true or false")),
    };
    engine(&state)?
        .change_password(&who, string(&map, "current_password")?, string(&map, "new_password")?, keep_keys, &ip)
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
    let map = object(&body, &["email"])?;
    engine(&state)?.request_reset(string(&map, "email")?, &ip).await?;
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
    let map = object(&body, &["token", "new_password"])?;
    engine(&state)?.confirm_reset(string(&map, "token")?, string(&map, "new_password")?, &ip).await?;
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
    let map = object(&body, &["name"])?;
    let created = engine(&state)?.create_key(&who, string(&map, "name")?, &ip).await?;
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
