//! Load client of `bench/live.sh`: holds many WebSocket connections to
//! `GET /api/v1/stream` and measures delivery.
//!
//! ```text
//! live_load --url ws://127.0.0.1:8080/api/v1/stream?state=TX --key KEY --clients 10000 \
//!           --until-file /tmp/head [--connect-parallel 256] [--idle-secs 20]
//! ```
//!
//! Opens `--clients` connections (an API key in `X-API-Key`), prints `READY` when all are
//! open, then reads every message. Each message's delivery latency is the time it was
//! read minus its `changed_at` (the store's time of the change; same clock, same machine).
//! Once `--until-file` holds a position (the bench writes the change log's head there
//! after the load) a client stops when it has read that position; all stop when nothing
//! arrived for `--idle-secs`. Prints one JSON line: connections opened, failed, closed by
//! the server (with reasons), clients that received every change, messages, and latency
//! percentiles in milliseconds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Latency histogram: 1 ms buckets up to 120 s.
const BUCKETS: usize = 120_000;

struct Shared {
    histogram: Vec<AtomicU64>,
    messages: AtomicU64,
    complete: AtomicU64,
    closed: Mutex<BTreeMap<String, u64>>,
    last_message: Mutex<Instant>,
    until: Mutex<Option<u64>>,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--url").expect("--url");
    let key = arg(&args, "--key").expect("--key");
    let clients: usize = arg(&args, "--clients").map_or(1000, |v| v.parse().expect("--clients N"));
    let parallel: usize = arg(&args, "--connect-parallel").map_or(256, |v| v.parse().expect("N"));
    let idle = Duration::from_secs(arg(&args, "--idle-secs").map_or(20, |v| v.parse().expect("secs")));
    let until_file = arg(&args, "--until-file");
    let shared = Arc::new(Shared {
        histogram: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        messages: AtomicU64::new(0),
        complete: AtomicU64::new(0),
        closed: Mutex::new(BTreeMap::new()),
        last_message: Mutex::new(Instant::now()),
        until: Mutex::new(None),
    });
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut connecting = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (url, key, gate) = (url.clone(), key.clone(), gate.clone());
        connecting.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.expect("gate");
            let mut req = url.into_client_request().expect("url");
            req.headers_mut().insert("x-api-key", key.parse().expect("key"));
            tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws).map_err(|e| e.to_string())
        }));
    }
    let mut sockets = Vec::with_capacity(clients);
    let mut failed: BTreeMap<String, u64> = BTreeMap::new();
    for c in connecting {
        match c.await.expect("task") {
            Ok(ws) => sockets.push(ws),
            Err(e) => *failed.entry(e.chars().take(80).collect()).or_default() += 1,
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let opened = sockets.len();
    println!("READY {opened}");
    *shared.last_message.lock().unwrap() = Instant::now();
    let mut readers = Vec::with_capacity(opened);
    for mut ws in sockets {
        let shared = shared.clone();
        readers.push(tokio::spawn(async move {
            let mut seen = 0u64;
            loop {
                let next = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
                let until = *shared.until.lock().unwrap();
                match next {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        let now = chrono::Utc::now();
                        let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("json");
                        if let Some(at) =
                            v["changed_at"].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                        {
                            let ms =
                                (now - at.with_timezone(&chrono::Utc)).num_milliseconds().clamp(0, BUCKETS as i64 - 1);
                            shared.histogram[ms as usize].fetch_add(1, Ordering::Relaxed);
                        }
                        seen = v["seq"].as_u64().unwrap_or(seen);
                        shared.messages.fetch_add(1, Ordering::Relaxed);
                        *shared.last_message.lock().unwrap() = Instant::now();
                    }
                    Ok(Some(Ok(Message::Close(frame)))) => {
                        let reason = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                        *shared.closed.lock().unwrap().entry(reason.chars().take(60).collect()).or_default() += 1;
                        return;
                    }
                    Ok(Some(Ok(_))) => {}
                    Ok(Some(Err(e))) => {
                        *shared.closed.lock().unwrap().entry(format!("error: {e}")).or_default() += 1;
                        return;
                    }
                    Ok(None) => {
                        *shared.closed.lock().unwrap().entry("eof".into()).or_default() += 1;
                        return;
                    }
                    Err(_) => {}
                }
                if until.is_some_and(|u| seen >= u) {
                    shared.complete.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if until.is_some() && shared.last_message.lock().unwrap().elapsed() > idle {
                    return;
                }
            }
        }));
    }
    // Learn the target position once the bench has written it.
    if let Some(path) = until_file {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                if let Some(n) = std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse::<u64>().ok()) {
                    *shared.until.lock().unwrap() = Some(n);
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    for r in readers {
        let _ = r.await;
    }
    let total: u64 = shared.histogram.iter().map(|b| b.load(Ordering::Relaxed)).sum();
    let pct = |p: f64| {
        let target = ((total as f64) * p).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (ms, b) in shared.histogram.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            if acc >= target {
                return ms;
            }
        }
        BUCKETS
    };
    let out = serde_json::json!({
        "clients": clients,
        "opened": opened,
        "connect_failed": failed,
        "connect_secs": (connect_secs * 10.0).round() / 10.0,
        "closed_by_server": *shared.closed.lock().unwrap(),
        "received_every_change": shared.complete.load(Ordering::Relaxed),
        "target_seq": *shared.until.lock().unwrap(),
        "messages": shared.messages.load(Ordering::Relaxed),
        "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)},
    });
    println!("{out}");
}
