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
    let gzip = accepts_gzip(req.headers());
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |pq| pq.as_str().to_string());
    let key = cache.key(&target).await;
    if let Some(hit) = key.as_deref().and_then(|k| cache.get(k)) {
        return answer(&hit, if_none_match.as_deref(), gzip, "hit");
    }
    // Concurrent misses for one answer: the first computes, the others wait for it.
    let computation = key.as_deref().map(|k| cache.computation(k));
    let _computing = match &computation {
        Some(lock) => Some(lock.lock().await),
        None => None,
    };
    if let Some(hit) = key.as_deref().and_then(|k| cache.peek(k)) {
        return answer(&hit, if_none_match.as_deref(), gzip, "hit");
    }
    // Another replica may have computed it (Redis).
    if let Some(key) = key.as_deref()
        && let Some(hit) = cache.get_shared(key).await
    {
        return answer(&hit, if_none_match.as_deref(), gzip, "shared");
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
    let fresh = Arc::new(CachedResponse::new(bytes, tag, parts.headers.get(header::CONTENT_TYPE).cloned()));
    // Extra headers a handler set (e.g. a Link) are not cached: only plain answers are.
    let plain = parts.headers.keys().all(|k| *k == header::CONTENT_TYPE || *k == header::CONTENT_LENGTH);
    if let Some(key) = key
        && plain
    {
        cache.put(key, fresh.clone());
    }
    let mut res = answer(&fresh, if_none_match.as_deref(), gzip, if cache.enabled() { "miss" } else { "off" });
    merge_headers(res.headers_mut(), parts.headers);
    res
}

/// The response for `cached`: 304 when the client's `If-None-Match` matches;
/// the body gzipped once and kept when the client accepts gzip (the
/// compression layer leaves an answer that has a `Content-Encoding` alone).
fn answer(cached: &CachedResponse, if_none_match: Option<&str>, gzip: bool, source: &'static str) -> Response {
    let not_modified = if_none_match.is_some_and(|h| matches(h, cached.etag.to_str().unwrap_or_default()));
    let mut res = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let packed = if gzip { cached.gzipped() } else { None };
        let mut r = Response::new(Body::from(packed.unwrap_or(&cached.body).clone()));
        if packed.is_some() {
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if let Some(ct) = &cached.content_type {
            r.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
        }
        r
    };
    let headers = res.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(header::ETAG, cached.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    headers.insert(X_CACHE, HeaderValue::from_static(source));
    res
}

/// Copies the handler's other headers (not the body's length and type, already
/// set); its `Vary` is added to ours.
fn merge_headers(into: &mut HeaderMap, from: HeaderMap) {
    for (name, value) in from.iter() {
        if *name == header::VARY {
            // One `Vary` listing both: ours (accept-encoding) and the handler's.
            let joined = match into.get(header::VARY).and_then(|v| v.to_str().ok()) {
                Some(ours) => format!("{ours}, {}", value.to_str().unwrap_or_default()),
                None => value.to_str().unwrap_or_default().to_string(),
            };
            if let Ok(joined) = HeaderValue::from_str(&joined) {
                into.insert(header::VARY, joined);
            }
        } else if *name != header::CONTENT_LENGTH && *name != header::CONTENT_TYPE && !into.contains_key(name) {
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

/// Whether `Accept-Encoding` allows gzip (listed, or `*`, with a q-value above 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let q = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(1.0, |q| q.parse::<f32>().unwrap_or(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
        },
    )
}

/// `If-None-Match` uses weak comparison (RFC 9110 §13.1.2): `W/` is ignored.
fn matches(header: &str, tag: &str) -> bool {
    header.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

#[cfg(test)]
mod tests {
    #[test]
    fn gzip_is_accepted_unless_refused_by_a_zero_q() {
        use axum::http::{HeaderMap, HeaderValue, header};
        let accepts = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            super::accepts_gzip(&h)
        };
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, gzip;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br, identity"));
        assert!(!super::accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn a_cached_body_is_gzipped_once_and_unpacks_to_itself() {
        use std::io::Read;
        let body = axum::body::Bytes::from("<p>Cessna 172, landing, VMC</p>\n".repeat(200));
        let cached = super::CachedResponse::new(
            body.clone(),
            axum::http::HeaderValue::from_static("\"t\""),
            Some(axum::http::HeaderValue::from_static("text/html; charset=utf-8")),
        );
        let packed = cached.gzipped().expect("a large text body is gzipped").clone();
        assert!(packed.len() < body.len() / 10);
        assert!(std::ptr::eq(cached.gzipped().unwrap(), cached.gzipped().unwrap()), "made once");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..]).read_to_end(&mut unpacked).unwrap();
        assert_eq!(unpacked, body);
        let small = super::CachedResponse::new(axum::body::Bytes::from_static(b"{}"), cached.etag.clone(), None);
        assert!(small.gzipped().is_none());
    }

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
