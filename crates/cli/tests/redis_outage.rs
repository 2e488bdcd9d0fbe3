//! Redis is an accelerator, never a dependency: with the shared cache on (two
//! replicas' worth of configuration: PostgreSQL and Redis), the API keeps
//! answering when Redis goes away, says so in `/ready` and `/metrics`, and uses
//! Redis again when it returns.
//!
//! The test starts its own `redis-server` on a free port (it stops only what it
//! started) and needs `NTSB_TEST_POSTGRES_URL`; it skips with a printed reason
//! when either is missing.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{PgSchema, eventually, get, get_json, run_ok, serve};

/// A `redis-server` this test started, stopped on drop.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> Option<OwnRedis> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            ntsb_test_support::skip(
                "redis_outage",
                "the `redis-server` program",
                "apt-get install redis-server (the test runs its own on a free port)",
            );
            return None;
        };
        let redis = OwnRedis { child, port };
        eventually("redis-server accepts connections", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", redis.port)).ok()
        });
        Some(redis)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn metric(port: u16, name: &str) -> Option<f64> {
    let (_, _, text) = get(port, "/metrics").ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn the_api_keeps_serving_while_redis_is_away_and_uses_it_again_when_it_returns() {
    let Some(schema) = PgSchema::fresh("redis_outage") else {
        return;
    };
    let redis_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let Some(mut redis) = OwnRedis::start(redis_port) else {
        return;
    };
    let db = schema.args();
    let db: Vec<&str> = db.iter().map(String::as_str).collect();
    let dir = tempfile::tempdir().unwrap();
    let fixtures = ntsb_test_support::repo_root().join("tests/fixtures/aviationdata");
    run_ok(dir.path(), &[db.as_slice(), &["ingest", fixtures.to_str().unwrap()]].concat());
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let server = serve(dir.path(), &[db.as_slice(), &["--redis-url", &redis_url]].concat(), Duration::from_secs(60));
    let port = server.port;

    let ready = get_json(port, "/ready");
    assert_eq!(ready["redis"]["ok"], true, "{ready}");
    assert_eq!(ready["redis"]["shared_cache"], true, "PostgreSQL: answers are shared");
    let (status, head, _) = get(port, "/api/v1/stats/summary").unwrap();
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("x-cache: miss"), "{head}");

    redis.stop();
    // Every kind of request still answers, computed or from the local cache.
    for path in ["/api/v1/stats/summary", "/api/v1/stats/yearly", "/api/v1/events?limit=5", "/api/v1/search?q=engine"] {
        let (status, _, body) = get(port, path).unwrap();
        assert_eq!(status, 200, "{path}: {body}");
    }
    let ready = get_json(port, "/ready");
    assert_eq!(ready["status"], "ready", "Redis is optional: still ready: {ready}");
    assert_eq!(ready["redis"]["ok"], false, "{ready}");
    assert_eq!(metric(port, "ntsb_redis_up"), Some(0.0));
    assert!(metric(port, "ntsb_redis_errors_total").unwrap_or(0.0) >= 1.0);

    let _redis = OwnRedis::start(redis_port).expect("redis-server starts again");
    eventually("the server uses Redis again", Duration::from_secs(30), || {
        (get_json(port, "/ready")["redis"]["ok"] == true).then_some(())
    });
    let (status, _, _) = get(port, "/api/v1/stats/decades").unwrap();
    assert_eq!(status, 200);
    assert_eq!(metric(port, "ntsb_redis_up"), Some(1.0));
    assert_eq!(metric(port, "ntsb_redis_outages_total"), Some(1.0), "one outage, logged once");
}
