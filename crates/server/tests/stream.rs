//! The live change feed over HTTP, end to end against the real server on a
//! random port: Server-Sent Events and WebSocket delivery in commit order,
//! resume after a disconnect with nothing missed or repeated, filters,
//! tickets, refusals, the per-account limit and a slow consumer dropped while
//! another client keeps receiving. On SQLite, and on PostgreSQL where cheap.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ntsb_auth::Role;
use ntsb_feed::{Feed, FeedConfig};
use ntsb_model::SourceKind;
use ntsb_model::records::{EventRecord, Record, SourcedRecord};
use ntsb_search::SearchIndex;
use ntsb_server::{AppState, Live, LiveOptions, ServerOptions};
use ntsb_store::postgres::{PostgresConfig, PostgresStore};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Backend, LoadSource, Store};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Generous bound on any wait: only reached when the server fails to act.
const PATIENCE: Duration = Duration::from_secs(30);

// ----- the server -----------------------------------------------------------------

struct Server {
    addr: SocketAddr,
    store: Arc<dyn Backend>,
    /// An API key of a `free` account, and of a second one.
    key: String,
    other_key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dirs: tempfile::TempDir,
    _schema: Option<Schema>,
}

/// A PostgreSQL schema of one test run, dropped at the end.
struct Schema {
    store: Arc<PostgresStore>,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (store, name) = (self.store.clone(), self.name.clone());
        // The client is blocking: off the runtime's threads.
        let _ = std::thread::spawn(move || {
            store.with_connection(|c| Ok(c.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))?))
        })
        .join();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// PostgreSQL stores of this test binary, never dropped (see [`open`]).
static KEEP_POSTGRES: std::sync::Mutex<Vec<Arc<dyn Backend>>> = std::sync::Mutex::new(Vec::new());

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Db {
    Sqlite,
    Postgres,
}

/// Opens a fresh store (`None`: PostgreSQL is not configured outside CI).
fn open(db: Db, dir: &std::path::Path, test: &str) -> Option<(Arc<dyn Backend>, Option<Schema>)> {
    match db {
        Db::Sqlite => {
            let store = SqliteStore::open(&dir.join("ntsb.sqlite")).expect("open");
            store.migrate().expect("migrate");
            let store: Arc<dyn Backend> = Arc::new(store);
            Some((store, None))
        }
        Db::Postgres => {
            let url = ntsb_test_support::postgres_url(test)?;
            let name = format!("server_stream_{}_{}", std::process::id(), test.len());
            let mut config = PostgresConfig::new(&url);
            config.schema = Some(name.clone());
            let store = std::thread::spawn(move || {
                let store = Arc::new(PostgresStore::connect(config).expect("connect"));
                let drop = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
                store.with_connection(|c| Ok(c.batch_execute(&drop)?)).expect("drop");
                store.migrate().expect("migrate");
                (store, name)
            })
            .join()
            .unwrap();
            let schema = Schema { store: store.0.clone(), name: store.1 };
            let store: Arc<dyn Backend> = store.0;
            // The blocking client panics when its last handle is dropped on a
            // runtime thread (the server task's state is dropped there at the
            // end of a test): one handle stays here until the process exits.
            KEEP_POSTGRES.lock().unwrap().push(store.clone());
            Some((store, Some(schema)))
        }
    }
}

async fn start(db: Db, test: &str, config: FeedConfig, options: LiveOptions) -> Option<Server> {
    let dirs = tempfile::tempdir().unwrap();
    let (store, schema) = open(db, dirs.path(), test)?;
    let index = Arc::new(SearchIndex::open_or_create(&dirs.path().join("index")).unwrap());
    let config = FeedConfig { poll: Duration::from_millis(20), ..config };
    let feed = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || Feed::new(store.clone(), store, config)).await.unwrap().expect("feed")
    };
    feed.start();
    let state = AppState::from_backend(store.clone(), index).with_live(Live::new(feed, options));
    let (state, _admin) = support::authenticated(state, store.clone());
    let auth = state.auth.clone().unwrap();
    let key = support::key_for(&auth, "reader@example.org", Role::Free);
    let other_key = support::key_for(&auth, "other@example.org", Role::Free);
    let listener = ntsb_server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        ntsb_server::serve_on(listener, state, ServerOptions::default(), async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Some(Server { addr, store, key, other_key, stop: Some(stop), _dirs: dirs, _schema: schema })
}

fn event(ev_id: &str, state: &str) -> Record {
    Record::Event(EventRecord {
        ev_id: Some(ev_id.into()),
        state: Some(state.into()),
        event_date: Some("2020-05-01".into()),
        ..Default::default()
    })
}

fn ev_id(n: usize) -> String {
    format!("20200101X{n:05}")
}

/// Writes records as one load through the store (off the runtime: the
/// PostgreSQL client blocks).
async fn write(store: &Arc<dyn Backend>, name: &str, records: Vec<Record>) {
    let (store, name) = (store.clone(), name.to_string());
    tokio::task::spawn_blocking(move || {
        let source = LoadSource { path: name.clone(), format: "test".into(), checksum: name.clone(), bytes: 1 };
        let load = store.begin_load(&source).expect("begin");
        let sourced = records.into_iter().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 2, record });
        store.write_batch(load, SourceKind::Avall, &name, sourced.collect()).expect("write");
    })
    .await
    .unwrap();
}

// ----- a minimal HTTP/1.1 client ----------------------------------------------------

/// One request with `Connection: close`; the status and the whole (unchunked) body.
async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head(method, path, headers).as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut out)).await.expect("an answer").unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn head(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut h = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

async fn ticket(server: &Server, key: &str) -> String {
    let (status, body) = request(server.addr, "POST", "/api/v1/stream/tickets", &[("X-API-Key", key)]).await;
    assert_eq!(status, 201, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v["ticket"].as_str().expect("a ticket").to_string()
}

async fn metric(server: &Server, line_start: &str) -> f64 {
    let (status, body) = request(server.addr, "GET", "/metrics", &[]).await;
    assert_eq!(status, 200);
    body.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in /metrics"))
}

/// One Server-Sent Event.
#[derive(Debug, Default)]
struct Sse {
    id: Option<u64>,
    event: Option<String>,
    data: String,
}

/// A Server-Sent Events stream read off a raw socket (the body is chunked).
struct SseClient {
    stream: TcpStream,
    raw: Vec<u8>,
    text: String,
}

impl SseClient {
    /// Opens the stream; `Err((status, body))` when refused.
    async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<SseClient, (u16, String)> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(head("GET", path, headers).as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        let at = loop {
            if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await.expect("a head").unwrap();
            assert!(n > 0, "closed before the head");
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..at]).into_owned();
        let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let rest = raw[at + 4..].to_vec();
        if status != 200 {
            let mut body = rest;
            let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut body)).await;
            return Err((status, String::from_utf8_lossy(&body).into_owned()));
        }
        assert!(head.to_ascii_lowercase().contains("content-type: text/event-stream"), "{head}");
        Ok(SseClient { stream, raw: rest, text: String::new() })
    }

    /// Moves complete chunks from `raw` to `text`; false at the last chunk.
    fn dechunk(&mut self) -> bool {
        loop {
            let Some(eol) = self.raw.windows(2).position(|w| w == b"\r\n") else { return true };
            let size = usize::from_str_radix(String::from_utf8_lossy(&self.raw[..eol]).trim(), 16).expect("chunk size");
            if size == 0 {
                return false;
            }
            if self.raw.len() < eol + 2 + size + 2 {
                return true;
            }
            self.text.push_str(&String::from_utf8_lossy(&self.raw[eol + 2..eol + 2 + size]));
            self.raw.drain(..eol + 2 + size + 2);
        }
    }

    /// The next event (comments skipped); `None` when the stream ended.
    async fn next(&mut self) -> Option<Sse> {
        let mut buf = [0u8; 16384];
        loop {
            while let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut event = Sse::default();
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().parse().ok();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event.event = Some(v.trim().to_string());
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return Some(event);
                }
            }
            if !self.dechunk() {
                return None;
            }
            if self.text.contains("\n\n") {
                continue;
            }
            let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut buf)).await.expect("an event in time").ok()?;
            if n == 0 {
                return None;
            }
            self.raw.extend_from_slice(&buf[..n]);
        }
    }

    /// The next `n` changes as (position, message).
    async fn changes(&mut self, n: usize) -> Vec<(u64, Value)> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let e = self.next().await.expect("the stream stays open");
            assert_eq!(e.event, None, "a change, not {e:?}");
            let v: Value = serde_json::from_str(&e.data).expect("json data");
            assert_eq!(v["seq"].as_u64(), e.id, "id: is the position");
            out.push((e.id.expect("an id"), v));
        }
        out
    }
}

fn ws_url(server: &Server, query: &str) -> String {
    format!("ws://{}/api/v1/stream?{query}", server.addr)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn ws_with_key(server: &Server, query: &str, key: &str) -> Ws {
    let mut req = ws_url(server, query).into_client_request().unwrap();
    req.headers_mut().insert("x-api-key", key.parse().unwrap());
    tokio_tungstenite::connect_async(req).await.expect("upgraded").0
}

/// The next text message as JSON (pings are answered by the client itself).
async fn ws_next(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await.expect("a message in time") {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).expect("json"),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a change, got {other:?}"),
        }
    }
}

// ----- the tests ------------------------------------------------------------------

async fn sse_delivers_in_order_and_resumes_without_gaps_or_repeats(db: Db) {
    let Some(server) = start(db, "sse_resume", FeedConfig::default(), LiveOptions::default()).await else {
        return;
    };
    let key = server.key.clone();
    let auth = [("X-API-Key", key.as_str())];
    let mut sse = SseClient::open(server.addr, "/api/v1/stream/events", &auth).await.expect("open");
    write(&server.store, "a", (0..5).map(|n| event(&ev_id(n), "NY")).collect()).await;
    let first = sse.changes(3).await;
    assert!(first.windows(2).all(|w| w[0].0 < w[1].0), "commit order");
    assert_eq!(first[0].1["kind"], "created");
    assert_eq!(first[0].1["event"]["ev_id"], ev_id(0));
    // Disconnect after three, while more changes are committed.
    drop(sse);
    let last = first[2].0;
    write(&server.store, "b", (5..8).map(|n| event(&ev_id(n), "NY")).collect()).await;
    write(&server.store, "c", vec![event(&ev_id(1), "NJ")]).await;
    // Resume with Last-Event-ID (what an EventSource sends): the rest, once each.
    let last_id = last.to_string();
    let resumed = [("X-API-Key", key.as_str()), ("Last-Event-ID", last_id.as_str())];
    let mut sse = SseClient::open(server.addr, "/api/v1/stream/events", &resumed).await.expect("resume");
    let rest = sse.changes(6).await;
    let mut seqs: Vec<u64> = first.iter().chain(&rest).map(|(s, _)| *s).collect();
    let all = seqs.clone();
    seqs.dedup();
    assert_eq!(seqs, all, "nothing repeated");
    assert!(all.windows(2).all(|w| w[1] == w[0] + 1), "nothing missed: {all:?}");
    let update = &rest[5].1;
    assert_eq!((update["kind"].as_str(), update["ev_id"].as_str()), (Some("updated"), Some(ev_id(1).as_str())));
    assert_eq!(update["fields"], serde_json::json!(["events.state"]));
    // `since` does the same.
    let path = format!("/api/v1/stream/events?since={}", all[6]);
    let mut sse = SseClient::open(server.addr, &path, &auth).await.expect("since");
    let again = sse.changes(2).await;
    assert_eq!(again.iter().map(|(s, _)| *s).collect::<Vec<_>>(), all[7..9].to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_delivers_in_order_and_resumes_without_gaps_or_repeats_on_sqlite() {
    sse_delivers_in_order_and_resumes_without_gaps_or_repeats(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_delivers_in_order_and_resumes_without_gaps_or_repeats_on_postgres() {
    sse_delivers_in_order_and_resumes_without_gaps_or_repeats(Db::Postgres).await;
}

async fn filters_are_the_event_filters(db: Db) {
    let Some(server) = start(db, "filters", FeedConfig::default(), LiveOptions::default()).await else { return };
    let auth = [("X-API-Key", server.key.as_str())];
    let mut texas = SseClient::open(server.addr, "/api/v1/stream/events?state=tx", &auth).await.expect("open");
    let mut ws = ws_with_key(&server, "state=CA", &server.key).await;
    write(&server.store, "a", vec![event(&ev_id(1), "NY"), event(&ev_id(2), "TX"), event(&ev_id(3), "CA")]).await;
    write(&server.store, "b", vec![event(&ev_id(4), "TX")]).await;
    let got = texas.changes(2).await;
    let ids: Vec<&str> = got.iter().map(|(_, v)| v["ev_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ev_id(2), ev_id(4)]);
    let ca = ws_next(&mut ws).await;
    assert_eq!((ca["ev_id"].as_str(), ca["event"]["state"].as_str()), (Some(ev_id(3).as_str()), Some("CA")));
    // The same parser as /api/v1/events: a bad value names its parameter.
    let (status, body) = request(server.addr, "GET", "/api/v1/stream/events?state=Texas", &auth).await;
    assert_eq!(status, 400, "{body}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((p["code"].as_str(), p["parameter"].as_str()), (Some("invalid_parameter"), Some("state")));
    let (status, _) = request(server.addr, "GET", "/api/v1/stream/events?colour=red", &auth).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_are_the_event_filters_on_sqlite() {
    filters_are_the_event_filters(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_are_the_event_filters_on_postgres() {
    filters_are_the_event_filters(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_round_trip_with_a_single_use_ticket() {
    let server = start(Db::Sqlite, "ws", FeedConfig::default(), LiveOptions::default()).await.unwrap();
    let t = ticket(&server, &server.key).await;
    let (mut ws, res) =
        tokio_tungstenite::connect_async(ws_url(&server, &format!("ticket={t}"))).await.expect("upgrade");
    assert_eq!(res.status(), 101);
    write(&server.store, "a", vec![event(&ev_id(1), "WA"), event(&ev_id(2), "OR")]).await;
    let (a, b) = (ws_next(&mut ws).await, ws_next(&mut ws).await);
    assert_eq!((a["ev_id"].as_str(), b["ev_id"].as_str()), (Some(ev_id(1).as_str()), Some(ev_id(2).as_str())));
    assert!(a["seq"].as_u64() < b["seq"].as_u64());
    // The client may talk (a ping); the server keeps streaming.
    ws.send(Message::Ping(Default::default())).await.unwrap();
    write(&server.store, "b", vec![event(&ev_id(3), "ID")]).await;
    assert_eq!(ws_next(&mut ws).await["ev_id"], ev_id(3));
    ws.close(None).await.unwrap();
    // A used ticket opens nothing, on either transport.
    let err = tokio_tungstenite::connect_async(ws_url(&server, &format!("ticket={t}"))).await.expect_err("refused");
    let tokio_tungstenite::tungstenite::Error::Http(res) = err else { panic!("{err}") };
    assert_eq!(res.status(), 401);
    let path = format!("/api/v1/stream/events?ticket={t}");
    let (status, body) = SseClient::open(server.addr, &path, &[]).await.err().expect("refused");
    assert_eq!(status, 401, "{body}");
    // A fresh ticket works for SSE too.
    let path = format!("/api/v1/stream/events?ticket={}", ticket(&server, &server.key).await);
    assert!(SseClient::open(server.addr, &path, &[]).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_ticket_is_refused() {
    let options = LiveOptions { ticket_ttl: Duration::from_millis(1), ..LiveOptions::default() };
    let server = start(Db::Sqlite, "expiry", FeedConfig::default(), options).await.unwrap();
    let t = ticket(&server, &server.key).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, body) = request(server.addr, "GET", &format!("/api/v1/stream/events?ticket={t}"), &[]).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("unauthenticated"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_are_refused_with_a_problem() {
    let server = start(Db::Sqlite, "anonymous", FeedConfig::default(), LiveOptions::default()).await.unwrap();
    for (method, path) in
        [("GET", "/api/v1/stream/events"), ("GET", "/api/v1/stream"), ("POST", "/api/v1/stream/tickets")]
    {
        let (status, body) = request(server.addr, method, path, &[]).await;
        assert_eq!(status, 401, "{path}: {body}");
        let p: Value = serde_json::from_str(&body).expect("a problem");
        assert_eq!(p["code"], "unauthenticated", "{path}");
    }
    let (status, _) = request(server.addr, "GET", "/api/v1/stream/events?ticket=made-up", &[]).await;
    assert_eq!(status, 401);
    let err = tokio_tungstenite::connect_async(ws_url(&server, "")).await.expect_err("refused");
    let tokio_tungstenite::tungstenite::Error::Http(res) = err else { panic!("{err}") };
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holds_at_most_its_limit_of_streams() {
    let config = FeedConfig { max_per_user: 2, ..FeedConfig::default() };
    let server = start(Db::Sqlite, "limit", config, LiveOptions::default()).await.unwrap();
    let auth = [("X-API-Key", server.key.as_str())];
    let first = SseClient::open(server.addr, "/api/v1/stream/events", &auth).await.expect("first");
    let _second = ws_with_key(&server, "", &server.key).await;
    let (status, body) = SseClient::open(server.addr, "/api/v1/stream/events", &auth).await.err().expect("third");
    assert_eq!(status, 429, "{body}");
    let p: Value = serde_json::from_str(&body).expect("a problem");
    assert_eq!(p["code"], "too_many_streams");
    // Over the limit a WebSocket is refused before the upgrade, with the same problem.
    let mut req = ws_url(&server, "").into_client_request().unwrap();
    req.headers_mut().insert("x-api-key", server.key.parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.expect_err("refused");
    let tokio_tungstenite::tungstenite::Error::Http(res) = err else { panic!("{err}") };
    assert_eq!(res.status(), 429);
    // Another account is not affected.
    let other = [("X-API-Key", server.other_key.as_str())];
    assert!(SseClient::open(server.addr, "/api/v1/stream/events", &other).await.is_ok());
    // A closed stream frees its slot.
    drop(first);
    let mut reopened = None;
    for i in 0..100 {
        if let Ok(s) = SseClient::open(server.addr, "/api/v1/stream/events", &auth).await {
            reopened = Some(s);
            break;
        }
        // The server notices the closed socket at its next write or heartbeat.
        let state = if i % 2 == 0 { "AK" } else { "HI" };
        write(&server.store, &format!("poke {i}"), vec![event(&ev_id(9), state)]).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "the slot of a closed stream is freed");
    assert!(metric(&server, "ntsb_feed_connections_refused_total").await >= 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_dropped_while_another_keeps_receiving() {
    let config = FeedConfig { buffer: 256, ..FeedConfig::default() };
    let server = start(Db::Sqlite, "slow", config, LiveOptions::default()).await.unwrap();
    // The slow client: a small receive buffer, and it does not read for now.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let mut req = ws_url(&server, "").into_client_request().unwrap();
    req.headers_mut().insert("x-api-key", server.key.parse().unwrap());
    let (mut slow, _) = tokio_tungstenite::client_async(req, tcp).await.expect("upgrade");
    let auth = [("X-API-Key", server.other_key.as_str())];
    let mut fast = SseClient::open(server.addr, "/api/v1/stream/events", &auth).await.expect("fast");
    // Commit changes in bursts smaller than the ring (256), until the slow
    // client's pipeline (socket buffers, the connection's small queue) has
    // stalled well past the ring.
    let mut written = 0;
    for round in 0..800 {
        let batch: Vec<Record> = (0..100).map(|n| event(&ev_id(round * 100 + n), "NY")).collect();
        write(&server.store, &format!("round {round}"), batch).await;
        written += 100;
        let got = fast.changes(100).await;
        assert_eq!(got.last().unwrap().1["ev_id"], ev_id(written - 1), "the fast client gets everything, in order");
        let sent = metric(&server, "ntsb_feed_messages_sent_total{transport=\"websocket\"}").await as usize;
        if written > sent + 600 {
            break;
        }
    }
    // The slow client reads now: a gapless prefix, then the close with the reason.
    let mut seqs = Vec::new();
    let close = loop {
        match tokio::time::timeout(PATIENCE, slow.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(t))) => {
                seqs.push(serde_json::from_str::<Value>(t.as_str()).unwrap()["seq"].as_u64().unwrap())
            }
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame"),
            Some(Ok(_)) => continue,
            other => panic!("expected changes then a close, got {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::from(4008), "{close:?}");
    let reason = close.reason.as_str();
    assert!(reason.contains("slow consumer"), "{reason}");
    let resume = format!("since={}", seqs.last().copied().unwrap_or(0));
    assert!(reason.contains(&resume), "the reason names where to resume: {reason}");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "what it got has no gap");
    assert!(seqs.len() < written, "it was dropped before the end");
    assert_eq!(metric(&server, "ntsb_feed_subscribers_dropped_total{reason=\"slow_consumer\"}").await, 1.0);
    // The fast client goes on.
    write(&server.store, "after", vec![event("20210101X00001", "CA")]).await;
    assert_eq!(fast.changes(1).await[0].1["ev_id"], "20210101X00001");
    assert!(metric(&server, "ntsb_feed_connections{transport=\"sse\"}").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_routes_are_documented() {
    let doc = serde_json::to_value(ntsb_server::openapi()).unwrap();
    for (path, method) in
        [("/api/v1/stream", "get"), ("/api/v1/stream/events", "get"), ("/api/v1/stream/tickets", "post")]
    {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{path} {method} is in the OpenAPI document");
        assert!(op["security"].is_array(), "{path} needs credentials");
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/stream/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["state", "highest_injury", "since", "ticket", "Last-Event-ID"] {
        assert!(params.contains(&name), "{name} in {params:?}");
    }
}
