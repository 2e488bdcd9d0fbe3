//! Strong `ETag`s (a hash of the body) and `Cache-Control` on successful `GET`s,
//! and `304 Not Modified` when the client already holds the same body.
//!
//! The data changes only when a load runs, so a short public cache lifetime plus
//! revalidation gives clients and proxies cheap repeat reads.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Largest body hashed (every cacheable body is bounded by its `limit`).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// How long clients and shared caches may reuse an answer without revalidating.
const CACHE_CONTROL: &str = "public, max-age=60";

pub(crate) async fn etag(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return ApiError::internal(format!("buffering a response for its ETag: {e}")).into_response(),
    };
    let digest = Sha256::digest(&bytes);
    let tag = format!("\"{}\"", hex::encode(&digest[..16]));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        parts.headers.insert(header::ETAG, v);
    }
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    if if_none_match.is_some_and(|h| matches(&h, &tag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `If-None-Match` uses weak comparison (RFC 9110 §13.1.2): `W/` is ignored.
fn matches(header: &str, tag: &str) -> bool {
    header.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

#[cfg(test)]
mod tests {
    #[test]
    fn if_none_match_lists_and_weak_tags() {
        assert!(super::matches("\"a\", \"b\"", "\"b\""));
        assert!(super::matches("W/\"b\"", "\"b\""));
        assert!(super::matches("*", "\"b\""));
        assert!(!super::matches("\"a\"", "\"b\""));
    }
}
