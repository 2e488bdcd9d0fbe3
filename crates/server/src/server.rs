//! Running the router on a socket until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};

use crate::connections::ConnectionRules;
use crate::routes::router_with;
use crate::state::AppState;

/// How the server behaves, beyond what it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Origins allowed to call the API from a browser (`https://example.org`);
    /// empty means CORS is off (same-origin only).
    pub cors_origins: Vec<String>,
    /// Production mode: adds `Strict-Transport-Security` (TLS is terminated in front).
    pub production: bool,
    /// Longest time to the response head before answering 503 `timeout`.
    pub request_timeout: Duration,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client (the last
    /// address in it); from anyone else the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Anonymous callers connecting from this machine (a loopback peer that is
    /// not a trusted proxy) meet no rate limit or daily quota. `serve --demo`
    /// sets it, so whoever tries the demo on their own machine is never
    /// throttled by it; credentials and limits for everyone else are unchanged.
    pub unlimited_loopback: bool,
    /// Which routes this process serves (separate API and ML tiers of one image).
    pub role: Role,
    /// Serve HTTPS with these files (TLS 1.2 and 1.3, reloaded on change)
    /// instead of plain HTTP.
    pub tls: Option<crate::tls::TlsOptions>,
    /// Longest time for a request's headers to arrive; a connection that takes
    /// longer (or stays idle between requests that long) is closed.
    pub header_timeout: Duration,
    /// Most connections one client address may hold open at once (0: no cap);
    /// more are answered 429 and closed. Trusted proxies are not capped.
    pub max_connections_per_ip: usize,
    /// Serve the dashboard's pages at `/` (`serve --no-dashboard` turns them off).
    pub dashboard: bool,
}

/// Default of [`ServerOptions::max_connections_per_ip`].
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 256;

/// The routes a process serves. One image runs as several tiers: the API tier
/// (everything but the models), the ML tier (the CPU-heavy model routes, so
/// scoring scales and fails apart from listings) or both in one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Every route (one process serves all).
    #[default]
    All,
    /// Every route except `/api/v1/ml/*` and `/api/v1/rag/*`.
    Api,
    /// `/health`, `/ready`, `/metrics`, `/api/v1/ml/*` and `/api/v1/rag/*` only.
    Ml,
}

impl Role {
    /// Path prefixes of the ML tier.
    const ML_PREFIXES: [&'static str; 2] = ["/api/v1/ml/", "/api/v1/rag/"];
    /// Routes every tier answers (probes and metrics).
    const OPERATIONS: [&'static str; 3] = ["/health", "/ready", "/metrics"];

    /// Whether a process of this role serves the route `path` (a route template).
    pub fn serves(self, path: &str) -> bool {
        let ml = Role::ML_PREFIXES.iter().any(|p| path.starts_with(p));
        match self {
            Role::All => true,
            Role::Api => !ml,
            Role::Ml => ml || Role::OPERATIONS.contains(&path),
        }
    }

    /// The role's name (`all`, `api`, `ml`), as the `--role` flag and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Api => "api",
            Role::Ml => "ml",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "all" => Ok(Role::All),
            "api" => Ok(Role::Api),
            "ml" => Ok(Role::Ml),
            other => Err(format!("role {other:?}: expected api, ml or all")),
        }
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            cors_origins: Vec::new(),
            production: false,
            request_timeout: Duration::from_secs(30),
            body_limit: 1024 * 1024,
            trusted_proxies: Vec::new(),
            unlimited_loopback: false,
            role: Role::All,
            tls: None,
            header_timeout: Duration::from_secs(10),
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            dashboard: true,
        }
    }
}

/// Binds `listen` and serves until `shutdown` completes, then finishes the
/// requests in progress.
pub async fn serve(
    state: AppState,
    listen: SocketAddr,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(bind(listen)?, state, opts, shutdown).await
}

/// Connections the kernel may hold completed but not yet accepted. tokio's
/// default (1,024) overflows when thousands of clients connect at once: the
/// kernel then drops their handshakes and they retry after 1, 3, 7 s, which
/// clients see as multi-second latency. The kernel caps it at
/// `net.core.somaxconn` (see docs/OPERATIONS.md).
pub const LISTEN_BACKLOG: u32 = 16_384;

/// A listener on `listen` with a [`LISTEN_BACKLOG`]-deep accept queue.
/// Call inside a tokio runtime.
pub fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if listen.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // Restart without waiting for the old process's connections to time out.
    socket.set_reuseaddr(true)?;
    socket.bind(listen)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves on an already bound listener (lets callers bind port 0 and learn the port).
pub async fn serve_on(
    listener: TcpListener,
    state: AppState,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // On shutdown the feed stops too: its streams end (SSE with a close event,
    // WebSockets with 1001), so the graceful stop does not wait on them.
    let live = state.live.clone();
    let shutdown = async move {
        shutdown.await;
        if let Some(live) = live {
            live.feed.stop();
        }
    };
    let app = router_with(state, &opts).map_err(std::io::Error::other)?;
    let rules = ConnectionRules {
        header_timeout: opts.header_timeout,
        max_per_ip: opts.max_connections_per_ip,
        exempt: opts.trusted_proxies.clone().into(),
    };
    if let Some(tls) = &opts.tls {
        return crate::tls::serve(listener, app, tls, rules, shutdown).await;
    }
    tracing::info!(address = %listener.local_addr()?, "serving");
    crate::connections::serve_plain(listener, app, rules, shutdown).await
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in progress");
}
