//! `/openapi.json` and the API reference page (`/docs`), served from the binary.
//!
//! The page is plain HTML with its script and style as separate files, so the
//! strict Content-Security-Policy (no inline script or style) holds for it too.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, PROBLEM_CODES};
use crate::params::{NoParams, Query};

const PAGE: &str = include_str!("../../assets/docs.html");

/// The page with its error section filled from [`PROBLEM_CODES`], so every
/// problem's `type` (`/docs#problem-CODE`) has its anchor.
fn page_html() -> &'static str {
    static HTML: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HTML.get_or_init(|| {
        let mut list = String::new();
        for (code, status, meaning) in PROBLEM_CODES {
            list.push_str(&format!(
                "    <dt id=\"problem-{code}\"><code>{code}</code> ({status})</dt><dd>{}</dd>\n",
                inline_code(meaning)
            ));
        }
        PAGE.replace("<!-- problem codes -->\n", &list)
    })
}

/// Escapes text for HTML and turns `backquoted` words into `<code>` elements.
fn inline_code(text: &str) -> String {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut out = String::new();
    for (i, piece) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(piece);
            out.push_str("</code>");
        } else {
            out.push_str(piece);
        }
    }
    out
}
const SCRIPT: &str = include_str!("../../assets/docs.js");
const STYLE: &str = include_str!("../../assets/docs.css");

fn typed(body: impl IntoResponse, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

#[utoipa::path(get, path = "/openapi.json", tag = "documentation", summary = "This OpenAPI 3.1 document",
    responses((status = 200, description = "The document", content_type = "application/json", body = Object)))]
pub(crate) async fn openapi_json(_: Query<NoParams>) -> Result<Response, ApiError> {
    let json = crate::openapi().to_pretty_json().map_err(ApiError::internal)?;
    Ok(typed(json, "application/json"))
}

#[utoipa::path(get, path = "/docs", tag = "documentation", summary = "API reference page",
    responses((status = 200, description = "HTML page", content_type = "text/html", body = String)))]
pub(crate) async fn page() -> Response {
    typed(page_html(), "text/html; charset=utf-8")
}

#[utoipa::path(get, path = "/docs/app.js", tag = "documentation", summary = "Script of the reference page",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)))]
pub(crate) async fn script() -> Response {
    typed(SCRIPT, "text/javascript; charset=utf-8")
}

#[utoipa::path(get, path = "/docs/app.css", tag = "documentation", summary = "Style of the reference page",
    responses((status = 200, description = "CSS", content_type = "text/css", body = String)))]
pub(crate) async fn style() -> Response {
    typed(STYLE, "text/css; charset=utf-8")
}
