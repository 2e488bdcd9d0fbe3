//! End to end: `ntsb serve --demo` on a fresh data directory loads the demo
//! sample, listens, and answers the API over real HTTP; Ctrl-C-free shutdown is
//! by killing the child. With the settings a new user has: the anonymous limits
//! at their defaults, the default log level, stderr into a file.

mod common;

use std::time::Duration;

use common::get as http_get;

#[test]
fn serve_demo_answers_the_api_over_http() {
    let dir = tempfile::tempdir().unwrap();
    // Loading 5,000 demo events comes first.
    let log = dir.path().join("serve.log");
    let as_a_new_user = |c: &mut std::process::Command| {
        c.env_remove("NTSB_QUOTA_ANONYMOUS").env_remove("NTSB_BURST_ANONYMOUS").env_remove("NTSB_LOG");
        c.stderr(std::fs::File::create(&log).unwrap());
    };
    let mut server = common::serve_with(dir.path(), &["--demo"], Duration::from_secs(300), as_a_new_user);
    let port = server.port;
    let (status, _, body) = http_get(port, "/health").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"ok\""), "{body}");

    let (status, head, body) = http_get(port, "/api/v1/events?limit=3&sort=-fatalities").unwrap();
    assert_eq!(status, 200, "{head}\n{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["total"], 5000);
    assert_eq!(page["items"][0]["synthetic"], true);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("x-request-id:") && head.contains("etag:") && head.contains("x-frame-options: deny"),
        "{head}"
    );

    let (status, _, body) = http_get(port, "/openapi.json").unwrap();
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(doc["paths"]["/api/v1/events"].is_object());

    let (status, _, body) = http_get(port, "/api/v1/events?limit=0").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"parameter\":\"limit\""), "{body}");

    let (status, _, body) = http_get(port, "/ready").unwrap();
    assert_eq!(status, 200, "{body}");

    // Quick requests from this machine never meet the anonymous burst (10/s).
    for i in 0..40 {
        let (status, head, _) = http_get(port, &format!("/api/v1/stats/summary?year={}", 1990 + i % 30)).unwrap();
        assert_eq!(status, 200, "request {i}: {head}");
        assert!(!head.to_ascii_lowercase().contains("ratelimit-limit"), "{head}");
    }
    assert!(server.running(), "the server must still run");
    drop(server);

    // The default level is warn: no line per request, and no colour codes in a file.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains("/api/v1/stats/summary"), "requests are logged at info only:\n{logged}");
    assert!(!logged.contains('\x1b'), "colour codes in a file:\n{logged}");

    // At info: requests are logged, still without colour, and the note about models
    // names the endpoints that answer 503 while /ml/models answers 200.
    let log = dir.path().join("serve-info.log");
    let server = common::serve_with(dir.path(), &["--demo", "--log-level", "info"], Duration::from_secs(120), |c| {
        c.stderr(std::fs::File::create(&log).unwrap());
    });
    let (status, _, body) = http_get(server.port, "/api/v1/ml/models").unwrap();
    assert_eq!(status, 200, "{body}");
    drop(server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("/api/v1/ml/models"), "{logged}");
    assert!(!logged.contains('\x1b'), "colour codes in a file:\n{logged}");
    assert!(logged.contains("/api/v1/ml/predict and /api/v1/ml/predict/batch answer 503"), "{logged}");
    assert!(!logged.contains("/api/v1/ml answers 503"), "{logged}");
}
