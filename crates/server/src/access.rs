//! Access control for every route: a [`Policy`] per route, deny by default,
//! enforced by one middleware ([`access`]) that authenticates the caller,
//! checks the policy, counts the request against its limits and sets the
//! `RateLimit-*` headers.
//!
//! Credentials are `Authorization: Bearer <access token>` or
//! `X-API-Key: <key>` (one of them). A credential that is present but wrong
//! is a 401 even on a public route: a client should learn that its key is
//! bad, not silently get anonymous limits. Failed credentials also count
//! against the anonymous limit of the client address, so guessing keys or
//! tokens is throttled like any anonymous traffic.
//!
//! The client address is the TCP peer, or — when the peer is one of the
//! configured trusted proxies — the last address of `X-Forwarded-For`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ntsb_auth::{Auth, Limit, Principal, Role, Subject, Via};

use crate::error::ApiError;

/// Who may call a route. Every route has exactly one; a route without one is
/// refused (see [`policy_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// No credentials and no limits: liveness, readiness, metrics, documentation.
    Open,
    /// Anonymous callers welcome, limited per client address; callers with
    /// credentials are counted against their tier.
    Public,
    /// A user: an access token or an API key.
    User,
    /// A user by access token (not an API key): account management, so a
    /// leaked key cannot mint more keys or end sessions.
    Session,
    /// An administrator (token or key of an `admin` account).
    Admin,
}

impl Policy {
    /// Name used in the OpenAPI document and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Open => "open",
            Policy::Public => "public",
            Policy::User => "user",
            Policy::Session => "session",
            Policy::Admin => "admin",
        }
    }
}

/// The policy of a route path (as written in the route table), or `None` for
/// an unknown path — which the middleware refuses.
pub fn policy_for(path: &str) -> Option<Policy> {
    static POLICIES: std::sync::OnceLock<std::collections::HashMap<&'static str, Policy>> = std::sync::OnceLock::new();
    POLICIES.get_or_init(|| crate::routes::policies().into_iter().collect()).get(path).copied()
}

/// The `X-API-Key` header.
pub(crate) static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// What the middleware needs beyond the route.
#[derive(Clone)]
pub(crate) struct Gate {
    pub auth: Option<Auth>,
    pub trusted_proxies: Arc<[IpAddr]>,
    /// Anonymous callers on this machine are not rate limited (see
    /// [`crate::ServerOptions::unlimited_loopback`]).
    pub unlimited_loopback: bool,
    /// Where rate-limit decisions are counted.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The live feed, whose tickets stand for a user on the stream routes.
    pub live: Option<Arc<crate::live::Live>>,
}

/// Routes that accept `?ticket=` (from `POST /api/v1/stream/tickets`) in place
/// of a credential header: the streams, which browsers open without headers.
const TICKET_ROUTES: [&str; 2] = ["/api/v1/stream", "/api/v1/stream/events"];

/// The `ticket` query parameter of a request, if any.
fn ticket_of(req: &Request) -> Option<String> {
    let query = req.uri().query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "ticket").map(|(_, v)| v.into_owned())
}

/// Counts the outcome of a rate-limit check for `subject` (a caller's tier is
/// its role; callers without credentials are `anonymous`).
fn count_decision(
    metrics: &crate::metrics::Metrics,
    subject: &Subject,
    result: &Result<Option<Limit>, ntsb_auth::Error>,
) {
    let tier = match subject {
        Subject::User(_, role) => role.as_str(),
        _ => "anonymous",
    };
    let decision = match result {
        Err(ntsb_auth::Error::RateLimited(limit)) if limit.scope == "daily quota" => "quota_exceeded",
        Err(ntsb_auth::Error::RateLimited(_)) => "rate_limited",
        Err(_) => "error",
        Ok(_) => "allowed",
    };
    metrics.rate_limit(tier, decision);
}

/// The client address of a request, as the middleware determined it.
#[derive(Debug, Clone)]
pub(crate) struct ClientIp(pub Arc<str>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<ClientIp>().cloned().unwrap_or_else(|| ClientIp(Arc::from("unknown"))))
    }
}

/// The authenticated caller; extracting it without one is a 401 (the policy
/// should have refused first — this is the second lock on the door).
#[derive(Debug, Clone)]
pub(crate) struct AuthUser(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().map(AuthUser).ok_or_else(unauthenticated)
    }
}

/// An administrator; anyone else is refused.
#[derive(Debug, Clone)]
pub(crate) struct AdminUser(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let AuthUser(p) = AuthUser::from_request_parts(parts, s).await?;
        if p.role != Role::Admin {
            return Err(admin_required());
        }
        Ok(AdminUser(p))
    }
}

fn unauthenticated() -> ApiError {
    ApiError::Unauthorized {
        code: "unauthenticated",
        detail: "this endpoint needs an access token (Authorization: Bearer …) or an API key (X-API-Key)".into(),
    }
}

fn admin_required() -> ApiError {
    ApiError::Forbidden { code: "admin_required", detail: "this endpoint is for administrators".into() }
}

/// Maps an engine error to the HTTP answer. Exhaustive but for the last arm,
/// which the engine's `#[non_exhaustive]` demands.
impl From<ntsb_auth::Error> for ApiError {
    fn from(err: ntsb_auth::Error) -> Self {
        use ntsb_auth::Error as E;
        match err {
            E::InvalidInput { field, reason } => ApiError::invalid(field, reason),
            e @ E::InvalidCredentials => ApiError::Unauthorized { code: "invalid_credentials", detail: e.to_string() },
            E::Unauthenticated(reason) => {
                tracing::info!(reason, "credentials refused");
                ApiError::Unauthorized {
                    code: "unauthenticated",
                    detail: "the credentials are missing, malformed, expired or revoked".into(),
                }
            }
            E::Locked { retry_after } => ApiError::TooManyRequests {
                code: "account_locked",
                detail: format!("too many failed logins; try again in {retry_after} s"),
                retry_after,
                limit: None,
            },
            e @ E::Disabled => ApiError::Forbidden { code: "account_disabled", detail: e.to_string() },
            E::Forbidden(why) => ApiError::Forbidden { code: "forbidden", detail: why.into() },
            E::RateLimited(limit) => {
                let code = if limit.scope == "daily quota" { "quota_exceeded" } else { "rate_limited" };
                ApiError::TooManyRequests {
                    code,
                    detail: format!("{} of {} reached; retry in {} s", limit.scope, limit.limit, limit.reset),
                    retry_after: limit.reset,
                    limit: Some(limit),
                }
            }
            e @ E::RegistrationClosed => ApiError::Forbidden { code: "registration_closed", detail: e.to_string() },
            e @ E::ChallengeRequired => ApiError::Forbidden { code: "challenge_required", detail: e.to_string() },
            e @ E::Conflict => ApiError::Conflict(e.to_string()),
            E::NotFound(what) => ApiError::NotFound(what),
            E::Store(e) => ApiError::from(e),
            e @ (E::Config(_) | E::Internal(_)) => ApiError::internal(format!("auth: {e}")),
            #[allow(unreachable_patterns)]
            e => ApiError::internal(format!("auth (unclassified error): {e}")),
        }
    }
}

/// Sets `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.
pub(crate) fn rate_limit_headers(headers: &mut HeaderMap, limit: &Limit) {
    headers.insert(HeaderName::from_static("ratelimit-limit"), HeaderValue::from(limit.limit));
    headers.insert(HeaderName::from_static("ratelimit-remaining"), HeaderValue::from(limit.remaining));
    headers.insert(HeaderName::from_static("ratelimit-reset"), HeaderValue::from(limit.reset));
}

/// Whether the request comes straight from this machine: a loopback peer that
/// is not a trusted proxy speaking for someone else.
fn from_loopback(req: &Request, trusted: &[IpAddr]) -> bool {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback() && !trusted.contains(&peer.ip()))
}

/// The client address: the peer, or the last `X-Forwarded-For` hop when the
/// peer is a trusted proxy. `unknown` in process (tests without a socket).
fn client_ip(req: &Request, trusted: &[IpAddr]) -> String {
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return "unknown".into();
    };
    let peer = peer.ip();
    if trusted.contains(&peer)
        && let Some(forwarded) = req
            .headers()
            .get_all(HeaderName::from_static("x-forwarded-for"))
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back()
    {
        return forwarded.to_string();
    }
    peer.to_string()
}

enum Credential<'a> {
    Bearer(&'a str),
    Key(&'a str),
}

/// The one credential of a request, if any; both kinds at once, or a
/// malformed `Authorization` header, is refused.
fn credential(headers: &HeaderMap) -> Result<Option<Credential<'_>>, ntsb_auth::Error> {
    let bad = ntsb_auth::Error::Unauthenticated;
    let bearer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| bad("non-ASCII Authorization header"))?;
            let (scheme, token) = v.split_once(' ').ok_or(bad("Authorization is not `Bearer <token>`"))?;
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err(bad("Authorization is not `Bearer <token>`"));
            }
            Some(token.trim())
        }
    };
    let key = match headers.get(&X_API_KEY) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| bad("non-ASCII X-API-Key header"))?.trim()),
    };
    match (bearer, key) {
        (Some(_), Some(_)) => Err(bad("both Authorization and X-API-Key were sent")),
        (Some(t), None) => Ok(Some(Credential::Bearer(t))),
        (None, Some(k)) => Ok(Some(Credential::Key(k))),
        (None, None) => Ok(None),
    }
}

fn audit_event(err: &ApiError) -> Option<&'static str> {
    match err {
        ApiError::Unauthorized { .. } => Some("unauthenticated"),
        ApiError::Forbidden { .. } => Some("forbidden"),
        ApiError::TooManyRequests { .. } => Some("rate_limited"),
        _ => None,
    }
}

/// Refuses with `err`, writing the audit trail for 401/403/429.
fn deny(auth: Option<&Auth>, err: ApiError, user: Option<ntsb_auth::UserId>, ip: &str, route: &str) -> Response {
    if let (Some(auth), Some(event)) = (auth, audit_event(&err)) {
        auth.audit_denial(event, user, ip, &format!("{} {route}", err.code()));
    }
    err.into_response()
}

/// The middleware: policy, authentication, limits, headers.
pub(crate) async fn access(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
    let Some(policy) = policy_for(&route) else {
        tracing::error!(route, "route without an access policy refused");
        return ApiError::Forbidden { code: "forbidden", detail: "this route is not open to anyone".into() }
            .into_response();
    };
    if policy == Policy::Open {
        return next.run(req).await;
    }
    let ip = client_ip(&req, &gate.trusted_proxies);
    let local = gate.unlimited_loopback && from_loopback(&req, &gate.trusted_proxies);
    req.extensions_mut().insert(ClientIp(Arc::from(ip.as_str())));
    let Some(auth) = gate.auth.as_ref() else {
        // No accounts configured: public routes are open, everything else is shut.
        return match policy {
            Policy::Public if !route.starts_with("/api/v1/auth/") => {
                let res = next.run(req).await;
                note_invalid_input(&gate.metrics, &res, &ip, &route);
                res
            }
            Policy::Public => {
                ApiError::Unavailable("accounts are not configured on this server".into()).into_response()
            }
            _ => unauthenticated().into_response(),
        };
    };
    // A stream ticket counts on the stream routes only (browsers cannot set headers on a WebSocket).
    let ticket = if TICKET_ROUTES.contains(&route.as_str()) { ticket_of(&req) } else { None };
    let principal = match credential(req.headers()) {
        Ok(None) => match ticket {
            Some(t) => Some(
                gate.live
                    .as_ref()
                    .and_then(|live| live.redeem_ticket(&t))
                    .ok_or(ntsb_auth::Error::Unauthenticated("unknown, used or expired stream ticket")),
            ),
            // A dashboard session, on the dashboard's routes only (see crate::dashboard::session).
            None => req.extensions().get::<crate::dashboard::WebPrincipal>().map(|w| Ok(w.0.clone())),
        },
        Ok(Some(Credential::Bearer(t))) => Some(auth.authenticate_bearer(t).await),
        Ok(Some(Credential::Key(k))) => Some(auth.authenticate_key(k).await),
        Err(e) => Some(Err(e)),
    };
    let principal = match principal {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            // Failed credentials count as anonymous traffic of the address.
            let err = match auth.check_rate(&Subject::Anonymous(ip.clone())).await {
                Err(limited @ ntsb_auth::Error::RateLimited(_)) => ApiError::from(limited),
                _ => ApiError::from(e),
            };
            return deny(Some(auth), err, None, &ip, &route);
        }
    };
    let refused = match (policy, &principal) {
        (Policy::Open | Policy::Public, _) => None,
        (Policy::User | Policy::Session | Policy::Admin, None) => Some(unauthenticated()),
        (Policy::Session, Some(p)) if !matches!(p.via, Via::Session(_)) => Some(ApiError::Forbidden {
            code: "session_required",
            detail: "this endpoint needs an access token from a login; API keys cannot manage accounts".into(),
        }),
        (Policy::Admin, Some(p)) if p.role != Role::Admin => Some(admin_required()),
        (Policy::User | Policy::Session | Policy::Admin, Some(_)) => None,
    };
    let user = principal.as_ref().map(|p| p.user);
    if let Some(err) = refused {
        if principal.is_none() {
            // Unauthenticated probing counts as anonymous traffic of the address.
            if let Err(limited @ ntsb_auth::Error::RateLimited(_)) =
                auth.check_rate(&Subject::Anonymous(ip.clone())).await
            {
                return deny(Some(auth), ApiError::from(limited), None, &ip, &route);
            }
        }
        return deny(Some(auth), err, user, &ip, &route);
    }
    let subject = match &principal {
        Some(p) => Subject::User(p.user, p.role),
        None => Subject::Anonymous(ip.clone()),
    };
    let limit = match &subject {
        // The demo's own user, trying it from the same machine: no limits.
        Subject::Anonymous(_) if local => None,
        _ => {
            let checked = auth.check_rate(&subject).await;
            count_decision(&gate.metrics, &subject, &checked);
            match checked {
                Ok(limit) => limit,
                Err(e) => return deny(Some(auth), ApiError::from(e), user, &ip, &route),
            }
        }
    };
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    let mut res = next.run(req).await;
    // A handler that charged more than one unit (exports, batches) left the quota's new state.
    if let Some(limit) = res.extensions().get::<Limit>().cloned().or(limit) {
        rate_limit_headers(res.headers_mut(), &limit);
    }
    note_invalid_input(&gate.metrics, &res, &ip, &route);
    if is_private(policy, &route) {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Charges `units` more to the caller's daily quota for a costly request
/// (beyond the one unit the middleware counted), before the work is done;
/// 429 `quota_exceeded` with nothing charged when the quota left is smaller.
/// The answer should carry the returned state (as a response extension) so
/// its `RateLimit-*` headers tell the truth. Without accounts nothing is charged.
pub(crate) async fn charge(auth: Option<&Auth>, who: &Principal, units: u64) -> Result<Option<Limit>, ApiError> {
    let Some(auth) = auth else { return Ok(None) };
    Ok(auth.charge(&Subject::User(who.user, who.role), units).await?)
}

/// Invalid input is the caller's mistake, not a security event: one log line
/// at `info` (target `ntsb::validation`, with the client address, route and
/// parameter; never in the audit trail) and the `ntsb_validation_failures_total`
/// counter, by parameter.
fn note_invalid_input(metrics: &crate::metrics::Metrics, res: &Response, ip: &str, route: &str) {
    let Some(problem) = res.extensions().get::<crate::error::Problem>() else { return };
    let parameter = match (problem.code.as_str(), problem.parameter.as_deref()) {
        ("invalid_parameter", Some(p)) => p,
        ("invalid_parameter", None) => "body",
        ("unsupported_media_type", _) => "content-type",
        _ => return,
    };
    tracing::info!(target: "ntsb::validation", ip, route, parameter, code = %problem.code, "invalid input refused");
    metrics.validation_failure(parameter);
}

/// Whether a route's answers concern the caller (an account, its keys, its
/// predictions) or administration: those carry `Cache-Control: no-store`, so
/// no browser or shared cache keeps them, and are never in the response cache
/// (the route table refuses a cacheable route with such a policy).
pub(crate) fn is_private(policy: Policy, route: &str) -> bool {
    match policy {
        Policy::User | Policy::Session | Policy::Admin => true,
        Policy::Public => route.starts_with("/api/v1/auth/"),
        Policy::Open => false,
    }
}
