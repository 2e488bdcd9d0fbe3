//! Turns every error response into a problem document and logs internal causes.
//!
//! Handlers return [`crate::ApiError`], which already renders a problem; the
//! framework's own errors (unknown route, wrong method, body too large) arrive
//! here as bare statuses and get the same format. The request path becomes the
//! problem's `instance`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{ApiError, InternalCause, PROBLEM_JSON, Problem};
use crate::middleware::RequestId;

/// Longest request path echoed in a problem.
const MAX_INSTANCE_CHARS: usize = 200;

pub(crate) async fn problems(req: Request, next: Next) -> Response {
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let path: String = req.uri().path().chars().take(MAX_INSTANCE_CHARS).collect();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    if let Some(InternalCause(cause)) = res.extensions().get::<InternalCause>() {
        let id = request_id.as_deref().unwrap_or("-");
        tracing::error!(request_id = id, cause = %cause, "internal error");
    }
    let mut problem = match res.extensions().get::<Problem>() {
        Some(p) => p.clone(),
        None => bare(status, &path).problem(),
    };
    problem.instance = Some(path);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let (mut parts, _) = res.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.extensions.insert(problem);
    Response::from_parts(parts, Body::from(body))
}

fn bare(status: StatusCode, path: &str) -> ApiError {
    match status {
        StatusCode::NOT_FOUND => ApiError::NotFound(format!("no resource at {path}; see /docs")),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::REQUEST_TIMEOUT => ApiError::BodyTimeout,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType("request bodies must be JSON (Content-Type: application/json)".into())
        }
        other => ApiError::Other(other),
    }
}
