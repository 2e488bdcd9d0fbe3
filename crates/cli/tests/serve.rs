//! End to end: `ntsb serve --demo` on a fresh data directory loads the demo
//! sample, listens, and answers the API over real HTTP; Ctrl-C-free shutdown is
//! by killing the child.

mod common;

use std::time::Duration;

use common::get as http_get;

#[test]
fn serve_demo_answers_the_api_over_http() {
    let dir = tempfile::tempdir().unwrap();
    // Loading 5,000 demo events comes first.
    let mut server = common::serve(dir.path(), &["--demo"], Duration::from_secs(300));
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
    assert!(server.running(), "the server must still run");
}
