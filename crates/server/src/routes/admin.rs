//! `/api/v1/admin`: accounts and the audit trail, for administrators only.
//! The route policy refuses anyone else; the [`AdminUser`] extractor checks
//! again, so a handler cannot be reached without the role.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use ntsb_auth::{Account, AuditEvent, AuditQuery, Role, UserId};
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::auth::{engine, object, string};
use crate::access::{AdminUser, ClientIp};
use crate::error::{ApiError, Problem};
use crate::extract::PathText;
use crate::state::AppState;

/// Default page size.
const DEFAULT_LIMIT: usize = 100;

fn page_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=ntsb_store::accounts::MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid("limit", "must be an integer from 1 to 1000")),
        },
    }
}

fn id_param(raw: &str, name: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::invalid(name, "must be a positive integer"))
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    id_param(raw, "id").map(UserId)
}

/// Query of the user listing.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct UsersQuery {
    /// Only users with a greater id (the `next` of the previous page).
    after: Option<i64>,
    /// Page size, 1–1000 (default 100).
    limit: Option<usize>,
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub(crate) struct UsersBody {
    /// Users in id order.
    #[schema(value_type = Vec<super::auth::AccountBody>)]
    items: Vec<Account>,
    /// `after` of the next page, when there may be one.
    next: Option<i64>,
}

fn only(params: &std::collections::HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid(
            k.chars().take(40).collect::<String>(),
            format!("unknown parameter; expected {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// Lists accounts.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "administration", params(UsersQuery),
    responses((status = 200, description = "A page of users", body = UsersBody),
              (status = 400, description = "Bad parameter", body = Problem)))]
pub(crate) async fn users(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<UsersBody>, ApiError> {
    only(&params, &["after", "limit"])?;
    let limit = page_limit(params.get("limit").map(String::as_str))?;
    let after = params.get("after").map(|a| id_param(a, "after")).transpose()?.map(UserId);
    let items = engine(&state)?.list_users(after, limit).await?;
    let next = (items.len() == limit).then(|| items.last().map(|u| u.id.0)).flatten();
    Ok(Json(UsersBody { items, next }))
}

/// A new role.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RoleChange {
    /// `free`, `premium` or `admin`.
    role: String,
}

/// Changes a user's role (not your own). Applies to the user's live tokens and keys at once.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/role", tag = "administration", request_body = RoleChange,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "The account", body = super::auth::AccountBody),
              (status = 400, description = "Unknown role", body = Problem),
              (status = 404, description = "No such user", body = Problem)))]
pub(crate) async fn set_role(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AdminUser(admin): AdminUser,
    PathText(id): PathText,
    body: Bytes,
) -> Result<Json<Account>, ApiError> {
    let id = user_id(&id)?;
    let map = object(&body, &["role"])?;
    let role = Role::parse(string(&map, "role")?)
        .ok_or_else(|| ApiError::invalid("role", "must be free, premium or admin"))?;
    Ok(Json(engine(&state)?.set_role(Some(admin.user), id, role, &ip).await?))
}

/// Disabled or not.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DisabledChange {
    /// `true` disables the account (its sessions end, its keys stop working); `false` enables it.
    disabled: bool,
}

/// Disables or enables an account (not your own).
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/disabled", tag = "administration", request_body = DisabledChange,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "The account", body = super::auth::AccountBody),
              (status = 404, description = "No such user", body = Problem)))]
pub(crate) async fn set_disabled(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AdminUser(admin): AdminUser,
    PathText(id): PathText,
    body: Bytes,
) -> Result<Json<Account>, ApiError> {
    let id = user_id(&id)?;
    let map = object(&body, &["disabled"])?;
    let disabled = match map.get("disabled") {
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("disabled", "must be true or false")),
        None => return Err(ApiError::invalid("disabled", "is required")),
    };
    Ok(Json(engine(&state)?.set_disabled(Some(admin.user), id, disabled, &ip).await?))
}

/// How many keys were revoked.
#[derive(Serialize, ToSchema)]
pub(crate) struct RevokedBody {
    /// Keys revoked.
    revoked: u64,
}

/// Revokes every API key of a user.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/api-keys", tag = "administration",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "Revoked", body = RevokedBody),
              (status = 404, description = "No such user", body = Problem)))]
pub(crate) async fn revoke_keys(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AdminUser(admin): AdminUser,
    PathText(id): PathText,
) -> Result<Json<RevokedBody>, ApiError> {
    let id = user_id(&id)?;
    let revoked = engine(&state)?.revoke_user_keys(Some(admin.user), id, &ip).await?;
    Ok(Json(RevokedBody { revoked }))
}

/// Query of the audit trail.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct AuditParams {
    /// Only this event (`login_failure`, `lockout`, `rate_limited`, `key_created`, `role_changed`, …).
    event: Option<String>,
    /// Only events concerning this user.
    user_id: Option<i64>,
    /// Only events older than this id (the `next` of the previous page).
    before: Option<i64>,
    /// Page size, 1–1000 (default 100).
    limit: Option<usize>,
}

/// One audit event.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub(crate) struct AuditEventBody {
    /// Id (increasing).
    id: i64,
    /// Unix seconds.
    at: i64,
    /// Event name.
    event: String,
    /// User concerned.
    user_id: Option<i64>,
    /// Admin who acted.
    actor_id: Option<i64>,
    /// Client address.
    ip: Option<String>,
    /// Details (never a secret).
    detail: String,
}

/// A page of the audit trail.
#[derive(Serialize, ToSchema)]
pub(crate) struct AuditBody {
    /// Newest first.
    #[schema(value_type = Vec<AuditEventBody>)]
    items: Vec<AuditEvent>,
    /// `before` of the next page, when there may be one.
    next: Option<i64>,
}

/// Security events, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "administration", params(AuditParams),
    responses((status = 200, description = "A page of events", body = AuditBody),
              (status = 400, description = "Bad parameter", body = Problem)))]
pub(crate) async fn audit(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<AuditBody>, ApiError> {
    only(&params, &["event", "user_id", "before", "limit"])?;
    let limit = page_limit(params.get("limit").map(String::as_str))?;
    let event = match params.get("event") {
        Some(e) if e.is_empty() || e.len() > 64 || !e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
            return Err(ApiError::invalid("event", "must be an event name (lowercase letters and _)"));
        }
        other => other.cloned(),
    };
    let query = AuditQuery {
        event,
        user_id: params.get("user_id").map(|u| id_param(u, "user_id")).transpose()?.map(UserId),
        before_id: params.get("before").map(|b| id_param(b, "before")).transpose()?,
        limit,
    };
    let items = engine(&state)?.audit_events(query).await?;
    let next = (items.len() == limit).then(|| items.last().map(|e| e.id)).flatten();
    Ok(Json(AuditBody { items, next }))
}
