//! Accepting connections: a cap on the connections one client address holds
//! at once, and a time limit on the arrival of each request's headers.
//!
//! Without them a client can open hundreds of connections and trickle a
//! header byte now and then ("slow loris"), holding a descriptor and a task
//! each until the process runs out. The header timeout closes a connection
//! whose request head has not fully arrived in time (hyper's
//! `header_read_timeout`, which also ends idle keep-alive connections after
//! that long); the cap refuses an address's connections beyond
//! `max_connections_per_ip` with a 429 problem and closes them at once.
//! Trusted proxies are not capped: every client behind them shares their address.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// How connections are accepted (from [`crate::ServerOptions`]).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionRules {
    /// Longest time for a request's headers to arrive (and for an idle
    /// keep-alive connection to stay open).
    pub header_timeout: Duration,
    /// Most connections one address holds at once; 0 is no cap.
    pub max_per_ip: usize,
    /// Addresses never capped (trusted proxies).
    pub exempt: Arc<[IpAddr]>,
}

/// Open connections per client address.
#[derive(Debug, Default)]
pub(crate) struct ConnectionLimiter {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Slot {
    limiter: Arc<ConnectionLimiter>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut open = self.limiter.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&ip);
            }
        }
    }
}

impl ConnectionLimiter {
    /// A place for a connection from `ip`, or `None` when it holds `rules.max_per_ip` already.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr, rules: &ConnectionRules) -> Option<Slot> {
        if rules.max_per_ip == 0 || rules.exempt.contains(&ip) {
            return Some(Slot { limiter: self.clone(), ip: None });
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= rules.max_per_ip {
            return None;
        }
        *n += 1;
        Some(Slot { limiter: self.clone(), ip: Some(ip) })
    }

    /// Connections `ip` holds now (tests).
    #[cfg(test)]
    fn held(&self, ip: IpAddr) -> usize {
        self.open.lock().unwrap().get(&ip).copied().unwrap_or(0)
    }
}

/// What a refused connection is told before it is closed.
fn refusal() -> Vec<u8> {
    let body = "{\"type\":\"/docs#problem-too_many_connections\",\"title\":\"Too many requests\",\"status\":429,\
         \"detail\":\"this address holds too many open connections; close some or reuse one\",\
         \"code\":\"too_many_connections\"}";
    format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection over the cap with 429 and closes it, spending at most a second on it.
pub(crate) fn refuse(mut tcp: TcpStream, peer: SocketAddr) {
    tracing::debug!(%peer, "connection refused: too many from this address");
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = tcp.write_all(&refusal()).await;
            let _ = tcp.shutdown().await;
        })
        .await;
    });
}

/// The HTTP/1.1 connection settings of both listeners (plain and TLS).
pub(crate) fn http1(rules: &ConnectionRules) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(rules.header_timeout);
    builder
}

/// Serves `app` over plain HTTP on `listener` until `shutdown` completes,
/// then finishes the requests in progress.
pub(crate) async fn serve_plain(
    listener: TcpListener,
    app: Router,
    rules: ConnectionRules,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let limiter = Arc::new(ConnectionLimiter::default());
    // Each connection task holds a clone; when all are gone the last request is answered.
    let (open_tx, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let mut stop = stop_rx.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: pause instead of spinning.
                    tracing::warn!(cause = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let Some(slot) = limiter.admit(peer.ip(), &rules) else {
            refuse(tcp, peer);
            continue;
        };
        let app = app.clone();
        let open = open_tx.clone();
        let mut stop = stop_rx.clone();
        let builder = http1(&rules);
        tokio::spawn(async move {
            let (_open, _slot) = (open, slot);
            serve_connection(tcp, peer, app, &builder, &mut stop).await;
        });
    }
    drop(listener);
    drop(open_tx);
    let _ = all_closed.recv().await;
    Ok(())
}

/// Serves one accepted connection (plain TCP or a finished TLS stream) until
/// it ends or the stop flag is raised, when the request in progress is finished
/// first. Both listeners use it.
pub(crate) async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    builder: &hyper::server::conn::http1::Builder,
    stop: &mut watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // The peer address is what anonymous limits are counted against.
    let service = app.map_request(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    });
    let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = stopped(stop) => {
            // Finish the request in progress, then close.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, cause = %e, "connection ended with an error");
    }
}

/// Completes when the stop flag is raised (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_holds_at_most_its_share_and_proxies_are_exempt() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let rules =
            ConnectionRules { header_timeout: Duration::from_secs(1), max_per_ip: 2, exempt: Arc::from([proxy]) };
        let limiter = Arc::new(ConnectionLimiter::default());
        let a = limiter.admit(client, &rules).unwrap();
        let b = limiter.admit(client, &rules).unwrap();
        assert!(limiter.admit(client, &rules).is_none());
        drop(a);
        let c = limiter.admit(client, &rules).expect("a place freed");
        let proxied: Vec<Slot> = (0..10).map(|_| limiter.admit(proxy, &rules).unwrap()).collect();
        assert_eq!((limiter.held(client), limiter.held(proxy)), (2, 0));
        drop((b, c, proxied));
        assert_eq!(limiter.held(client), 0);
        let open = ConnectionRules { max_per_ip: 0, ..rules };
        let many: Vec<Slot> = (0..100).map(|_| limiter.admit(client, &open).unwrap()).collect();
        assert_eq!(many.len(), 100);
    }

    #[test]
    fn the_refusal_is_a_complete_problem_answer() {
        let text = String::from_utf8(refusal()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 429 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["code"], "too_many_connections");
    }
}
