//! The live change feed over HTTP: `GET /api/v1/stream/events` (Server-Sent
//! Events), `GET /api/v1/stream` (WebSocket) and `POST /api/v1/stream/tickets`.
//!
//! Both streams take the event filters of `GET /api/v1/events` (parsed by the
//! same code) and a starting position (`since`, or `Last-Event-ID` when an
//! `EventSource` reconnects), subscribe before answering — so a refusal (no
//! credentials, the per-account limit) is a problem document, before any
//! upgrade — and then hand the subscription to a pump task. The pump reads the
//! feed and passes each change on through a small channel; when the client
//! stops reading, the channel fills, the pump stops reading the feed, and the
//! feed closes it as a slow consumer once it falls its ring behind: memory
//! stays bounded and nobody else waits.
//!
//! The streams answer their head at once, so the request time-out (which
//! covers the time to the head) never cuts them; they take no blocking-work
//! slot (the feed reads the store on its own).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ntsb_feed::{Closed, FeedChange, Subscription};
use ntsb_model::query::EventFilter;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::IntoParams;

use crate::access::AuthUser;
use crate::error::{ApiError, Problem};
use crate::fields::Bounded;
use crate::live::{Connection, Live, Transport};
use crate::params::values::FilterText;
use crate::params::{FilterQuery, NoParams, Query};
use crate::state::AppState;

/// Parameters of the streams beyond the filters (which take no full text `q`).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Start after this position (default: from now).
    #[param(inline)]
    since: Option<Bounded<0, { i64::MAX }>>,
    /// A stream ticket instead of a credential header (read by the access layer).
    #[param(inline)]
    #[serde(rename = "ticket")]
    _ticket: Option<FilterText>,
}

/// Changes waiting between the pump and the connection.
const PUMP_DEPTH: usize = 32;

/// WebSocket close code for a slow consumer (application-defined range).
pub(crate) const CLOSE_SLOW_CONSUMER: u16 = 4008;

/// What a stream ends with: the SSE `close` event's data.
#[derive(Debug, Serialize)]
struct Ending {
    /// `slow_consumer`, `shutdown` or `failed`.
    code: &'static str,
    /// The sentence for the client.
    detail: String,
    /// The last position delivered: reconnect with `since` set to it.
    position: u64,
}

fn ending(closed: &Closed, position: u64) -> Ending {
    let code = match closed {
        Closed::SlowConsumer { .. } => "slow_consumer",
        Closed::Stopped => "shutdown",
        Closed::Failed(_) => "failed",
    };
    let detail = match closed {
        // The store's words stay in the log.
        Closed::Failed(_) => "the live feed failed; reconnect with since to resume".to_string(),
        other => other.reason(),
    };
    Ending { code, detail, position }
}

fn live_of(state: &AppState) -> Result<Arc<Live>, ApiError> {
    state.live.clone().ok_or_else(|| ApiError::Unavailable("the live feed is not running on this server".into()))
}

/// The filter and starting position of a stream request. `Last-Event-ID`
/// (sent by a reconnecting `EventSource`) wins over `since`.
fn stream_query(
    Query(filter, stream, _): Query<FilterQuery, StreamQuery>,
    headers: &HeaderMap,
) -> Result<(EventFilter, Option<u64>), ApiError> {
    let filter = filter.to_filter()?;
    let resumed = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()).ok_or_else(|| {
            ApiError::invalid("Last-Event-ID", "expected the id (a position) of the last event received")
        })?),
    };
    let since = match resumed {
        Some(at) => Some(at),
        None => stream.since.map(|n| n.get() as u64),
    };
    Ok((filter, since))
}

async fn subscribe(live: &Live, user: i64, filter: EventFilter, since: Option<u64>) -> Result<Subscription, ApiError> {
    use ntsb_feed::Error as E;
    live.feed.subscribe(user, filter, since).await.map_err(|e| match e {
        e @ E::TooManyForUser { .. } => {
            ApiError::TooManyRequests { code: "too_many_streams", detail: e.to_string(), retry_after: 5, limit: None }
        }
        e @ E::TooMany { .. } => ApiError::Unavailable(e.to_string()),
        e @ E::SinceAhead { .. } => ApiError::invalid("since", e.to_string()),
        E::Store(e) => ApiError::from(e),
        E::Stopped => ApiError::Unavailable("the live feed is stopping; reconnect shortly".into()),
    })
}

/// What the pump hands the connection.
enum Pumped {
    Change(Arc<FeedChange>),
    /// Why it ended, and the last position the subscription gave (every change
    /// up to it is ahead of this in the channel).
    End(Closed, u64),
}

/// Reads the subscription into `tx` until the connection goes away (the
/// channel closes) or the feed ends the subscription.
async fn pump(mut sub: Subscription, tx: mpsc::Sender<Pumped>) {
    loop {
        let next = tokio::select! {
            next = sub.next() => next,
            () = tx.closed() => return,
        };
        let item = match next {
            Ok(change) => Pumped::Change(change),
            Err(closed) => Pumped::End(closed, sub.position()),
        };
        let end = matches!(item, Pumped::End(..));
        if tx.send(item).await.is_err() || end {
            return;
        }
    }
}

#[utoipa::path(get, path = "/api/v1/stream/events", tag = "live", summary = "Live changes (Server-Sent Events)",
    description = "Every committed change to an event (created, updated with the changed fields, deleted) \
        matching the filters, as Server-Sent Events: `id:` is the change's position, `data:` the change as \
        JSON (`seq`, `kind`, `ev_id`, `ntsb_no`, `fields`, `changed_at`, `event`: the event as stored now, null \
        when deleted). Deletions reach every filter. Resume after a disconnect with `Last-Event-ID` (an \
        `EventSource` sends it) or `since`: every change after that position, nothing repeated. A comment \
        (`: heartbeat`) is sent when nothing else was. A client that falls too far behind gets an `event: close` \
        whose data is `{\"code\":\"slow_consumer\",\"detail\",\"position\"}` and the stream ends; reconnect with \
        `since=position`. Needs credentials: a header, or `ticket` from `POST /api/v1/stream/tickets` (an \
        `EventSource` cannot send headers). `q` is not accepted.",
    params(FilterQuery, StreamQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this position (wins over since)")),
    responses(
        (status = 200, description = "The stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "A parameter is invalid (the problem names it)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This account holds its limit of live connections (`too_many_streams`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The feed is not running or the server is full", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn events(
    State(state): State<AppState>,
    AuthUser(who): AuthUser,
    headers: HeaderMap,
    query: Query<FilterQuery, StreamQuery>,
) -> Result<Response, ApiError> {
    let live = live_of(&state)?;
    let (filter, since) = stream_query(query, &headers)?;
    let sub = subscribe(&live, who.user.0, filter, since).await?;
    let (tx, rx) = mpsc::channel(PUMP_DEPTH);
    tokio::spawn(pump(sub, tx));
    let stream = SseStream { rx, conn: live.connect(Transport::Sse), done: false };
    let keep_alive = KeepAlive::new().interval(live.options.heartbeat).text("heartbeat");
    Ok(Sse::new(stream).keep_alive(keep_alive).into_response())
}

/// The SSE body: changes from the pump as events, then the close event.
struct SseStream {
    rx: mpsc::Receiver<Pumped>,
    conn: Connection,
    done: bool,
}

impl futures_core::Stream for SseStream {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Pumped::Change(change))) => {
                self.conn.sent(change.seq);
                let event = Event::default().id(change.seq.to_string()).data(&*change.json);
                Poll::Ready(Some(Ok(event)))
            }
            Poll::Ready(Some(Pumped::End(closed, position))) => {
                self.done = true;
                self.conn.dropped(&closed);
                let data = serde_json::to_string(&ending(&closed, position)).unwrap_or_default();
                Poll::Ready(Some(Ok(Event::default().event("close").data(data))))
            }
        }
    }
}

#[utoipa::path(get, path = "/api/v1/stream", tag = "live", summary = "Live changes (WebSocket)",
    description = "The changes of `GET /api/v1/stream/events` over a WebSocket: one JSON text message per \
        change (the same object), with the same filters, `since` and credentials (`ticket` for browsers, \
        which cannot set headers on a WebSocket). The server pings when idle. It closes with code 4008 and a \
        reason naming the position to resume from when the client falls too far behind (slow consumer), \
        1001 on shutdown and 1011 when the feed fails. Refusals (credentials, limits, parameters) are \
        problem documents before the upgrade.",
    params(FilterQuery, StreamQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "A parameter is invalid, or the request is not a WebSocket upgrade", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This account holds its limit of live connections (`too_many_streams`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The feed is not running or the server is full", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn websocket(
    State(state): State<AppState>,
    AuthUser(who): AuthUser,
    query: Query<FilterQuery, StreamQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let live = live_of(&state)?;
    let (filter, since) = stream_query(query, &HeaderMap::new())?;
    let upgrade = upgrade.map_err(|e| ApiError::invalid("Upgrade", format!("not a WebSocket request: {e}")))?;
    let sub = subscribe(&live, who.user.0, filter, since).await?;
    let (tx, rx) = mpsc::channel(PUMP_DEPTH);
    tokio::spawn(pump(sub, tx));
    let conn = live.connect(Transport::WebSocket);
    let heartbeat = live.options.heartbeat;
    Ok(upgrade.on_upgrade(move |socket| serve_socket(socket, rx, conn, heartbeat)).into_response())
}

/// Longest wait for one message to go out before the client counts as gone.
const SEND_PATIENCE: Duration = Duration::from_secs(60);

async fn serve_socket(mut socket: WebSocket, mut rx: mpsc::Receiver<Pumped>, conn: Connection, heartbeat: Duration) {
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let outgoing = tokio::select! {
            pumped = rx.recv() => match pumped {
                Some(Pumped::Change(change)) => {
                    conn.sent(change.seq);
                    Message::Text(change.json.as_ref().into())
                }
                Some(Pumped::End(closed, position)) => {
                    conn.dropped(&closed);
                    let code = match closed {
                        Closed::SlowConsumer { .. } => CLOSE_SLOW_CONSUMER,
                        Closed::Stopped => 1001,
                        Closed::Failed(_) => 1011,
                    };
                    let reason = ending(&closed, position).detail;
                    let frame = CloseFrame { code, reason: reason.into() };
                    let _ = tokio::time::timeout(SEND_PATIENCE, socket.send(Message::Close(Some(frame)))).await;
                    return;
                }
                None => return,
            },
            _ = beat.tick() => Message::Ping(Default::default()),
            incoming = socket.recv() => match incoming {
                // The client says nothing we act on; a close or an error ends it.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
        };
        match tokio::time::timeout(SEND_PATIENCE, socket.send(outgoing)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

/// A new stream ticket.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TicketBody {
    /// Pass as `ticket` to a stream endpoint, once, before it expires.
    ticket: String,
    /// Seconds it stays valid.
    expires_in: u64,
}

#[utoipa::path(post, path = "/api/v1/stream/tickets", tag = "live", summary = "A ticket to open a stream",
    description = "A short-lived, single-use ticket standing for the caller for one stream connection: pass it \
        as `?ticket=` to `GET /api/v1/stream` or `GET /api/v1/stream/events` from a browser, which cannot set \
        credential headers there. No body.",
    responses(
        (status = 201, description = "The ticket", body = TicketBody),
        (status = 503, description = "The feed is not running", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn ticket(
    State(state): State<AppState>,
    AuthUser(who): AuthUser,
    _: Query<NoParams>,
) -> Result<Response, ApiError> {
    let live = live_of(&state)?;
    let ticket = live.issue_ticket(&who)?;
    let body = TicketBody { ticket, expires_in: live.options.ticket_ttl.as_secs().max(1) };
    Ok((axum::http::StatusCode::CREATED, Json(body)).into_response())
}
