//! Browser sessions on the dashboard's pages: the session cookie, who the
//! visitor is, and the CSRF check of every form post.
//!
//! The cookie authenticates the dashboard's routes only: [`resolve`] is a
//! layer of the dashboard's router, never of the JSON API's, so the API keeps
//! accepting bearer tokens and API keys alone and a cookie can never make a
//! cross-site request to it count as signed in. The session's rules (expiry,
//! CSRF tokens, the challenge) are the engine's (`ntsb_auth::web`).
//!
//! Cookies are `HttpOnly; SameSite=Strict; Path=/`, plus `Secure` (and the
//! `__Host-` name prefix) when the server speaks TLS itself or runs in
//! production mode (where TLS is terminated in front of it).

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ntsb_auth::{Auth, Principal};

use crate::error::ApiError;
use crate::state::AppState;

/// Largest form body read.
pub(crate) const MAX_FORM: usize = 16 * 1024;

/// How the dashboard writes its cookies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookieRules {
    /// Add `Secure` and the `__Host-` prefix.
    pub secure: bool,
}

impl CookieRules {
    /// The session cookie's name.
    pub fn session_name(self) -> &'static str {
        if self.secure { "__Host-ntsb_session" } else { "ntsb_session" }
    }

    /// The anonymous forms' double-submit cookie's name.
    pub fn csrf_name(self) -> &'static str {
        if self.secure { "__Host-ntsb_csrf" } else { "ntsb_csrf" }
    }

    /// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
    pub fn cookie(self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let v = format!("{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}");
        HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }
}

/// The signed-in visitor of a page: who, and the session's id (for its CSRF token).
#[derive(Clone)]
pub(crate) struct Visitor {
    pub principal: Principal,
    pub token: Arc<str>,
}

impl std::fmt::Debug for Visitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Visitor").field("principal", &self.principal).finish_non_exhaustive()
    }
}

/// What the page shell shows about the visitor (set for the request's task by [`resolve`]).
#[derive(Debug, Clone)]
pub(crate) struct ShellVisitor {
    pub email: String,
    pub admin: bool,
    pub csrf: String,
}

tokio::task_local! {
    /// The visitor of the page being rendered, for the navigation's indicator.
    pub(crate) static CURRENT: Option<ShellVisitor>;
}

/// The signed-in visitor being rendered, if any.
pub(crate) fn current() -> Option<ShellVisitor> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The layer that reads the session cookie: a valid session becomes a
/// [`Visitor`] and the request's [`Principal`] (so the access gate applies the
/// account's policy and limits); anything else leaves the visitor anonymous.
pub(crate) async fn resolve(
    State((state, rules)): State<(AppState, CookieRules)>,
    mut req: Request,
    next: Next,
) -> Response {
    req.extensions_mut().insert(rules);
    let mut shell = None;
    let mut stale = false;
    let token = cookie(req.headers(), rules.session_name()).map(str::to_string);
    if let (Some(auth), Some(token)) = (state.auth.as_ref(), token.as_deref()) {
        match auth.authenticate_web(token).await {
            Ok(principal) => {
                shell = Some(ShellVisitor {
                    email: principal.email.clone(),
                    admin: principal.role == ntsb_auth::Role::Admin,
                    csrf: auth.csrf_for_session(token),
                });
                let visitor = Visitor { principal: principal.clone(), token: Arc::from(token) };
                req.extensions_mut().insert(visitor);
                req.extensions_mut().insert(WebPrincipal(principal));
            }
            Err(_) => stale = true,
        }
    }
    let mut res = CURRENT.scope(shell.clone(), next.run(req)).await;
    if shell.is_some() {
        // A page for one visitor: never stored by anyone.
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if stale && !res.headers().contains_key(header::SET_COOKIE) {
        res.headers_mut().append(header::SET_COOKIE, rules.cookie(rules.session_name(), "", 0));
    }
    res
}

/// A principal proven by a dashboard session cookie; the access gate takes it
/// when the request carries no other credential. Only the dashboard's router
/// inserts it.
#[derive(Debug, Clone)]
pub(crate) struct WebPrincipal(pub Principal);

/// The response cache for anonymous visitors only: a signed-in visitor's page
/// carries their name and CSRF token, so it is rendered for them and never stored.
///
/// An anonymous page is also marked `no-cache` and `Vary: Cookie` for browsers
/// and proxies: its header says "Sign in", so a browser that kept it for a
/// minute would show it to the visitor who has just signed in (the browser
/// tests caught it). Asking again costs a `304` when nothing changed (ETag).
/// The stylesheet, scripts and icon keep their minute.
pub(crate) async fn cache_unless_signed_in(
    State(cache): State<Arc<crate::cache::ResponseCache>>,
    req: Request,
    next: Next,
) -> Response {
    if req.extensions().get::<Visitor>().is_some() {
        return next.run(req).await;
    }
    let page = !req.uri().path().starts_with("/assets/");
    let mut res = crate::middleware::etag(State(cache), req, next).await;
    if page {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        // One `Vary` header: the cache's (accept-encoding) and the cookie.
        let vary = match res.headers().get(header::VARY).and_then(|v| v.to_str().ok()) {
            Some(cached) => HeaderValue::from_str(&format!("{cached}, cookie")).ok(),
            None => Some(HeaderValue::from_static("cookie")),
        };
        if let Some(vary) = vary {
            res.headers_mut().insert(header::VARY, vary);
        }
    }
    res
}

/// Anonymous visitors asking for a page that needs an account are sent to
/// the sign-in form (which brings them back afterwards); other refusals stay
/// error pages.
pub(crate) async fn sign_in_first(req: Request, next: Next) -> Response {
    let get = req.method() == Method::GET;
    let back = req.uri().path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_else(|| "/".into());
    let res = next.run(req).await;
    if get && res.status() == StatusCode::UNAUTHORIZED {
        let to = super::query::with_query("/account", &super::query::encode([("next", back.as_str())].into_iter()));
        return redirect(&to);
    }
    res
}

/// `303 See Other` to `to` (a path of ours).
pub(crate) fn redirect(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A parsed form body.
#[derive(Debug, Clone, Default)]
pub(crate) struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }
}

/// The CSRF check of every state-changing request to a page: a POST must
/// carry in its form field `csrf` the token of the visitor's session or, from
/// an anonymous visitor, the same signed value as its double-submit cookie;
/// otherwise 403. The parsed form goes on to the handler as a [`Form`].
pub(crate) async fn csrf(State((state, rules)): State<(AppState, CookieRules)>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(auth) = state.auth.clone() else {
        return ApiError::Unavailable("accounts are not configured on this server".into()).into_response();
    };
    let (mut parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_FORM).await {
        Ok(b) => b,
        Err(_) => return ApiError::PayloadTooLarge.into_response(),
    };
    let form = Form::parse(&bytes);
    // Signing out without a session changes nothing: let it through to clear the cookie.
    let harmless = parts.uri.path() == "/account/sign-out" && parts.extensions.get::<Visitor>().is_none();
    if !harmless && !csrf_ok(&auth, rules, &parts.headers, parts.extensions.get::<Visitor>(), form.get("csrf")) {
        let ip = parts.extensions.get::<crate::access::ClientIp>().map(|c| c.0.to_string()).unwrap_or_default();
        let user = parts.extensions.get::<Visitor>().map(|v| v.principal.user);
        auth.audit_denial("forbidden", user, &ip, &format!("csrf {}", parts.uri.path()));
        return ApiError::Forbidden {
            code: "csrf",
            detail: "this form is out of date or did not come from this site; reload the page and send it again".into(),
        }
        .into_response();
    }
    parts.extensions.insert(form);
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn csrf_ok(auth: &Auth, rules: CookieRules, headers: &HeaderMap, visitor: Option<&Visitor>, presented: &str) -> bool {
    if presented.is_empty() {
        return false;
    }
    match visitor {
        Some(v) => auth.csrf_matches_session(&v.token, presented),
        None => cookie(headers, rules.csrf_name()).is_some_and(|c| auth.anonymous_csrf_matches(c, presented)),
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Visitor>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized { code: "unauthenticated", detail: "sign in first".into() })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Form {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Form>().cloned().unwrap_or_default())
    }
}

/// The signed-in visitor, if any.
#[derive(Debug, Clone)]
pub(crate) struct MaybeVisitor(pub Option<Visitor>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeVisitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeVisitor(parts.extensions.get::<Visitor>().cloned()))
    }
}
