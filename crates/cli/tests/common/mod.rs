//! Shared helpers of the end-to-end tests: run the real `ntsb` binary, start
//! `ntsb serve` on a free port, and speak plain HTTP/1.1 to it.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `ntsb serve`, killed on drop even when an assertion fails.
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with the environment cleared of settings a developer may have exported.
pub fn ntsb(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ntsb"));
    cmd.arg("--data-dir").arg(data_dir);
    for var in [
        "NTSB_DATABASE_URL",
        "NTSB_DATABASE_URL_FILE",
        "NTSB_DB_SCHEMA",
        "NTSB_DB_POOL_SIZE",
        "NTSB_DB_STATEMENT_TIMEOUT",
        "NTSB_DATA_DIR",
        "NTSB_CONFIG",
        "NTSB_LISTEN",
        "NTSB_CACHE_MB",
        "NTSB_REDIS_URL",
        "NTSB_JWT_SECRET",
        "NTSB_JWT_SECRET_FILE",
        "NTSB_REGISTRATION",
        "NTSB_QUOTA_FREE",
        "NTSB_QUOTA_PREMIUM",
        "NTSB_QUOTA_ADMIN",
        "NTSB_BURST_FREE",
        "NTSB_BURST_PREMIUM",
        "NTSB_BURST_ADMIN",
        "NTSB_LOGIN_ATTEMPTS_PER_MINUTE",
        "NTSB_LOCKOUT_THRESHOLD",
        "NTSB_LOCKOUT_MINUTES",
        "NTSB_REGISTRATIONS_PER_HOUR",
        "NTSB_HEADER_TIMEOUT",
        "NTSB_MAX_CONNECTIONS_PER_IP",
        "NTSB_RESET_OUTBOX",
        "NTSB_TRUSTED_PROXIES",
    ] {
        cmd.env_remove(var);
    }
    // The suites drive public endpoints as fast as they can from one address:
    // anonymous limits off unless a test sets them (the attacker suite does).
    cmd.env("NTSB_QUOTA_ANONYMOUS", "0").env("NTSB_BURST_ANONYMOUS", "0");
    cmd.env("NTSB_LOG", "warn");
    cmd
}

/// Runs `ntsb --data-dir DIR ARGS…` to completion, panicking with its output on failure.
pub fn run_ok(data_dir: &Path, args: &[&str]) -> Output {
    let out = ntsb(data_dir).args(args).output().expect("run ntsb");
    assert!(
        out.status.success(),
        "ntsb {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts `ntsb --data-dir DIR serve --listen 127.0.0.1:PORT EXTRA…` and waits
/// (up to `patience`) until `/health` answers.
pub fn serve(data_dir: &Path, extra: &[&str], patience: Duration) -> Server {
    serve_with(data_dir, extra, patience, |_| {})
}

/// Like [`serve`], with the command adjusted before it starts (its environment,
/// where its stderr goes).
pub fn serve_with(data_dir: &Path, extra: &[&str], patience: Duration, adjust: impl FnOnce(&mut Command)) -> Server {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = ntsb(data_dir);
    command.args(["serve", "--listen", &format!("127.0.0.1:{port}")]).args(extra);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    adjust(&mut command);
    let child = command.spawn().expect("start ntsb serve");
    wait_until_healthy(Server { child, port }, patience)
}

/// Returns `server` once `/health` answers; panics if it exits or takes longer than `patience`.
fn wait_until_healthy(mut server: Server, patience: Duration) -> Server {
    let started = Instant::now();
    loop {
        if let Ok((200, _, _)) = get(server.port, "/health") {
            return server;
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("ntsb serve exited early: {status}");
        }
        assert!(started.elapsed() < patience, "the server did not come up within {patience:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Server {
    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

/// Like [`serve`], with extra environment variables for the server; its log
/// goes to `DATA_DIR/server.log`.
pub fn serve_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)], patience: Duration) -> Server {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = ntsb(data_dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(data_dir.join("server.log")).expect("server log"))
        .spawn()
        .expect("start ntsb serve");
    wait_until_healthy(Server { child, port }, patience)
}

/// One HTTP/1.1 request with a body (`Content-Type: application/json` unless
/// `headers` say otherwise); returns (status, head, body).
pub fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|h| h.to_ascii_lowercase().starts_with("content-type:")) {
        head.push_str("Content-Type: application/json\r\n");
    }
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // The server may answer (413) before reading a large body: ignore a reset.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    Ok((status, head.to_string(), body))
}

/// One HTTP/1.1 GET with `Connection: close`; returns (status, head, body).
pub fn get(port: u16, path: &str) -> std::io::Result<(u16, String, String)> {
    request(port, "GET", path, &[])
}

/// One HTTP/1.1 request with `Connection: close` and extra header lines.
pub fn request(port: u16, method: &str, path: &str, headers: &[&str]) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    Ok((status, head.to_string(), body))
}

/// GET that must answer 200 with JSON.
pub fn get_json(port: u16, path: &str) -> serde_json::Value {
    let (status, head, body) = get(port, path).unwrap();
    assert_eq!(status, 200, "GET {path}\n{head}\n{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
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

/// A fresh PostgreSQL schema on the server named by `NTSB_TEST_POSTGRES_URL`,
/// dropped on drop; `None` (with the reason printed) when the variable is unset.
pub struct PgSchema {
    /// The server's URL.
    pub url: String,
    /// The schema's name.
    pub name: String,
}

impl PgSchema {
    pub fn fresh(test: &str) -> Option<PgSchema> {
        let url = ntsb_test_support::postgres_url(test)?;
        let name = format!("e2e_{test}_{}", std::process::id());
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect to NTSB_TEST_POSTGRES_URL");
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).expect("drop schema");
        Some(PgSchema { url, name })
    }

    /// The global options that point `ntsb` at this schema.
    pub fn args(&self) -> Vec<String> {
        vec!["--db".into(), self.url.clone(), "--db-schema".into(), self.name.clone()]
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `patience`;
/// panics with `what` otherwise.
pub fn eventually<T>(what: &str, patience: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(started.elapsed() < patience, "{what}: not within {patience:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
