//! What operators depend on: the tiers of `--role`, and every metric that the
//! Prometheus rules and Grafana dashboards under `deploy/` use is exposed by
//! the real server's `/metrics` (served on a socket, after real traffic).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use ntsb_load::{LoadOptions, Loader, NoProgress};
use ntsb_ml::pipeline::{self, Options};
use ntsb_ml::{Dataset, ModelKind, Registry};
use ntsb_search::SearchIndex;
use ntsb_server::{AppState, Role, ServerOptions};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Store, TrainingData, TrainingFilter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

mod support;

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
    key: String,
}

/// A store with the synthetic ML fixture, quick models for every kind, accounts.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
        store.migrate().unwrap();
        let index = SearchIndex::open_or_create(&dir.path().join("index")).unwrap();
        let loader = Loader::new(store.as_ref(), Some(&index), LoadOptions::new(dir.path().join("rejects")));
        loader.load_paths(&[ntsb_test_support::fixture("ml/accidents_synthetic.csv")], &mut NoProgress).unwrap();
        let rows = store.training_rows(&TrainingFilter { accidents_only: true }).unwrap();
        let registry = Registry::empty();
        for kind in ModelKind::ALL {
            let ds = Dataset::from_rows(kind, &rows, None);
            registry.insert(pipeline::train_model(&ds, &Options::quick(kind, 1), None).unwrap());
        }
        let state = AppState::from_sqlite(store.clone(), Arc::new(index)).with_models(Arc::new(registry));
        let (state, key) = support::authenticated(state, store);
        Fixture { _dir: dir, state, key }
    })
}

async fn status(role: Role, method: Method, uri: &str, body: &str) -> StatusCode {
    let opts = ServerOptions { role, ..ServerOptions::default() };
    let app = ntsb_server::router_with(fixture().state.clone(), &opts).unwrap();
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-api-key", fixture().key.as_str())
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    let code = res.status();
    to_bytes(res.into_body(), usize::MAX).await.unwrap();
    code
}

#[tokio::test]
async fn each_role_serves_its_routes_and_only_those() {
    let predict = r#"{"model": "fatal", "features": {"phase": "landing"}}"#;
    for role in [Role::All, Role::Api, Role::Ml] {
        assert_eq!(status(role, Method::GET, "/health", "").await, StatusCode::OK, "{role:?}");
        assert_eq!(status(role, Method::GET, "/ready", "").await, StatusCode::OK, "{role:?}");
        assert_eq!(status(role, Method::GET, "/metrics", "").await, StatusCode::OK, "{role:?}");
    }
    let api = [(Method::GET, "/api/v1/events?limit=1"), (Method::GET, "/api/v1/stats/summary"), (Method::GET, "/docs")];
    for (method, uri) in api {
        assert_eq!(status(Role::All, method.clone(), uri, "").await, StatusCode::OK, "{uri}");
        assert_eq!(status(Role::Api, method.clone(), uri, "").await, StatusCode::OK, "{uri}");
        assert_eq!(status(Role::Ml, method, uri, "").await, StatusCode::NOT_FOUND, "{uri}");
    }
    assert_eq!(status(Role::Ml, Method::POST, "/api/v1/ml/predict", predict).await, StatusCode::OK);
    assert_eq!(status(Role::All, Method::POST, "/api/v1/ml/predict", predict).await, StatusCode::OK);
    assert_eq!(status(Role::Api, Method::POST, "/api/v1/ml/predict", predict).await, StatusCode::NOT_FOUND);
    assert_eq!(status(Role::Api, Method::GET, "/api/v1/ml/models", "").await, StatusCode::NOT_FOUND);
    assert_eq!(status(Role::Ml, Method::GET, "/api/v1/ml/models", "").await, StatusCode::OK);
}

#[test]
fn roles_parse_from_their_names_only() {
    assert_eq!("api".parse::<Role>(), Ok(Role::Api));
    assert_eq!("ml".parse::<Role>(), Ok(Role::Ml));
    assert_eq!("all".parse::<Role>(), Ok(Role::All));
    assert!("API".parse::<Role>().unwrap_err().contains("expected api, ml or all"));
    assert!(Role::Ml.serves("/api/v1/rag/ask") && !Role::Api.serves("/api/v1/rag/ask"));
}

/// One HTTP/1.1 request over a fresh connection; the whole response as text.
async fn http(addr: std::net::SocketAddr, method: &str, path: &str, key: &str, body: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Metric names (`ntsb_*`, `process_*`, `kube_*`) in a rules file or a
/// dashboard: identifiers in the text, which for these prefixes are metric
/// names (label names and functions never start so; recording rules hold a `:`).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
            continue;
        }
        let prefixed = ["ntsb_", "process_", "kube_"].iter().any(|p| word.starts_with(p));
        // `kube_cronjob_*` in a comment is a pattern, not a name.
        if prefixed && !word.contains(':') && !word.ends_with('_') {
            names.insert(std::mem::take(&mut word));
        }
        word.clear();
    }
    names
}

/// Metrics that other exporters provide, not the server, and where they come from.
const EXTERNAL: [(&str, &str); 2] = [
    ("kube_cronjob_status_last_successful_time", "kube-state-metrics (the backup and sync CronJobs' last success)"),
    // Written by `ntsb sync` as a node-exporter textfile; crates/sync/src/metrics.rs tests it.
    ("ntsb_sync_last_success_timestamp_seconds", "ntsb sync's textfile (node-exporter)"),
];

#[test]
fn metric_names_are_found_in_promql_of_rules_and_dashboards() {
    let names = metric_names(
        r#"expr: rate(ntsb_a_total{job=~"x"}[5m]) / on (job) ntsb:ratio:rate5m + process_cpu_seconds_total"#,
    );
    let want: BTreeSet<String> = ["ntsb_a_total", "process_cpu_seconds_total"].iter().map(|s| s.to_string()).collect();
    assert_eq!(names, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_rules_and_dashboards_is_exposed() {
    let mut used: Vec<(String, String)> = Vec::new();
    let rules = deploy_dir().join("prometheus/rules");
    let boards = deploy_dir().join("grafana/dashboards");
    let mut files = Vec::new();
    for dir in [&rules, &boards] {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    assert!(files.len() >= 5, "expected the rules and four dashboards, found {files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for name in metric_names(&text) {
            used.push((name, file.file_name().unwrap().to_string_lossy().into_owned()));
        }
    }

    // The real server on a socket, after the traffic that creates labelled series.
    let listener = ntsb_server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server =
        tokio::spawn(ntsb_server::serve_on(listener, fixture().state.clone(), ServerOptions::default(), async {
            let _ = stopped.await;
        }));
    let key = fixture().key.clone();
    let events = http(addr, "GET", "/api/v1/events?limit=2", &key, "").await;
    assert!(events.starts_with("HTTP/1.1 200"), "{events}");
    let predict = http(addr, "POST", "/api/v1/ml/predict", &key, r#"{"model": "fatal", "features": {}}"#).await;
    assert!(predict.starts_with("HTTP/1.1 200"), "{predict}");
    let scrape = http(addr, "GET", "/metrics", "", "").await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    assert!(scrape.starts_with("HTTP/1.1 200"), "{scrape}");

    let exposed: BTreeSet<&str> =
        scrape.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split_whitespace().next()).collect();
    let family = |name: &str| -> bool {
        exposed.contains(name)
            || ["_bucket", "_sum", "_count"]
                .iter()
                .any(|s| name.strip_suffix(s).is_some_and(|base| exposed.contains(base)))
    };
    let missing: Vec<String> = used
        .iter()
        .filter(|(name, _)| !family(name) && !EXTERNAL.iter().any(|(e, _)| e == name))
        .map(|(name, file)| format!("{name} (used by {file})"))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics used but not exposed by the server:\n{}\n\nexposed: {exposed:?}",
        missing.join("\n")
    );
    // The labelled series the traffic created are there, with the labels the rules select on.
    for needle in [
        // At least this test's one prediction (other tests in this binary share the registry).
        "ntsb_ml_predictions_total{model=\"fatal\"} ",
        "ntsb_ml_model_loaded{model=\"risk\"} 1",
        "ntsb_ratelimit_decisions_total{tier=\"admin\",decision=\"allowed\"}",
        "ntsb_index_position{of=\"store\"}",
        "ntsb_index_position{of=\"index\"}",
        "route=\"/api/v1/events\",status=\"200\"",
        // Declared without a feed too, with the label the feed alert selects on.
        "ntsb_feed_subscribers_dropped_total{reason=\"slow_consumer\"} ",
    ] {
        assert!(scrape.contains(needle), "{needle} missing from:\n{scrape}");
    }
    // And the rules' external metrics are really only used where documented.
    for (name, source) in EXTERNAL {
        assert!(used.iter().any(|(n, _)| n == name), "{name} ({source}) is listed as external but unused");
    }
}
