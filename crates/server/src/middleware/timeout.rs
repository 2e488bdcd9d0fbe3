//! Abandons requests that take longer than the configured time, with a problem
//! document rather than a dropped connection. Streaming bodies (exports) are not
//! cut: the limit covers the time to the response head.
//!
//! Whose fault the delay is decides the answer: when the request's own body
//! had not fully arrived by then, the client was too slow — 408 `body_timeout`
//! (and the connection is closed); otherwise we were — 503 `timeout`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::error::ApiError;

pub(crate) async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let received = Arc::new(AtomicBool::new(false));
    let req = req.map(|body| {
        if body.is_end_stream() {
            received.store(true, Ordering::Relaxed);
            body
        } else {
            Body::new(Tracked { inner: body, received: received.clone() })
        }
    });
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) if !received.load(Ordering::Relaxed) => ApiError::BodyTimeout.into_response(),
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// A request body that notes when its last byte has arrived.
struct Tracked {
    inner: Body,
    received: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) || self.inner.is_end_stream() {
            // Ended, or failed (too large, connection gone): no longer waiting for the client.
            self.received.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
