//! `/admin` (administrators only): users and roles (change a role, disable or
//! enable an account), the audit log, the load ledger and a load's rejects,
//! each a paged table. Changes go through the engine (`Auth::set_role`,
//! `Auth::set_disabled`), which refuses an administrator changing their own
//! account and audits every change, exactly as the JSON API's admin routes do.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use ntsb_auth::{AuditQuery, Role, UserId};
use ntsb_store::LoadId;

use super::account::when;
use super::layout::{Page, page_with_status, shell};
use super::query::{encode, with_query};
use super::session::{Form, Visitor, redirect};
use crate::access::ClientIp;
use crate::error::ApiError;
use crate::state::{AppState, blocking};

/// Rows per page of each table.
const PAGE: usize = 50;

fn admin_of(v: &Visitor) -> Result<(), ApiError> {
    if v.principal.role != Role::Admin {
        return Err(ApiError::Forbidden { code: "admin_required", detail: "this page is for administrators".into() });
    }
    Ok(())
}

fn number(raw: &str, name: &str) -> Result<Option<i64>, ApiError> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i64>().map(Some).map_err(|_| ApiError::invalid(name, format!("must be a whole number, got {raw:?}")))
}

pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    admin_of(&visitor)?;
    let auth = crate::routes::auth::engine(&state)?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str()).to_string();
    let users_after = number(&get("users_after"), "users_after")?;
    let audit_before = number(&get("audit_before"), "audit_before")?;
    let load = number(&get("load"), "load")?;
    let notice = match get("done").as_str() {
        "role" => Some("The role is changed."),
        "disabled" => Some("The account is disabled: its sessions ended and its API keys are revoked."),
        "enabled" => Some("The account is enabled again."),
        _ => None,
    };
    let users = auth.list_users(users_after.map(UserId), PAGE).await?;
    let audit = auth.audit_events(AuditQuery { before_id: audit_before, limit: PAGE, ..AuditQuery::default() }).await?;
    let store = state.store.clone();
    let (loads, rejects) = blocking(move || {
        let loads = store.loads(PAGE)?;
        let rejects = match load {
            Some(id) => Some((id, store.rejects(LoadId(id))?)),
            None => None,
        };
        Ok((loads, rejects))
    })
    .await?;
    let csrf = auth.csrf_for_session(&visitor.token);
    let me = visitor.principal.user;
    let link = |name: &str, value: String| with_query("/admin", &encode([(name, value.as_str())].into_iter()));
    let markup = shell(
        "Admin",
        "/admin",
        html! {
            h1 { "Administration" }
            @if let Some(n) = notice { p.notice role="status" id="notice" { (n) } }
            section aria-labelledby="users-title" {
                h2 id="users-title" { "Users and roles" }
                div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" {
                    table id="users" {
                        caption { "Accounts in id order" }
                        thead { tr {
                            th scope="col" { "id" } th scope="col" { "e-mail" } th scope="col" { "role" }
                            th scope="col" { "state" } th scope="col" { "created" } th scope="col" { "last sign-in" }
                            th scope="col" { "locked until" }
                        } }
                        tbody {
                            @for u in &users {
                                tr id=(format!("user-{}", u.id)) {
                                    td.num { (u.id) }
                                    td { (u.email) }
                                    td {
                                        @if u.id == me {
                                            (u.role.as_str()) " (you)"
                                        } @else {
                                            form.inline method="post" action=(format!("/admin/users/{}/role", u.id)) {
                                                input type="hidden" name="csrf" value=(csrf);
                                                label.visually-hidden for=(format!("role-{}", u.id)) { "Role of " (u.email) }
                                                select id=(format!("role-{}", u.id)) name="role" {
                                                    @for r in Role::ALL {
                                                        @if r == u.role { option value=(r.as_str()) selected { (r.as_str()) } }
                                                        @else { option value=(r.as_str()) { (r.as_str()) } }
                                                    }
                                                }
                                                " "
                                                button type="submit" { "Change role" }
                                            }
                                        }
                                    }
                                    td {
                                        @if u.disabled { "disabled" } @else { "enabled" }
                                        @if u.id != me {
                                            " "
                                            form.inline method="post" action=(format!("/admin/users/{}/disabled", u.id)) {
                                                input type="hidden" name="csrf" value=(csrf);
                                                input type="hidden" name="disabled" value=(if u.disabled { "false" } else { "true" });
                                                button type="submit" aria-label=(format!("{} {}", if u.disabled { "Enable" } else { "Disable" }, u.email)) {
                                                    @if u.disabled { "Enable" } @else { "Disable" }
                                                }
                                            }
                                        }
                                    }
                                    td { (when(Some(u.created_at))) }
                                    td { (when(u.last_login_at)) }
                                    td { @if u.locked_until.is_some() { (when(u.locked_until)) } @else { "—" } }
                                }
                            }
                        }
                    }
                }
                @if users.len() == PAGE {
                    @if let Some(last) = users.last() {
                        p { a href=(link("users_after", last.id.to_string())) rel="next" id="users-next" { "Next users" } }
                    }
                }
            }
            section aria-labelledby="audit-title" {
                h2 id="audit-title" { "Audit log" }
                div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" {
                    table id="audit" {
                        caption { "Security events, newest first" }
                        thead { tr { th scope="col" { "id" } th scope="col" { "time" } th scope="col" { "event" }
                            th scope="col" { "user" } th scope="col" { "by" } th scope="col" { "address" } th scope="col" { "detail" } } }
                        tbody {
                            @for e in &audit {
                                tr {
                                    td.num { (e.id) } td { (when(Some(e.at))) } td { code { (e.event) } }
                                    td { @if let Some(u) = e.user_id { (u) } } td { @if let Some(u) = e.actor_id { (u) } }
                                    td { @if let Some(ip) = &e.ip { (ip) } } td { (e.detail) }
                                }
                            }
                        }
                    }
                }
                @if audit.len() == PAGE {
                    @if let Some(last) = audit.last() {
                        p { a href=(link("audit_before", last.id.to_string())) rel="next" id="audit-next" { "Older events" } }
                    }
                }
            }
            section aria-labelledby="loads-title" {
                h2 id="loads-title" { "Load ledger" }
                div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" {
                    table id="loads" {
                        caption { "The latest loads, newest first" }
                        thead { tr { th scope="col" { "id" } th scope="col" { "file" } th scope="col" { "format" }
                            th scope="col" { "started" } th scope="col" { "status" } th scope="col" { "inserted" }
                            th scope="col" { "updated" } th scope="col" { "rejected" } th scope="col" { "rejects" } } }
                        tbody {
                            @for l in &loads {
                                tr {
                                    td.num { (l.id.0) } td { (l.source.path) } td { (l.source.format) } td { (l.started_at) }
                                    td { (l.status) } td.num { (l.counts.inserted) } td.num { (l.counts.updated) }
                                    td.num { (l.counts.rejected) }
                                    td { a href=(link("load", l.id.0.to_string())) { "Show rejects" } }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some((id, rejects)) = &rejects {
                section aria-labelledby="rejects-title" {
                    h2 id="rejects-title" { "Rejects of load " (id) }
                    @if rejects.is_empty() {
                        p id="no-rejects" { "This load rejected nothing." }
                    } @else {
                        (rejects_table(rejects))
                    }
                }
            }
        },
    );
    Ok(Page::Html(markup).into_response_no_store())
}

fn rejects_table(rejects: &[ntsb_model::records::Reject]) -> Markup {
    html! {
        div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" {
            table id="rejects" {
                caption { "Rejected records in file order (the first 1,000)" }
                thead { tr { th scope="col" { "file" } th scope="col" { "line" } th scope="col" { "table" }
                    th scope="col" { "field" } th scope="col" { "reason" } } }
                tbody {
                    @for r in rejects.iter().take(1000) {
                        tr { td { (r.file) } td.num { (r.line) } td { @if let Some(t) = &r.table { (t) } }
                            td { @if let Some(f) = &r.field { (f) } } td { (r.reason) } }
                    }
                }
            }
        }
    }
}

fn target(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<i64>().map(UserId).map_err(|_| ApiError::invalid("id", "must be a user id"))
}

/// The engine's refusal of an admin change, as an error page naming why.
fn refused(e: ntsb_auth::Error) -> Result<Response, ApiError> {
    match e {
        ntsb_auth::Error::Forbidden(why) => Ok(page_with_status(
            StatusCode::FORBIDDEN,
            shell(
                "Not allowed",
                "/admin",
                html! { h1 { "Not allowed" } p.error { (why) "." } p { a href="/admin" { "Back to administration" } } },
            ),
        )),
        other => Err(ApiError::from(other)),
    }
}

pub(crate) async fn set_role(
    State(state): State<AppState>,
    visitor: Visitor,
    ip: ClientIp,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, ApiError> {
    admin_of(&visitor)?;
    let auth = crate::routes::auth::engine(&state)?;
    let role =
        Role::parse(form.get("role")).ok_or_else(|| ApiError::invalid("role", "must be free, premium or admin"))?;
    match auth.set_role(Some(visitor.principal.user), target(&id)?, role, &ip.0).await {
        Ok(_) => Ok(redirect("/admin?done=role")),
        Err(e) => refused(e),
    }
}

pub(crate) async fn set_disabled(
    State(state): State<AppState>,
    visitor: Visitor,
    ip: ClientIp,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, ApiError> {
    admin_of(&visitor)?;
    let auth = crate::routes::auth::engine(&state)?;
    let disabled = match form.get("disabled") {
        "true" => true,
        "false" => false,
        _ => return Err(ApiError::invalid("disabled", "must be true or false")),
    };
    match auth.set_disabled(Some(visitor.principal.user), target(&id)?, disabled, &ip.0).await {
        Ok(_) => Ok(redirect(if disabled { "/admin?done=disabled" } else { "/admin?done=enabled" })),
        Err(e) => refused(e),
    }
}
