//! Findings of the outside security review (issue 24, item 6), each driven
//! against the real router over a real SQLite store (in process with
//! `oneshot`), or against a started server over real TCP sockets where the
//! finding is about connections.

mod support;

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use ntsb_auth::{Auth, Role};
use ntsb_search::SearchIndex;
use ntsb_server::AppState;
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Queries, Store};
use serde_json::Value;
use tower::ServiceExt;

const PW: &str = "blue-Heron-7-ladder";

struct Env {
    _dir: tempfile::TempDir,
    state: AppState,
    auth: Auth,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
    store.migrate().unwrap();
    let index = Arc::new(SearchIndex::open_or_create(&dir.path().join("index")).unwrap());
    let auth = support::engine(store.clone());
    let state = AppState::from_sqlite(store, index).with_auth(auth.clone());
    Env { _dir: dir, state, auth }
}

/// Runs `f` on a runtime of its own thread (engine calls from a sync helper).
fn on_thread<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap().block_on(f)
    })
    .join()
    .unwrap()
}

/// An access token of a new account with `role`.
fn token_for(auth: &Auth, email: &str, role: Role) -> String {
    let (auth, email) = (auth.clone(), email.to_string());
    on_thread(async move {
        auth.create_user(&email, PW, role).await.unwrap();
        auth.login(&email, PW, "192.0.2.1").await.unwrap().access_token
    })
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn call(state: &AppState, method: Method, uri: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if !body.is_empty() {
        req = req.header("content-length", body.len());
    }
    let res =
        ntsb_server::router(state.clone()).oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = String::from_utf8_lossy(&to_bytes(res.into_body(), usize::MAX).await.unwrap()).into_owned();
    Answer { status, headers, body }
}

// ----- 5: JSON endpoints accept any Content-Type ------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn bodies_that_are_not_json_are_refused_with_415() {
    let e = env();
    let login = format!("{{\"email\":\"a@example.org\",\"password\":\"{PW}\"}}");
    for content_type in [
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=xyz"),
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = content_type.iter().map(|c| ("content-type", *c)).collect();
        for uri in ["/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/auth/password-reset"] {
            let a = call(&e.state, Method::POST, uri, &headers, &login).await;
            assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri} {content_type:?}: {}", a.body);
            assert_eq!(a.header("content-type"), Some("application/problem+json"));
            assert_eq!(a.json()["code"], "unsupported_media_type", "{}", a.body);
        }
    }
    // JSON (and +json) bodies reach the handler.
    for content_type in ["application/json", "application/json; charset=utf-8", "application/vnd.ntsb+json"] {
        let a = call(&e.state, Method::POST, "/api/v1/auth/login", &[("content-type", content_type)], &login).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{content_type}: {}", a.body);
    }
    // A POST without a body needs no type (logout).
    let a = call(&e.state, Method::POST, "/api/v1/auth/logout", &[], "").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
    // The document says so.
    let doc = serde_json::to_value(ntsb_server::openapi()).unwrap();
    assert!(doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["415"].is_object());
    assert!(doc["paths"]["/api/v1/ml/predict"]["post"]["responses"]["415"].is_object());
}

// ----- 6: per-user and admin answers lack Cache-Control: no-store -------------------

#[tokio::test(flavor = "multi_thread")]
async fn per_user_and_admin_answers_are_never_stored() {
    let e = env();
    let admin = support::key_for(&e.auth, "root@example.org", Role::Admin);
    let token = token_for(&e.auth, "free@example.org", Role::Free);
    let bearer = format!("Bearer {token}");
    let json = ("content-type", "application/json");
    for (method, uri, headers, body) in [
        (Method::GET, "/api/v1/auth/me", vec![("authorization", bearer.as_str())], ""),
        (Method::GET, "/api/v1/auth/api-keys", vec![("authorization", bearer.as_str())], ""),
        (Method::GET, "/api/v1/admin/users", vec![("x-api-key", admin.as_str())], ""),
        (Method::GET, "/api/v1/admin/audit", vec![("x-api-key", admin.as_str())], ""),
        (
            Method::POST,
            "/api/v1/ml/predict",
            vec![("x-api-key", admin.as_str()), json],
            "{\"model\":\"fatal\",\"features\":{}}",
        ),
        (Method::POST, "/api/v1/auth/register", vec![json], "{\"email\":\"new@example.org\",\"password\":\"x\"}"),
    ] {
        for round in 0..2 {
            let a = call(&e.state, method.clone(), uri, &headers, body).await;
            assert_eq!(a.header("cache-control"), Some("no-store"), "{method} {uri} ({}): {}", a.status, a.body);
            assert_eq!(a.header("x-cache"), None, "{uri} round {round}: never from the response cache");
            assert_eq!(a.header("etag"), None, "{uri}");
        }
    }
    // Public answers stay cacheable.
    let a = call(&e.state, Method::GET, "/api/v1/stats/summary", &[], "").await;
    assert_eq!(a.header("cache-control"), Some("public, max-age=60"), "{}", a.body);
}

// ----- 3: slow loris, connection cap, slow bodies -----------------------------------

mod sockets {
    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// Generous bound on any wait: only reached when the server fails to act.
    const PATIENCE: Duration = Duration::from_secs(30);

    pub struct Running {
        pub addr: SocketAddr,
        _env: Env,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
    }

    impl Drop for Running {
        fn drop(&mut self) {
            if let Some(stop) = self.stop.take() {
                let _ = stop.send(());
            }
        }
    }

    pub async fn start(opts: ntsb_server::ServerOptions) -> Running {
        let e = env();
        let listener = ntsb_server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = e.state.clone();
        tokio::spawn(async move {
            ntsb_server::serve_on(listener, state, opts, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Running { addr, _env: e, stop: Some(stop) }
    }

    /// Reads until the server closes the connection; `None` if it is still open after [`PATIENCE`].
    pub async fn read_to_close(s: &mut TcpStream) -> Option<String> {
        let mut out = Vec::new();
        let read = tokio::time::timeout(PATIENCE, async {
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        read.ok().map(|()| String::from_utf8_lossy(&out).into_owned())
    }

    /// One keep-alive `GET /health` on `s`; the status line.
    pub async fn health(s: &mut TcpStream) -> String {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&out).contains("\"status\"") {
            let n = tokio::time::timeout(PATIENCE, s.read(&mut buf)).await.expect("an answer").unwrap();
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&out));
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).lines().next().unwrap_or_default().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_headers_never_finish_is_closed() {
    use tokio::io::AsyncWriteExt;
    let server = sockets::start(ntsb_server::ServerOptions {
        header_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let mut loris = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    loris.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: 1").await.unwrap();
    let seen = sockets::read_to_close(&mut loris).await;
    assert!(seen.is_some(), "a connection trickling its headers stays open");
    assert!(!seen.unwrap().contains("200 OK"), "no request was served");
    // An idle keep-alive connection ends the same way.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert!(sockets::health(&mut idle).await.contains("200"));
    assert!(sockets::read_to_close(&mut idle).await.is_some(), "an idle connection stays open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_at_most_its_share_of_connections() {
    let server = sockets::start(ntsb_server::ServerOptions { max_connections_per_ip: 3, ..Default::default() }).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        assert!(sockets::health(&mut s).await.contains("200"));
        held.push(s);
    }
    let mut extra = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let answer = sockets::read_to_close(&mut extra).await.expect("refused and closed at once");
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("application/problem+json") && answer.contains("too_many_connections"), "{answer}");
    // The held connections still work; closing one frees its place.
    assert!(sockets::health(&mut held[0]).await.contains("200"));
    drop(held.pop());
    let mut served = false;
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        use tokio::io::AsyncWriteExt;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        if sockets::read_to_close(&mut s).await.is_some_and(|a| a.starts_with("HTTP/1.1 200")) {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(served, "the freed place was never given to a new connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_a_408() {
    use tokio::io::AsyncWriteExt;
    let server = sockets::start(ntsb_server::ServerOptions {
        request_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\"",
    )
    .await
    .unwrap();
    let answer = sockets::read_to_close(&mut s).await.expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"body_timeout\""), "{answer}");
}

// ----- 4: registrations per address; costly requests cost more ---------------------

#[tokio::test(flavor = "multi_thread")]
async fn registrations_are_limited_per_address() {
    let e = env();
    let json = [("content-type", "application/json")];
    for i in 0..3 {
        let body = format!("{{\"email\":\"u{i}@example.org\",\"password\":\"{PW}\"}}");
        let a = call(&e.state, Method::POST, "/api/v1/auth/register", &json, &body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
    let body = format!("{{\"email\":\"u3@example.org\",\"password\":\"{PW}\"}}");
    let a = call(&e.state, Method::POST, "/api/v1/auth/register", &json, &body).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert_eq!(a.json()["code"], "rate_limited");
    assert_eq!(a.header("retry-after"), Some("3600"));
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_cost_one_unit_per_hundred_rows_and_a_refused_one_costs_nothing() {
    use ntsb_load::{LoadOptions, Loader, NoProgress};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
    store.migrate().unwrap();
    let index = SearchIndex::open_or_create(&dir.path().join("index")).unwrap();
    let loader = Loader::new(store.as_ref(), Some(&index), LoadOptions::new(dir.path().join("rejects")));
    loader
        .load_records("demo", ntsb_model::SourceKind::Demo, ntsb_ingest::demo::generate(7, 450), &mut NoProgress)
        .unwrap();
    let rows = store.summary(&Default::default()).unwrap().events;
    assert!(rows > 400, "{rows}");
    let units = rows.div_ceil(100);
    let open = support::engine(store.clone());
    let mut config = open.config().clone();
    config.quotas.free = ntsb_auth::Tier { daily: units + 3, per_second: 0 };
    let clock = Arc::new(ntsb_auth::SystemClock);
    let auth = Auth::new(
        store.clone(),
        Arc::new(ntsb_auth::MemoryCounters::new(clock.clone())),
        clock,
        ntsb_auth::SigningSecret::ephemeral().unwrap(),
        config,
    )
    .unwrap();
    let key = support::key_for(&auth, "free@example.org", Role::Free);
    let state = AppState::from_sqlite(store, Arc::new(index)).with_auth(auth);
    let h = [("x-api-key", key.as_str())];
    let a = call(&state, Method::GET, "/api/v1/export/events.csv", &h, "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body.lines().count() as u64, rows + 1);
    assert_eq!(a.header("ratelimit-remaining"), Some("3"), "{rows} rows cost {units} units");
    let a = call(&state, Method::GET, "/api/v1/export/events.geojson", &h, "").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.body);
    assert_eq!(a.json()["code"], "quota_exceeded");
    // The refused export charged only its own request; a small one still fits.
    let a = call(&state, Method::GET, "/api/v1/export/events.csv?state=ZZ", &h, "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.header("ratelimit-remaining"), Some("1"));
}

// ----- 2: keys and password changes over HTTP ----------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_revokes_keys_unless_asked_to_keep_them() {
    let e = env();
    let token = token_for(&e.auth, "a@example.org", Role::Free);
    let bearer = format!("Bearer {token}");
    let h = [("authorization", bearer.as_str()), ("content-type", "application/json")];
    let a = call(&e.state, Method::POST, "/api/v1/auth/api-keys", &h, "{\"name\":\"laptop\"}").await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let key = a.json()["key"].as_str().unwrap().to_string();
    let bad = format!(
        "{{\"current_password\":\"{PW}\",\"new_password\":\"green-Otter-8-kettle\",\"keep_api_keys\":\"yes\"}}"
    );
    let a = call(&e.state, Method::POST, "/api/v1/auth/password", &h, &bad).await;
    assert_eq!((a.status, a.json()["parameter"].as_str()), (StatusCode::BAD_REQUEST, Some("keep_api_keys")));
    let change = format!("{{\"current_password\":\"{PW}\",\"new_password\":\"green-Otter-8-kettle\"}}");
    let a = call(&e.state, Method::POST, "/api/v1/auth/password", &h, &change).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    let a = call(&e.state, Method::GET, "/api/v1/auth/me", &[("x-api-key", key.as_str())], "").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "the key died with the old password: {}", a.body);
}

// ----- 9: validation failures, duplicate keys, framework messages -------------------

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_is_named_counted_and_never_framework_text() {
    let e = env();
    let json = [("content-type", "application/json")];
    let a = call(
        &e.state,
        Method::POST,
        "/api/v1/auth/login",
        &json,
        &format!(
            "{{\"email\":\"a@example.org\",\"password\":\"x\",\"email\":\"root@example.org\",\"password\":\"{PW}\"}}"
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    let p = a.json();
    assert_eq!((p["code"].as_str(), p["parameter"].as_str()), (Some("invalid_parameter"), Some("email")), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("twice"), "{p}");

    let admin = support::key_for(&e.auth, "root@example.org", Role::Admin);
    let token = token_for(&e.auth, "t@example.org", Role::Free);
    let bearer = format!("Bearer {token}");
    for (uri, parameter) in [
        ("/api/v1/events/%FF%FE", "ev_id"),
        ("/api/v1/auth/api-keys/%C3%28", "id"),
        ("/api/v1/admin/users/%FF/role", "id"),
    ] {
        let method = if uri.contains("api-keys") {
            Method::DELETE
        } else if uri.contains("role") {
            Method::PUT
        } else {
            Method::GET
        };
        let auth: (&str, &str) =
            if uri.contains("api-keys") { ("authorization", bearer.as_str()) } else { ("x-api-key", admin.as_str()) };
        let a = call(&e.state, method, uri, &[auth, ("content-type", "application/json")], "{\"role\":\"free\"}").await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{uri}: {}", a.body);
        let p = a.json();
        assert_eq!(p["parameter"].as_str(), Some(parameter), "{uri}: {p}");
        let detail = p["detail"].as_str().unwrap();
        assert!(!detail.contains("Invalid URL") && !detail.contains("UTF-8 in"), "framework text: {detail}");
    }

    let _ = call(&e.state, Method::GET, "/api/v1/events?from=yesterday", &[], "").await;
    let _ = call(&e.state, Method::POST, "/api/v1/auth/login", &[("content-type", "text/plain")], "x").await;
    let metrics = call(&e.state, Method::GET, "/metrics", &[], "").await.body;
    for (parameter, at_least) in [("email", 1), ("ev_id", 1), ("id", 2), ("from", 1), ("content-type", 1)] {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(&format!("ntsb_validation_failures_total{{parameter=\"{parameter}\"}}")))
            .unwrap_or_else(|| panic!("no series for {parameter}"));
        let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(n >= at_least, "{line}");
    }
    // Validation failures are not security events: nothing in the audit trail.
    let audit =
        call(&e.state, Method::GET, "/api/v1/admin/audit?limit=1000", &[("x-api-key", admin.as_str())], "").await;
    let events: Vec<String> =
        audit.json()["items"].as_array().unwrap().iter().map(|i| i["event"].as_str().unwrap().to_string()).collect();
    assert!(events.iter().all(|e| e != "forbidden" && e != "unauthenticated"), "{events:?}");
}
