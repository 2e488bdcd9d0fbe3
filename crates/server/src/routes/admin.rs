//! `/api/v1/admin`: accounts and the audit trail, for administrators only.
//! The route policy refuses anyone else; the [`AdminUser`] extractor checks
//! again, so a handler cannot be reached without the role.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use ntsb_auth::{Account, AuditEvent, AuditQuery, Role, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::engine;
use crate::access::{AdminUser, ClientIp};
use crate::error::{ApiError, Problem};
use crate::extract::PathText;
use crate::fields::Bounded;
use crate::params::Query;
use crate::state::AppState;

/// Default page size.
const DEFAULT_LIMIT: usize = 100;

/// A page size, 1 to the store's largest page.
type PageLimit = Bounded<1, { ntsb_store::accounts::MAX_PAGE as i64 }>;

/// A user or row id: a positive integer.
type RowId = Bounded<1, { i64::MAX }>;

fn page_limit(limit: Option<PageLimit>) -> usize {
    limit.map_or(DEFAULT_LIMIT, |l| l.get() as usize)
}

fn id_param(raw: &str, name: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::invalid(name, "must be a positive integer"))
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    id_param(raw, "id").map(UserId)
}

/// Query of the user listing.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsersQuery {
    /// Only users with a greater id (the `next` of the previous page).
    #[param(inline)]
    after: Option<RowId>,
    /// Page size (default 100).
    #[param(inline)]
    limit: Option<PageLimit>,
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

/// Lists accounts.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "administration", params(UsersQuery),
    responses((status = 200, description = "A page of users", body = UsersBody),
              (status = 400, description = "Bad parameter", body = Problem)))]
pub(crate) async fn users(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    Query(query, ..): Query<UsersQuery>,
) -> Result<Json<UsersBody>, ApiError> {
    let limit = page_limit(query.limit);
    let after = query.after.map(|a| UserId(a.get()));
    let items = engine(&state)?.list_users(after, limit).await?;
    let next = (items.len() == limit).then(|| items.last().map(|u| u.id.0)).flatten();
    Ok(Json(UsersBody { items, next }))
}

/// A new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleChange {
    /// The role.
    role: RoleName,
}

/// A role as a request names it (the store's [`Role`], which knows nothing of
/// requests and their documentation).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RoleName {
    /// The default tier.
    Free,
    /// A paying tier.
    Premium,
    /// Operators.
    Admin,
}

impl From<RoleName> for Role {
    fn from(name: RoleName) -> Role {
        match name {
            RoleName::Free => Role::Free,
            RoleName::Premium => Role::Premium,
            RoleName::Admin => Role::Admin,
        }
    }
}

/// Changes a user's role (not your own). Applies to the user's live tokens and keys at once.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/role", tag = "administration", request_body = RoleChange,
    params(("id" = i64, Path, description = "User id", minimum = 1)),
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
    let RoleChange { role } = super::auth::body(&body)?;
    Ok(Json(engine(&state)?.set_role(Some(admin.user), id, role.into(), &ip).await?))
}

/// Disabled or not.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DisabledChange {
    /// `true` disables the account (its sessions end, its keys stop working); `false` enables it.
    disabled: bool,
}

/// Disables or enables an account (not your own).
#[utoipa::path(put, path = "/api/v1/admin/users/{id}/disabled", tag = "administration", request_body = DisabledChange,
    params(("id" = i64, Path, description = "User id", minimum = 1)),
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
    let DisabledChange { disabled } = super::auth::body(&body)?;
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
    params(("id" = i64, Path, description = "User id", minimum = 1)),
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
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// Only this event (`login_failure`, `lockout`, `rate_limited`, `key_created`, `role_changed`, …).
    #[param(inline)]
    event: Option<AuditEventName>,
    /// Only events concerning this user.
    #[param(inline)]
    user_id: Option<RowId>,
    /// Only events older than this id (the `next` of the previous page).
    #[param(inline)]
    before: Option<RowId>,
    /// Page size (default 100).
    #[param(inline)]
    limit: Option<PageLimit>,
}

/// An audit event's name: 1 to 64 lowercase letters and `_`.
#[derive(Debug, Clone)]
pub(crate) struct AuditEventName(String);

impl<'de> Deserialize<'de> for AuditEventName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(serde::de::Error::custom("must be an event name (1 to 64 lowercase letters and _)"));
        }
        Ok(AuditEventName(name))
    }
}

impl utoipa::PartialSchema for AuditEventName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[a-z_]{1,64}$")).into()
    }
}

impl utoipa::ToSchema for AuditEventName {}

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
    Query(params, ..): Query<AuditParams>,
) -> Result<Json<AuditBody>, ApiError> {
    let limit = page_limit(params.limit);
    let query = AuditQuery {
        event: params.event.map(|e| e.0),
        user_id: params.user_id.map(|u| UserId(u.get())),
        before_id: params.before.map(Bounded::get),
        limit,
    };
    let items = engine(&state)?.audit_events(query).await?;
    let next = (items.len() == limit).then(|| items.last().map(|e| e.id)).flatten();
    Ok(Json(AuditBody { items, next }))
}
