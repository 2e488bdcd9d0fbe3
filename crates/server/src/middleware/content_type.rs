//! Request bodies must be JSON: a `POST`, `PUT` or `PATCH` that carries a body
//! in any other media type (a form, multipart, `text/plain`, or none named) is
//! refused with 415 before any handler or credential check sees it.
//!
//! Why: browsers send forms and `text/plain` across origins without a CORS
//! preflight, so a hostile page could otherwise make its visitors' browsers
//! post logins or registrations here. `application/json` needs a preflight,
//! which our CORS policy answers only for the configured origins.

use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub(crate) async fn json_only(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) && has_body(&req) {
        let given = req.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("(not text)"));
        if !given.is_some_and(is_json) {
            let shown: String = given.unwrap_or("none").chars().take(80).collect();
            return ApiError::UnsupportedMediaType(format!(
                "request bodies must be JSON (Content-Type: application/json); got {shown:?}"
            ))
            .into_response();
        }
    }
    next.run(req).await
}

/// Whether the request announces a body: a non-zero `Content-Length`, or any
/// `Transfer-Encoding` (chunked bodies have no length up front).
fn has_body(req: &Request) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    match headers.get(header::CONTENT_LENGTH) {
        Some(v) => v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) != Some(0),
        None => false,
    }
}

/// `application/json` or `application/<anything>+json`, with any parameters
/// (`; charset=utf-8`), case-insensitively.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let Some(subtype) = essence.strip_prefix("application/") else { return false };
    subtype == "json" || (subtype.ends_with("+json") && subtype.len() > "+json".len())
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_and_structured_json_types_pass_and_others_do_not() {
        for ok in ["application/json", "Application/JSON; charset=utf-8", "application/merge-patch+json"] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/+json",
            "application/jsonp",
            "text/json",
            "",
        ] {
            assert!(!is_json(bad), "{bad}");
        }
    }
}
