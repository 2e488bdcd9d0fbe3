//! Several replicas, one truth: two `ntsb serve` processes on one PostgreSQL
//! schema, each with its own data directory (and so its own full-text index),
//! serve what a third process (`ntsb ingest`) loads — listings, statistics and
//! search — within seconds, without a restart.
//!
//! Needs `NTSB_TEST_POSTGRES_URL` (set by `.ci/run`); skipped with a printed
//! reason when it is unset.

mod common;

use std::time::Duration;

use common::{PgSchema, eventually, get_json, run_ok, serve};

/// Longest a replica may take to serve a load made elsewhere. The follower
/// reacts to NOTIFY in milliseconds; this only bounds a slow CI machine.
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn two_replicas_on_one_postgres_serve_what_a_third_process_loads() {
    let Some(schema) = PgSchema::fresh("replicas") else {
        return;
    };
    let db = schema.args();
    let db: Vec<&str> = db.iter().map(String::as_str).collect();
    let (dir_a, dir_b, dir_loader) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_ok(dir_loader.path(), &[db.as_slice(), &["db", "migrate"]].concat());

    let replica_a = serve(dir_a.path(), &db, Duration::from_secs(60));
    let replica_b = serve(dir_b.path(), &db, Duration::from_secs(60));
    for port in [replica_a.port, replica_b.port] {
        assert_eq!(get_json(port, "/api/v1/events")["total"], 0, "both start empty");
        assert_eq!(get_json(port, "/api/v1/search?q=pilot")["total"], 0);
    }

    // A third process loads the fixtures into the same schema.
    let fixtures = ntsb_test_support::repo_root().join("tests/fixtures");
    for sub in ["aviationdata", "avall", "narratives"] {
        run_ok(dir_loader.path(), &[db.as_slice(), &["ingest", fixtures.join(sub).to_str().unwrap()]].concat());
    }

    for port in [replica_a.port, replica_b.port] {
        let total = eventually("the replica lists the new events", PATIENCE, || {
            let total = get_json(port, "/api/v1/events")["total"].as_u64()?;
            (total > 0).then_some(total)
        });
        assert_eq!(total, 6, "the fixtures' events with a valid id");
        let summary = get_json(port, "/api/v1/stats/summary");
        assert_eq!(summary["events"].as_u64(), Some(total), "statistics see the same data");
        let hits = eventually("the replica's own index finds the new narratives", PATIENCE, || {
            let hits = get_json(port, "/api/v1/search?q=pilot")["total"].as_u64()?;
            (hits > 0).then_some(hits)
        });
        assert_eq!(hits, 1, "the one fixture narrative that mentions a pilot");
    }
    // Both replicas give the same answers.
    let a = get_json(replica_a.port, "/api/v1/search?q=pilot");
    let b = get_json(replica_b.port, "/api/v1/search?q=pilot");
    assert_eq!(a["total"], b["total"]);
    assert_eq!(get_json(replica_a.port, "/api/v1/stats/yearly"), get_json(replica_b.port, "/api/v1/stats/yearly"));
    // Event details: computed until a replica's builder stores the documents (it
    // looks every 2 s), then read from them (replica B without a thread): the
    // same answers throughout.
    let list = get_json(replica_a.port, "/api/v1/events?limit=100");
    let ids: Vec<String> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["ev_id"].as_str().expect("ev_id").to_string())
        .collect();
    assert_eq!(ids.len(), 6);
    let first: Vec<_> = ids.iter().map(|id| get_json(replica_a.port, &format!("/api/v1/events/{id}"))).collect();
    for round in 0..4 {
        for (id, want) in ids.iter().zip(&first) {
            for port in [replica_a.port, replica_b.port] {
                assert_eq!(&get_json(port, &format!("/api/v1/events/{id}")), want, "{id}, round {round}");
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1500));
    }
    let ready = get_json(replica_b.port, "/ready");
    assert_eq!(ready["status"], "ready", "{ready}");
}
