//! `/account`: sign in, sign out, register, change password, API keys and the
//! daily quota. Every rule is the engine's (`ntsb_auth::Auth`); this module
//! only renders forms and shows the engine's refusals on the form they
//! concern, naming the field.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use ntsb_auth::{Auth, ChallengeAnswer, Subject};

use super::layout::{Page, page_with_status, shell};
use super::session::{CookieRules, Form, MaybeVisitor, Visitor, cookie, redirect};
use crate::access::ClientIp;
use crate::error::ApiError;
use crate::state::AppState;

/// A refusal shown on the form it concerns.
#[derive(Debug, Clone)]
pub(crate) struct FormError {
    /// Which form: `sign-in`, `register`, `password`, `keys`.
    pub form: &'static str,
    /// The field at fault (its `name`), when one is.
    pub field: Option<String>,
    /// What to do, in words.
    pub message: String,
}

/// What the page shows beyond the forms.
#[derive(Debug, Default)]
struct View {
    error: Option<FormError>,
    /// A notice after a redirect (`?done=…`).
    notice: Option<&'static str>,
    /// A key just made, shown this once.
    new_key: Option<(String, String)>,
    /// Where to go after signing in.
    next: String,
    /// The e-mail address typed, to fill in again.
    email: String,
}

fn engine(state: &AppState) -> Result<&Auth, ApiError> {
    crate::routes::auth::engine(state)
}

/// Only paths of this site: `/x`, never `//host` or `/\host`.
fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") && next.len() <= 2000;
    if ok { next.to_string() } else { "/account".into() }
}

fn query_value(raw: Option<&str>, name: &str) -> String {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(rules): Extension<CookieRules>,
    MaybeVisitor(visitor): MaybeVisitor,
    ip: ClientIp,
    headers: axum::http::HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let notice = match query_value(raw.as_deref(), "done").as_str() {
        "signed-out" => Some("You are signed out."),
        "registered" => Some("Your account is ready: sign in with your e-mail address and password."),
        "password-changed" => Some("Your password is changed. Every session ended: sign in again."),
        "key-revoked" => Some("The API key is revoked."),
        _ => None,
    };
    let view = View { notice, next: safe_next(&query_value(raw.as_deref(), "next")), ..View::default() };
    render(&state, rules, visitor.as_ref(), &ip.0, &headers, view, StatusCode::OK).await
}

/// The page for this visitor, with the anonymous forms' double-submit cookie
/// set when the visitor has none.
async fn render(
    state: &AppState,
    rules: CookieRules,
    visitor: Option<&Visitor>,
    ip: &str,
    headers: &axum::http::HeaderMap,
    view: View,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let auth = engine(state)?;
    let (markup, set_cookie) = match visitor {
        Some(v) => (signed_in(auth, v, &view).await?, None),
        None => {
            let existing = cookie(headers, rules.csrf_name()).filter(|c| auth.anonymous_csrf_matches(c, c));
            let (token, fresh) = match existing {
                Some(c) => (c.to_string(), false),
                None => (auth.anonymous_csrf()?, true),
            };
            let challenge = if auth.challenge_required(ip).await { Some(auth.issue_challenge()?) } else { None };
            let markup = signed_out(auth, &token, challenge.as_ref(), &view);
            (markup, fresh.then(|| rules.cookie(rules.csrf_name(), &token, 24 * 3600)))
        }
    };
    let mut res =
        if status == StatusCode::OK { Page::Html(markup).into_response() } else { page_with_status(status, markup) };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = set_cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}

/// An input with its label, marked invalid (and described by the error) when
/// the error names it.
fn field(
    form: &str,
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    autocomplete: &str,
    error: Option<&FormError>,
) -> Markup {
    let id = format!("{form}-{}", name.replace('_', "-"));
    let err = error.filter(|e| e.form == form && e.field.as_deref() == Some(name));
    let err_id = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (label) }
            @if let Some(e) = err {
                input id=(id) name=(name) type=(kind) value=(value) autocomplete=(autocomplete) required aria-invalid="true" aria-describedby=(err_id);
                p.field-error id=(err_id) { (e.message) }
            } @else {
                input id=(id) name=(name) type=(kind) value=(value) autocomplete=(autocomplete) required;
            }
        }
    }
}

/// A form-wide error (one that names no field of it).
fn form_error(form: &str, error: Option<&FormError>) -> Markup {
    html! {
        @if let Some(e) = error.filter(|e| e.form == form && e.field.is_none()) {
            p.error role="alert" id=(format!("{form}-error")) { (e.message) }
        }
    }
}

fn notice(view: &View) -> Markup {
    html! {
        @if let Some(n) = view.notice {
            p.notice role="status" id="notice" { (n) }
        }
    }
}

fn signed_out(auth: &Auth, csrf: &str, challenge: Option<&ntsb_auth::Challenge>, view: &View) -> Markup {
    let e = view.error.as_ref();
    shell(
        "Account",
        "/account",
        html! {
            h1 { "Account" }
            (notice(view))
            section aria-labelledby="sign-in-title" {
                h2 id="sign-in-title" { "Sign in" }
                form id="sign-in" method="post" action="/account/sign-in" {
                    (form_error("sign-in", e))
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(view.next);
                    (field("sign-in", "email", "E-mail address", "email", &view.email, "username", e))
                    (field("sign-in", "password", "Password", "password", "", "current-password", e))
                    @if let Some(c) = challenge {
                        div.challenge id="challenge" data-salt=(c.salt) data-bits=(c.bits) {
                            p id="challenge-status" role="status" {
                                "Too many failed sign-ins from your address: your browser first solves a small "
                                "puzzle (this needs JavaScript and takes a moment)."
                            }
                            input type="hidden" name="pow_salt" value=(c.salt);
                            input type="hidden" name="pow_bits" value=(c.bits);
                            input type="hidden" name="pow_expires" value=(c.expires);
                            input type="hidden" name="pow_signature" value=(c.signature);
                            input type="hidden" name="pow_solution" id="pow-solution" value="";
                        }
                        script src="/assets/challenge.js" defer {}
                    }
                    div.actions { button type="submit" id="sign-in-submit" { "Sign in" } }
                }
            }
            @if auth.config().registration_open {
                section aria-labelledby="register-title" {
                    h2 id="register-title" { "Create an account" }
                    form id="register" method="post" action="/account/register" {
                        (form_error("register", e))
                        input type="hidden" name="csrf" value=(csrf);
                        (field("register", "email", "E-mail address", "email", "", "username", e))
                        (field("register", "password", "Password (12 characters or more, hard to guess)", "password", "", "new-password", e))
                        div.actions { button type="submit" id="register-submit" { "Create account" } }
                    }
                }
            } @else {
                p id="registration-closed" { "Registration is closed on this server: ask an administrator for an account." }
            }
        },
    )
}

async fn signed_in(auth: &Auth, v: &Visitor, view: &View) -> Result<Markup, ApiError> {
    let who = &v.principal;
    let keys = auth.list_keys(who).await?;
    let usage = auth.usage(&Subject::User(who.user, who.role)).await;
    let csrf = auth.csrf_for_session(&v.token);
    let e = view.error.as_ref();
    Ok(shell(
        "Account",
        "/account",
        html! {
            h1 { "Account" }
            (notice(view))
            p id="account-summary" { "Signed in as " strong { (who.email) } " (" span id="account-role" { (who.role.as_str()) } ")." }
            form id="sign-out-form" method="post" action="/account/sign-out" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Sign out" }
            }
            section aria-labelledby="usage-title" {
                h2 id="usage-title" { "Usage today" }
                @match usage {
                    Some(l) => p id="usage" {
                        "Requests in the current 24-hour window: "
                        data id="usage-used" value=(l.limit - l.remaining) { (l.limit - l.remaining) }
                        " of " data id="usage-limit" value=(l.limit) { (l.limit) }
                        " (the window ends in " (l.reset / 60) " minutes)."
                    },
                    None => p id="usage" { "Your account has no daily quota." },
                }
            }
            section aria-labelledby="keys-title" {
                h2 id="keys-title" { "API keys" }
                @if let Some((name, key)) = &view.new_key {
                    div.new-key role="status" {
                        p { "Your new key " strong { (name) } ". Copy it now: it is shown only this once." }
                        p { code id="new-key" { (key) } }
                    }
                }
                form id="create-key" method="post" action="/account/keys" {
                    (form_error("keys", e))
                    input type="hidden" name="csrf" value=(csrf);
                    (field("keys", "name", "Name of a new key", "text", "", "off", e))
                    div.actions { button type="submit" id="create-key-submit" { "Create key" } }
                }
                @if keys.is_empty() {
                    p id="no-keys" { "You have no API keys." }
                } @else {
                    div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" {
                        table id="keys" {
                            caption { "Your API keys, newest first" }
                            thead { tr { th scope="col" { "name" } th scope="col" { "starts with" } th scope="col" { "created" }
                                th scope="col" { "last used" } th scope="col" { "state" } } }
                            tbody {
                                @for k in &keys {
                                    tr id=(format!("key-{}", k.id)) {
                                        td { (k.name) }
                                        td { code { (k.prefix) "…" } }
                                        td { (when(Some(k.created_at))) }
                                        td { (when(k.last_used_at)) }
                                        td {
                                            @if k.revoked_at.is_some() {
                                                "revoked " (when(k.revoked_at))
                                            } @else {
                                                form.inline method="post" action=(format!("/account/keys/{}/revoke", k.id)) {
                                                    input type="hidden" name="csrf" value=(csrf);
                                                    button type="submit" aria-label=(format!("Revoke the key {}", k.name)) { "Revoke" }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="password-title" {
                h2 id="password-title" { "Change password" }
                p { "Changing your password ends every session (sign in again) and revokes your API keys unless you keep them." }
                form id="password" method="post" action="/account/password" {
                    (form_error("password", e))
                    input type="hidden" name="csrf" value=(csrf);
                    (field("password", "current_password", "Current password", "password", "", "current-password", e))
                    (field("password", "new_password", "New password", "password", "", "new-password", e))
                    div.field.check {
                        input id="password-keep-api-keys" name="keep_api_keys" type="checkbox" value="true";
                        label for="password-keep-api-keys" { "Keep my API keys" }
                    }
                    div.actions { button type="submit" id="password-submit" { "Change password" } }
                }
            }
        },
    ))
}

/// A Unix time as a UTC date and time, or "never".
pub(crate) fn when(t: Option<i64>) -> String {
    match t.and_then(|t| chrono::DateTime::from_timestamp(t, 0)) {
        Some(d) => d.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => "never".into(),
    }
}

/// The engine's refusal as an error on `form`, with the status to answer; an
/// error of ours (store, internal) stays an error page.
fn refusal(form: &'static str, e: ntsb_auth::Error) -> Result<(FormError, StatusCode, Option<u64>), ApiError> {
    use ntsb_auth::Error as E;
    let at = |field: Option<&str>, message: String| FormError { form, field: field.map(str::to_string), message };
    Ok(match e {
        E::InvalidInput { field, reason } => {
            let label = match field {
                "email" => "The e-mail address",
                "password" | "new_password" => "The password",
                "name" => "The name",
                other => other,
            };
            (at(Some(field), format!("{label} {reason}.")), StatusCode::BAD_REQUEST, None)
        }
        E::InvalidCredentials if form == "password" => {
            (at(Some("current_password"), "The current password is wrong.".into()), StatusCode::UNAUTHORIZED, None)
        }
        e @ E::InvalidCredentials => {
            (at(None, format!("{}.", capital(&e.to_string()))), StatusCode::UNAUTHORIZED, None)
        }
        E::Locked { retry_after } => (
            at(None, format!("Too many failed sign-ins: try again in {} minutes.", retry_after.div_ceil(60))),
            StatusCode::TOO_MANY_REQUESTS,
            Some(retry_after),
        ),
        E::RateLimited(l) => (
            at(None, format!("Too many attempts ({}): try again in {} s.", l.scope, l.reset)),
            StatusCode::TOO_MANY_REQUESTS,
            Some(l.reset),
        ),
        E::ChallengeRequired => (
            at(
                None,
                "Too many failed sign-ins from your address: let your browser solve the puzzle, then sign in.".into(),
            ),
            StatusCode::FORBIDDEN,
            None,
        ),
        e @ (E::Disabled | E::RegistrationClosed) => {
            (at(None, format!("{}.", capital(&e.to_string()))), StatusCode::FORBIDDEN, None)
        }
        E::Conflict => {
            (at(Some("email"), "An account with this e-mail address exists.".into()), StatusCode::CONFLICT, None)
        }
        E::Forbidden(why) => (at(None, format!("{}.", capital(why))), StatusCode::FORBIDDEN, None),
        other => return Err(ApiError::from(other)),
    })
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Answers a refused form: the page again, with the error on its form.
#[allow(clippy::too_many_arguments)]
async fn refused(
    state: &AppState,
    rules: CookieRules,
    visitor: Option<&Visitor>,
    ip: &str,
    headers: &axum::http::HeaderMap,
    form: &'static str,
    e: ntsb_auth::Error,
    mut view: View,
) -> Result<Response, ApiError> {
    let (error, status, retry) = refusal(form, e)?;
    view.error = Some(error);
    let mut res = render(state, rules, visitor, ip, headers, view, status).await?;
    if let Some(secs) = retry {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(res)
}

pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Extension(rules): Extension<CookieRules>,
    ip: ClientIp,
    headers: axum::http::HeaderMap,
    form: Form,
) -> Result<Response, ApiError> {
    let auth = engine(&state)?;
    let answer = (!form.get("pow_salt").is_empty()).then(|| ChallengeAnswer {
        salt: form.get("pow_salt").to_string(),
        bits: form.get("pow_bits").parse().unwrap_or(0),
        expires: form.get("pow_expires").parse().unwrap_or(0),
        signature: form.get("pow_signature").to_string(),
        solution: form.get("pow_solution").to_string(),
    });
    let next = safe_next(form.get("next"));
    match auth.sign_in_web(form.get("email"), form.get("password"), answer.as_ref(), &ip.0).await {
        Ok(signed) => {
            let mut res = redirect(if next == "/account" || next.is_empty() { "/account" } else { &next });
            res.headers_mut()
                .append(header::SET_COOKIE, rules.cookie(rules.session_name(), &signed.token, signed.max_age));
            Ok(res)
        }
        Err(e) => {
            let view = View { next, email: form.get("email").chars().take(254).collect(), ..View::default() };
            refused(&state, rules, None, &ip.0, &headers, "sign-in", e, view).await
        }
    }
}

pub(crate) async fn sign_out(
    State(state): State<AppState>,
    Extension(rules): Extension<CookieRules>,
    ip: ClientIp,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let auth = engine(&state)?;
    if let Some(token) = cookie(&headers, rules.session_name()) {
        auth.sign_out_web(token, &ip.0).await?;
    }
    let mut res = redirect("/account?done=signed-out");
    res.headers_mut().append(header::SET_COOKIE, rules.cookie(rules.session_name(), "", 0));
    Ok(res)
}

pub(crate) async fn register(
    State(state): State<AppState>,
    Extension(rules): Extension<CookieRules>,
    ip: ClientIp,
    headers: axum::http::HeaderMap,
    form: Form,
) -> Result<Response, ApiError> {
    let auth = engine(&state)?;
    match auth.register(form.get("email"), form.get("password"), &ip.0).await {
        Ok(_) => Ok(redirect("/account?done=registered")),
        Err(e) => refused(&state, rules, None, &ip.0, &headers, "register", e, View::default()).await,
    }
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    Extension(rules): Extension<CookieRules>,
    visitor: Visitor,
    ip: ClientIp,
    headers: axum::http::HeaderMap,
    form: Form,
) -> Result<Response, ApiError> {
    let auth = engine(&state)?;
    let keep = form.get("keep_api_keys") == "true";
    match auth
        .change_password(&visitor.principal, form.get("current_password"), form.get("new_password"), keep, &ip.0)
        .await
    {
        Ok(()) => {
            let mut res = redirect("/account?done=password-changed");
            res.headers_mut().append(header::SET_COOKIE, rules.cookie(rules.session_name(), "", 0));
            Ok(res)
        }
        Err(e) => refused(&state, rules, Some(&visitor), &ip.0, &headers, "password", e, View::default()).await,
    }
}

pub(crate) async fn create_key(
    State(state): State<AppState>,
    Extension(rules): Extension<CookieRules>,
    visitor: Visitor,
    ip: ClientIp,
    headers: axum::http::HeaderMap,
    form: Form,
) -> Result<Response, ApiError> {
    let auth = engine(&state)?;
    match auth.create_key(&visitor.principal, form.get("name"), &ip.0).await {
        Ok(created) => {
            let view = View { new_key: Some((created.record.name.clone(), created.key)), ..View::default() };
            render(&state, rules, Some(&visitor), &ip.0, &headers, view, StatusCode::OK).await
        }
        Err(e) => refused(&state, rules, Some(&visitor), &ip.0, &headers, "keys", e, View::default()).await,
    }
}

pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    visitor: Visitor,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let auth = engine(&state)?;
    auth.revoke_key(&visitor.principal, &id, &ip.0).await?;
    Ok(redirect("/account?done=key-revoked"))
}
