//! HTTPS without a proxy in front: rustls with TLS 1.2 and 1.3 only, the
//! certificate and key re-read whenever their files change (so cert-manager or
//! certbot renewals need no restart), and an optional plain-HTTP listener that
//! only redirects to HTTPS.
//!
//! The files are read again every [`TlsOptions::poll`]; a new pair replaces the
//! served one only when it parses and the key matches the certificate, so a
//! renewal caught half-written keeps the old pair until the next look.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::connections::{serve_connection, stopped};

/// Where the certificate chain and key are, and how HTTPS is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// How often the files are looked at for a renewal.
    pub poll: Duration,
    /// A plain-HTTP address answering every request with a redirect to HTTPS.
    pub redirect_listen: Option<SocketAddr>,
}

impl TlsOptions {
    /// Certificate and key files, looked at every 10 s, no redirect listener.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> TlsOptions {
        TlsOptions { cert: cert.into(), key: key.into(), poll: Duration::from_secs(10), redirect_listen: None }
    }
}

/// Why a certificate or key cannot be used. Names the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TlsError {
    path: String,
    reason: String,
}

impl TlsError {
    fn at(path: &Path, reason: impl std::fmt::Display) -> TlsError {
        TlsError { path: path.display().to_string(), reason: reason.to_string() }
    }
}

impl From<TlsError> for std::io::Error {
    fn from(e: TlsError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// The served certificate, swapped when its files change.
pub struct CertReloader {
    opts: TlsOptions,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// Bytes of the (certificate, key) files last loaded.
    loaded: Mutex<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for CertReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertReloader").field("cert", &self.opts.cert).field("key", &self.opts.key).finish()
    }
}

impl CertReloader {
    /// Loads the pair; fails (naming the file) when either cannot be used.
    pub fn load(opts: TlsOptions) -> Result<Arc<CertReloader>, TlsError> {
        let provider = crypto_provider();
        let (cert_pem, key_pem) = read_pair(&opts)?;
        let key = certified(&provider, &opts, &cert_pem, &key_pem)?;
        Ok(Arc::new(CertReloader {
            opts,
            provider,
            current: RwLock::new(Arc::new(key)),
            loaded: Mutex::new((cert_pem, key_pem)),
        }))
    }

    /// Reads the files again and serves the new pair if they changed. `Ok(true)`
    /// when the served pair was replaced; an error leaves the old one served.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let (cert_pem, key_pem) = read_pair(&self.opts)?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.0 == cert_pem && loaded.1 == key_pem {
            return Ok(false);
        }
        let key = certified(&self.provider, &self.opts, &cert_pem, &key_pem)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        *loaded = (cert_pem, key_pem);
        Ok(true)
    }

    /// The rustls configuration: TLS 1.2 and 1.3 only, HTTP/1.1, this resolver.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::at(&self.opts.cert, e))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Looks at the files every `poll` until the process ends.
    fn watch(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.opts.poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let me = self.clone();
                match tokio::task::spawn_blocking(move || me.reload_if_changed()).await {
                    Ok(Ok(true)) => tracing::info!(cert = %self.opts.cert.display(), "TLS certificate reloaded"),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => tracing::warn!(cause = %e, "TLS certificate not reloaded; serving the previous one"),
                    Err(e) => tracing::warn!(cause = %e, "TLS certificate reload task failed"),
                }
            }
        });
    }
}

impl ResolvesServerCert for CertReloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// rustls over *ring*: it builds with a C compiler alone, where aws-lc-rs needs
/// cmake and takes minutes on our CI machines. rustls 0.23.48 deprecates it for
/// lacking post-quantum key exchange (X25519MLKEM768); clients that need that
/// should reach us through a proxy that offers it (docs/DEPLOYMENT.md, TLS).
#[allow(deprecated)]
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_pair(opts: &TlsOptions) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let cert = std::fs::read(&opts.cert).map_err(|e| TlsError::at(&opts.cert, e))?;
    let key = std::fs::read(&opts.key).map_err(|e| TlsError::at(&opts.key, e))?;
    Ok((cert, key))
}

fn certified(
    provider: &CryptoProvider,
    opts: &TlsOptions,
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::at(&opts.cert, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError::at(&opts.cert, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TlsError::at(&opts.key, format!("not a PEM private key: {e}")))?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::at(&opts.key, format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| TlsError::at(&opts.key, format!("does not match the certificate: {e}")))?;
    Ok(certified)
}

/// Longest a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` over TLS on `listener` until `shutdown` completes, then
/// finishes the requests in progress. Also serves the redirect listener, when
/// configured, until the same moment.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    opts: &TlsOptions,
    rules: crate::connections::ConnectionRules,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limiter = Arc::new(crate::connections::ConnectionLimiter::default());
    let reloader = CertReloader::load(opts.clone())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(reloader.server_config()?);
    reloader.watch();
    let https_port = listener.local_addr()?.port();
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let redirect = match opts.redirect_listen {
        Some(addr) => {
            let plain = crate::server::bind(addr)?;
            tracing::info!(address = %plain.local_addr()?, "redirecting plain HTTP to HTTPS");
            let mut stop = stop_rx.clone();
            let app = redirect_router(https_port);
            Some(tokio::spawn(async move {
                axum::serve(plain, app).with_graceful_shutdown(async move { stopped(&mut stop).await }).await
            }))
        }
        None => None,
    };
    tracing::info!(address = %listener.local_addr()?, "serving HTTPS");
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
            // Not worth a handshake: closed at once.
            tracing::debug!(%peer, "connection refused: too many from this address");
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let open = open_tx.clone();
        let mut stop = stop_rx.clone();
        let builder = crate::connections::http1(&rules);
        tokio::spawn(async move {
            let (_open, _slot) = (open, slot);
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, cause = %e, "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            serve_connection(stream, peer, app, &builder, &mut stop).await;
        });
    }
    drop(listener);
    drop(open_tx);
    let _ = all_closed.recv().await;
    if let Some(task) = redirect {
        task.await.map_err(std::io::Error::other)??;
    }
    Ok(())
}

/// A router that answers every request with `308 Permanent Redirect` to the
/// same host and path over HTTPS on `https_port`.
pub fn redirect_router(https_port: u16) -> Router {
    Router::new().fallback(move |req: Request| async move { redirect(&req, https_port) })
}

fn redirect(req: &Request, https_port: u16) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).and_then(host_only);
    let Some(host) = host else {
        return (StatusCode::BAD_REQUEST, "a Host header naming this server is required").into_response();
    };
    let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let target = format!("https://{host}{port}{path}");
    match (target.parse::<Uri>(), HeaderValue::from_str(&target)) {
        (Ok(_), Ok(location)) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response(),
        _ => (StatusCode::BAD_REQUEST, "the Host header is not a host name").into_response(),
    }
}

/// The host of a `Host` header without its port, if it is a plausible host
/// name or address (letters, digits, `.`, `-`, or a bracketed IPv6 address).
fn host_only(value: &str) -> Option<&str> {
    let host = if value.starts_with('[') {
        &value[..=value.find(']')?]
    } else {
        value.rsplit_once(':').map_or(value, |(h, _)| h)
    };
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    ok.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_only_drops_the_port_and_refuses_junk() {
        assert_eq!(host_only("example.org:8080"), Some("example.org"));
        assert_eq!(host_only("example.org"), Some("example.org"));
        assert_eq!(host_only("[::1]:80"), Some("[::1]"));
        assert_eq!(host_only("evil.example/path"), None);
        assert_eq!(host_only(""), None);
    }
}
