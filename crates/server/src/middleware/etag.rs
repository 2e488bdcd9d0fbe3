//! Strong `ETag`s (a hash of the body) and `Cache-Control` on successful `GET`s,
//! `304 Not Modified` when the client already holds the same body, and the
//! server-side [`ResponseCache`] in front of the handlers.
//!
//! The data changes only when a load runs, so a short public cache lifetime plus
//! revalidation gives clients and proxies cheap repeat reads, and the server
//! itself answers a repeated question without asking the store again.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::cache::{CachedResponse, ResponseCache};
use crate::error::ApiError;

/// Largest body hashed (every cacheable body is bounded by its `limit`).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// How long clients and shared caches may reuse an answer without revalidating.
const CACHE_CONTROL: &str = "public, max-age=60";

/// Whether the answer came from the server's cache (`hit`), another replica's
/// through Redis (`shared`), was computed (`miss`) or the cache is off (`off`),
/// for clients and benchmarks.
const X_CACHE: &str = "x-cache";

pub(crate) async fn etag(State(cache): State<Arc<ResponseCache>>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |pq| pq.as_str().to_string());
    let key = cache.key(&target).await;
    if let Some(hit) = key.as_deref().and_then(|k| cache.get(k)) {
        return answer(&hit, if_none_match.as_deref(), "hit");
    }
    // Concurrent misses for one answer: the first computes, the others wait for it.
    let computation = key.as_deref().map(|k| cache.computation(k));
    let _computing = match &computation {
        Some(lock) => Some(lock.lock().await),
        None => None,
    };
    if let Some(hit) = key.as_deref().and_then(|k| cache.peek(k)) {
        return answer(&hit, if_none_match.as_deref(), "hit");
    }
    // Another replica may have computed it (Redis).
    if let Some(key) = key.as_deref()
        && let Some(hit) = cache.get_shared(key).await
    {
        return answer(&hit, if_none_match.as_deref(), "shared");
    }
    let res = next.run(req).await;
    if res.status() != StatusCode::OK || is_private(res.headers()) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return ApiError::internal(format!("buffering a response for its ETag: {e}")).into_response(),
    };
    let digest = Sha256::digest(&bytes);
    let Ok(tag) = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..16]))) else {
        return ApiError::internal("an ETag was not a valid header").into_response();
    };
    let fresh = Arc::new(CachedResponse {
        body: bytes,
        etag: tag,
        content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
    });
    // Extra headers a handler set (e.g. a Link) are not cached: only plain answers are.
    let plain = parts.headers.keys().all(|k| *k == header::CONTENT_TYPE || *k == header::CONTENT_LENGTH);
    if let Some(key) = key
        && plain
    {
        cache.put(key, fresh.clone());
    }
    let mut res = answer(&fresh, if_none_match.as_deref(), if cache.enabled() { "miss" } else { "off" });
    merge_headers(res.headers_mut(), parts.headers);
    res
}

/// The response for `cached`: 304 when the client's `If-None-Match` matches.
fn answer(cached: &CachedResponse, if_none_match: Option<&str>, source: &'static str) -> Response {
    let not_modified = if_none_match.is_some_and(|h| matches(h, cached.etag.to_str().unwrap_or_default()));
    let mut res = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(cached.body.clone()));
        if let Some(ct) = &cached.content_type {
            r.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
        }
        r
    };
    let headers = res.headers_mut();
    headers.insert(header::ETAG, cached.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    headers.insert(X_CACHE, HeaderValue::from_static(source));
    res
}

/// Copies the handler's other headers (not the body's length and type, already set).
fn merge_headers(into: &mut HeaderMap, from: HeaderMap) {
    for (name, value) in from.iter() {
        if *name != header::CONTENT_LENGTH && *name != header::CONTENT_TYPE && !into.contains_key(name) {
            into.insert(name.clone(), value.clone());
        }
    }
}

/// Whether a handler marked its answer as not for storing (`no-store` or
/// `private`): such an answer is never cached here nor relabelled public.
fn is_private(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(|d| d.trim().to_ascii_lowercase()).any(|d| d == "no-store" || d == "private"))
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

    #[test]
    fn private_answers_are_recognised() {
        use axum::http::{HeaderMap, HeaderValue, header};
        let mut h = HeaderMap::new();
        assert!(!super::is_private(&h));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=0, No-Store"));
        assert!(super::is_private(&h));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
        assert!(super::is_private(&h));
    }
}
