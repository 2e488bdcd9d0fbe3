//! Access control in process: every route (and every documented path) has an
//! explicit policy; without an accounts engine, protected routes are shut;
//! with one, policies, limits and their headers apply.

mod support;

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use ntsb_auth::Role;
use ntsb_search::SearchIndex;
use ntsb_server::{AppState, Policy, policy_for};
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;
use tower::ServiceExt;

#[test]
fn every_route_and_every_documented_path_has_an_explicit_policy() {
    let routes = ntsb_server::route_paths();
    assert!(routes.len() > 40);
    for path in &routes {
        assert!(policy_for(path).is_some(), "route {path} has no access policy");
    }
    let doc = serde_json::to_value(ntsb_server::openapi()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let policy = policy_for(path).unwrap_or_else(|| panic!("documented path {path} has no access policy"));
        for (method, op) in item.as_object().unwrap() {
            if policy != Policy::Open {
                assert!(op["security"].is_array(), "{method} {path} documents no security");
                assert!(op["responses"]["429"].is_object(), "{method} {path} documents no 429");
            }
        }
    }
    assert_eq!(policy_for("/api/v1/not-a-route"), None, "unknown paths have no policy, so they are refused");
    assert_eq!(policy_for("/api/v1/admin/users"), Some(Policy::Admin));
    assert_eq!(policy_for("/api/v1/export/events.csv"), Some(Policy::User));
    assert_eq!(policy_for("/api/v1/auth/api-keys"), Some(Policy::Session));
    assert_eq!(policy_for("/api/v1/events"), Some(Policy::Public));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
}

fn store() -> (tempfile::TempDir, Arc<SqliteStore>, Arc<SearchIndex>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
    store.migrate().unwrap();
    let index = Arc::new(SearchIndex::open_or_create(&dir.path().join("index")).unwrap());
    (dir, store, index)
}

async fn call(
    state: &AppState,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = ntsb_server::router(state.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn without_accounts_protected_routes_are_shut_and_public_ones_open() {
    let (_dir, store, index) = store();
    let state = AppState::from_sqlite(store, index);
    assert_eq!(call(&state, Method::GET, "/api/v1/stats/summary", &[]).await.0, StatusCode::OK);
    let (status, headers, body) = call(&state, Method::GET, "/api/v1/export/events.csv", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(call(&state, Method::GET, "/api/v1/admin/users", &[]).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&state, Method::POST, "/api/v1/auth/login", &[]).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread")]
async fn limited_answers_carry_ratelimit_headers_and_admins_pass() {
    let (_dir, store, index) = store();
    let auth = support::engine(store.clone());
    let free = support::key_for(&auth, "free@example.org", Role::Free);
    let admin = support::key_for(&auth, "root@example.org", Role::Admin);
    let mut config = auth.config().clone();
    config.quotas.free = ntsb_auth::Tier { daily: 2, per_second: 0 };
    let clock = Arc::new(ntsb_auth::SystemClock);
    let limited = ntsb_auth::Auth::new(
        store.clone(),
        Arc::new(ntsb_auth::MemoryCounters::new(clock.clone())),
        clock,
        ntsb_auth::SigningSecret::ephemeral().unwrap(),
        config,
    )
    .unwrap();
    let state = AppState::from_sqlite(store, index).with_auth(limited);
    for remaining in ["1", "0"] {
        let (status, headers, _) = call(&state, Method::GET, "/api/v1/stats/yearly", &[("x-api-key", &free)]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (headers["ratelimit-limit"].to_str().unwrap(), headers["ratelimit-remaining"].to_str().unwrap()),
            ("2", remaining)
        );
    }
    let (status, headers, body) = call(&state, Method::GET, "/api/v1/stats/yearly", &[("x-api-key", &free)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(headers.contains_key("retry-after") && headers.contains_key("ratelimit-reset"));
    assert!(body.contains("quota_exceeded"));
    let (status, headers, _) = call(&state, Method::GET, "/api/v1/admin/users", &[("x-api-key", &admin)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key("ratelimit-limit"), "admins are unlimited");
}

/// `serve --demo` sets `unlimited_loopback`: an anonymous caller on the same
/// machine is never throttled, while anyone else (and a proxy on the machine
/// speaking for someone else) keeps the anonymous limits.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_does_not_limit_its_own_machine() {
    use std::net::SocketAddr;

    use axum::extract::ConnectInfo;

    let (_dir, store, index) = store();
    let auth = support::engine(store.clone());
    let mut config = auth.config().clone();
    config.quotas.anonymous = ntsb_auth::Tier { daily: 2, per_second: 0 };
    let clock = Arc::new(ntsb_auth::SystemClock);
    let limited = ntsb_auth::Auth::new(
        store.clone(),
        Arc::new(ntsb_auth::MemoryCounters::new(clock.clone())),
        clock,
        ntsb_auth::SigningSecret::ephemeral().unwrap(),
        config,
    )
    .unwrap();
    let state = AppState::from_sqlite(store, index).with_auth(limited);
    let proxy: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let opts = |unlimited_loopback| ntsb_server::ServerOptions {
        unlimited_loopback,
        trusted_proxies: vec![proxy],
        ..Default::default()
    };
    let demo = ntsb_server::router_with(state.clone(), &opts(true)).unwrap();
    let plain = ntsb_server::router_with(state, &opts(false)).unwrap();
    let get = |router: axum::Router, peer: &str, forwarded: Option<&str>| {
        let peer: SocketAddr = peer.parse().unwrap();
        let mut req = Request::builder().uri("/api/v1/stats/summary");
        if let Some(f) = forwarded {
            req = req.header("x-forwarded-for", f);
        }
        let mut req = req.body(Body::empty()).unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        async move {
            let res = router.oneshot(req).await.unwrap();
            (res.status(), res.headers().contains_key("ratelimit-limit"))
        }
    };
    for _ in 0..10 {
        assert_eq!(get(demo.clone(), "127.0.0.1:40000", None).await, (StatusCode::OK, false));
        assert_eq!(get(demo.clone(), "[::1]:40000", None).await, (StatusCode::OK, false));
    }
    // Everyone else keeps the anonymous quota of 2 a day.
    for (peer, forwarded) in [("203.0.113.9:1", None), ("127.0.0.2:1", Some("198.51.100.7"))] {
        assert_eq!(get(demo.clone(), peer, forwarded).await, (StatusCode::OK, true));
        assert_eq!(get(demo.clone(), peer, forwarded).await, (StatusCode::OK, true));
        assert_eq!(get(demo.clone(), peer, forwarded).await.0, StatusCode::TOO_MANY_REQUESTS, "{peer} {forwarded:?}");
    }
    // Without the option, this machine is limited like anyone (the quota is per address).
    assert_eq!(get(plain.clone(), "127.0.0.1:40000", None).await, (StatusCode::OK, true));
    assert_eq!(get(plain.clone(), "127.0.0.1:40000", None).await, (StatusCode::OK, true));
    assert_eq!(get(plain, "127.0.0.1:40000", None).await.0, StatusCode::TOO_MANY_REQUESTS);
}
