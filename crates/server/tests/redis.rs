//! Redis as the replicas' shared tier, against a real Redis (`NTSB_TEST_REDIS_URL`,
//! set by `.ci/run` to the machine's) and, for the shared cache, a real
//! PostgreSQL (`NTSB_TEST_POSTGRES_URL`). Each test skips with a printed reason
//! when what it needs is not configured. Keys are unique to the test run.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use ntsb_load::{LoadOptions, Loader, NoProgress};
use ntsb_model::SourceKind;
use ntsb_search::SearchIndex;
use ntsb_server::AppState;
use ntsb_server::redis_link::RedisLink;
use ntsb_store::Store;
use ntsb_store::postgres::{PostgresConfig, PostgresStore};
use tower::ServiceExt;

fn redis_url() -> Option<String> {
    ntsb_test_support::redis_url("server::redis")
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("ntsb-test:{name}:{}:{nanos}", std::process::id())
}

#[tokio::test]
async fn counters_are_shared_by_every_link_and_expire_with_their_window() {
    let Some(url) = redis_url() else { return };
    let (a, b) = (RedisLink::new(&url).unwrap(), RedisLink::new(&url).unwrap());
    let key = unique("counter");
    let window = Duration::from_millis(400);
    let (n1, left) = a.increment(&key, window).await.expect("redis answers");
    assert_eq!(n1, 1);
    assert!(left <= window && left > Duration::ZERO, "{left:?}");
    assert_eq!(b.increment(&key, window).await.expect("redis").0, 2, "another replica counts on");
    assert_eq!(a.increment(&key, window).await.expect("redis").0, 3);
    tokio::time::sleep(window + Duration::from_millis(200)).await;
    assert_eq!(b.increment(&key, window).await.expect("redis").0, 1, "a new window starts at 1");

    a.set(&key, b"value", Duration::from_secs(5)).await;
    assert_eq!(b.get(&key).await.as_deref(), Some(&b"value"[..]));
    assert!(a.ping().await);
    assert!(a.stats().up && a.stats().errors == 0);
}

/// A fresh schema on the test PostgreSQL with the demo sample loaded, for two
/// "replicas" (each with its own index directory).
struct Replicas {
    store: Arc<PostgresStore>,
    dirs: Vec<tempfile::TempDir>,
    schema: String,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        let _ =
            self.store.with_connection(|c| Ok(c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?));
    }
}

fn replicas() -> Option<Replicas> {
    let url = ntsb_test_support::postgres_url("server::redis replicas")?;
    let schema = format!("server_redis_{}", std::process::id());
    let mut config = PostgresConfig::new(&url);
    config.schema = Some(schema.clone());
    let store = Arc::new(PostgresStore::connect(config).expect("connect"));
    store.with_connection(|c| Ok(c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?)).unwrap();
    store.migrate().expect("migrate");
    let dirs = vec![tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let index = SearchIndex::open_or_create(&dirs[0].path().join("index")).unwrap();
    let loader = Loader::new(store.as_ref(), Some(&index), LoadOptions::new(dirs[0].path().join("rejects")));
    loader.load_records("demo sample", SourceKind::Demo, ntsb_ingest::demo::generate(7, 200), &mut NoProgress).unwrap();
    Some(Replicas { store, dirs, schema })
}

impl Replicas {
    fn state(&self, replica: usize, redis: &str) -> AppState {
        let index = SearchIndex::open_or_create(&self.dirs[replica].path().join("index")).unwrap();
        index.sync(self.store.as_ref()).unwrap();
        AppState::from_backend(self.store.clone(), Arc::new(index)).with_redis(Arc::new(RedisLink::new(redis).unwrap()))
    }
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, String, String, Vec<u8>) {
    let res = ntsb_server::router(state.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let header = |n: &str| res.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (cache, etag) = (header("x-cache"), header("etag"));
    let status = res.status();
    (status, cache, etag, to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec())
}

/// The PostgreSQL client is blocking: setup and loads run outside the runtime,
/// requests inside it.
#[test]
fn a_replica_serves_what_another_computed_until_the_data_changes() {
    let Some(redis) = redis_url() else { return };
    let Some(replicas) = replicas() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (a, b) = (replicas.state(0, &redis), replicas.state(1, &redis));
    assert!(a.cache.shares(), "PostgreSQL data versions are global: answers are shared");

    // Shared keys name this fresh store's id, so no other run's answers interfere.
    let uri = "/api/v1/stats/summary";
    let (b, body_a) = runtime.block_on(async {
        let (status, source, etag_a, body_a) = get(&a, uri).await;
        assert_eq!((status, source.as_str()), (StatusCode::OK, "miss"));
        // A writes to Redis in the background; ask with a fresh local cache each
        // time until the shared answer is there (a local miss would be kept).
        let mut shared = None;
        for _ in 0..100 {
            let fresh = b.clone().with_cache_bytes(ntsb_server::DEFAULT_CACHE_BYTES);
            let (status, source, etag_b, body_b) = get(&fresh, uri).await;
            assert_eq!(status, StatusCode::OK);
            if source == "shared" {
                shared = Some((fresh, etag_b, body_b));
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (b, etag_b, body_b) = shared.expect("replica b answered from the shared cache");
        assert_eq!((etag_b, &body_b), (etag_a, &body_a), "the same answer, byte for byte");
        assert_eq!(b.cache.stats().shared_hits, 1);
        let (_, again, _, _) = get(&b, uri).await;
        assert_eq!(again, "hit", "kept locally after a shared hit");
        (b, body_a)
    });

    // New data: a new version, so no replica serves the old answer.
    let loader = Loader::new(replicas.store.as_ref(), None, LoadOptions::new(replicas.dirs[0].path().join("rejects")));
    loader.load_records("more", SourceKind::Demo, ntsb_ingest::demo::generate(8, 50), &mut NoProgress).unwrap();
    std::thread::sleep(ntsb_server::cache::PROBE_INTERVAL * 2);
    let body = runtime.block_on(async {
        let (_, source, _, body) = get(&b, uri).await;
        assert_eq!(source, "miss", "the change invalidated the shared answers");
        body
    });
    let events = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).unwrap()["events"].as_u64().unwrap();
    assert!(events(&body) > events(&body_a), "the new answer counts the new events");
}

#[tokio::test]
async fn rate_limit_counters_are_shared_through_redis_and_local_while_it_is_away() {
    use ntsb_auth::{CounterStore, MemoryCounters, SystemClock};
    use ntsb_server::shared_counters::SharedCounters;
    let Some(url) = redis_url() else { return };
    // Settling on every increment: exact sharing (the default interval is tested below).
    let namespace = unique("deployment");
    let replica_of = |url: &str, namespace: &str| {
        SharedCounters::with_sync_interval(
            Arc::new(RedisLink::new(url).unwrap()),
            MemoryCounters::new(Arc::new(SystemClock)),
            namespace,
            Duration::ZERO,
        )
        .unwrap()
    };
    let replica = |url: &str| replica_of(url, &namespace);
    let (a, b) = (replica(&url), replica(&url));
    let key = unique("quota");
    assert_eq!(a.increment(&key, 1, 60).await.unwrap().count, 1);
    assert_eq!(b.increment(&key, 1, 60).await.unwrap().count, 2, "one count for all replicas");
    let hit = a.increment(&key, 5, 60).await.unwrap();
    assert_eq!(hit.count, 7);
    assert!((1..=60).contains(&hit.ttl), "{hit:?}");
    let other_deployment = replica_of(&url, &unique("other"));
    assert_eq!(other_deployment.increment(&key, 1, 60).await.unwrap().count, 1, "another deployment counts apart");

    // Nothing listens on this port: each replica counts on its own meanwhile.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let away = replica(&format!("redis://127.0.0.1:{port}"));
    assert_eq!(away.increment(&key, 1, 60).await.unwrap().count, 1, "local fallback, no error");
    assert_eq!(away.increment(&key, 1, 60).await.unwrap().count, 2);
}

#[tokio::test]
async fn a_replica_counts_on_its_own_between_settlements_and_hands_over_when_flushing() {
    use ntsb_auth::{CounterStore, MemoryCounters, SystemClock};
    use ntsb_server::shared_counters::SharedCounters;
    let Some(url) = redis_url() else { return };
    let replica = |every: Duration| {
        let link = Arc::new(RedisLink::new(&url).unwrap());
        SharedCounters::with_sync_interval(link, MemoryCounters::new(Arc::new(SystemClock)), "lag-test", every).unwrap()
    };
    // An interval far longer than the test: nothing settles unless asked.
    let (lagging, exact) = (replica(Duration::from_secs(3600)), replica(Duration::ZERO));
    let key = unique("lag");
    assert_eq!(lagging.increment(&key, 1, 600).await.unwrap().count, 1, "a window's first request settles");
    assert_eq!(lagging.increment(&key, 1, 600).await.unwrap().count, 2, "then the replica counts on its own");
    assert_eq!(lagging.increment(&key, 1, 600).await.unwrap().count, 3);
    assert_eq!(exact.increment(&key, 1, 600).await.unwrap().count, 2, "Redis has only the first so far");
    lagging.flush().await;
    assert_eq!(exact.increment(&key, 1, 600).await.unwrap().count, 5, "the flush handed the other two over");
    // The lag: the lagging replica knew Redis at 4 when it flushed; the other's
    // fifth request reaches it at its next settlement.
    assert_eq!(lagging.increment(&key, 1, 600).await.unwrap().count, 5);
    lagging.flush().await;
    assert_eq!(exact.increment(&key, 1, 600).await.unwrap().count, 7, "nothing is lost");
}
