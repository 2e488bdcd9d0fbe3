//! End to end: `ntsb serve --demo` on a fresh data directory loads the demo
//! sample, listens, and answers the API over real HTTP; Ctrl-C-free shutdown is
//! by killing the child.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server even when an assertion fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 GET with `Connection: close`; returns (status, head, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    Ok((status, head.to_string(), body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[test]
fn serve_demo_answers_the_api_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_ntsb"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("NTSB_DATABASE_URL")
        .env_remove("NTSB_DATA_DIR")
        .env_remove("NTSB_CONFIG")
        .env_remove("NTSB_LISTEN")
        .env("NTSB_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ntsb serve");
    let mut server = Server(child);

    // Loading 5,000 demo events comes first; wait for /health.
    let started = Instant::now();
    loop {
        if let Ok((200, _, body)) = http_get(port, "/health") {
            assert!(body.contains("\"ok\""), "{body}");
            break;
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("ntsb serve exited early: {status}");
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the server did not come up");
        std::thread::sleep(Duration::from_millis(200));
    }

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
    assert!(server.0.try_wait().unwrap().is_none(), "the server must still run");
}
