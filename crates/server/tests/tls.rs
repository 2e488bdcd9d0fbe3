//! HTTPS on a real socket: TLS 1.2 and 1.3 accepted, TLS 1.1 refused, a
//! certificate swapped on disk served without a restart, and the plain-HTTP
//! listener that only redirects. Certificates are made by the test (rcgen).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ntsb_search::SearchIndex;
use ntsb_server::{AppState, ServerOptions, TlsOptions};
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
        store.migrate().unwrap();
        let index = Arc::new(SearchIndex::open_or_create(&dir.path().join("index")).unwrap());
        Fixture { state: AppState::from_sqlite(store, index), _dir: dir }
    })
}

/// A self-signed certificate for `localhost` named `cn`: (certificate PEM, key PEM, certificate DER).
fn certificate(cn: &str) -> (String, String, CertificateDer<'static>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem(), cert.der().clone())
}

fn write_pair(dir: &Path, cert: &str, key: &str) {
    // Replace each file in one rename, as Kubernetes' secret volumes and certbot do.
    for (name, text) in [("tls.crt", cert), ("tls.key", key)] {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

async fn start(tls: TlsOptions) -> Running {
    let listener = ntsb_server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let opts = ServerOptions { tls: Some(tls), ..ServerOptions::default() };
    let task = tokio::spawn(ntsb_server::serve_on(listener, fixture().state.clone(), opts, async {
        let _ = stopped.await;
    }));
    Running { addr, stop: Some(stop), task }
}

/// A client trusting `trusted` and speaking only `version`.
fn client(
    trusted: &CertificateDer<'static>,
    version: &'static rustls::SupportedProtocolVersion,
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(ntsb_server::tls::crypto_provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// `GET /health` over TLS: the negotiated version, the server's certificate and the status line.
async fn get_health(
    addr: SocketAddr,
    trusted: &CertificateDer<'static>,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<(rustls::ProtocolVersion, CertificateDer<'static>, String), std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = client(trusted, version).connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
    let (_, conn) = tls.get_ref();
    let negotiated = conn.protocol_version().unwrap();
    let served = conn.peer_certificates().unwrap()[0].clone().into_owned();
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out);
    Ok((negotiated, served, text.lines().next().unwrap_or_default().to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = certificate("first");
    write_pair(dir.path(), &cert, &key);
    let server = start(TlsOptions::new(dir.path().join("tls.crt"), dir.path().join("tls.key"))).await;
    for (version, want) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let (negotiated, served, status) = get_health(server.addr, &der, version).await.unwrap();
        assert_eq!(negotiated, want);
        assert_eq!(served, der);
        assert_eq!(status, "HTTP/1.1 200 OK");
    }
    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = plain.read_to_end(&mut out).await;
    assert!(!String::from_utf8_lossy(&out).contains("HTTP/1.1 200"), "{out:?}");
    server.stop().await;
}

/// A ClientHello of `version` (legacy version field, no supported_versions
/// extension: how TLS 1.1 and 1.2 clients speak) offering ECDHE-ECDSA suites of
/// both eras, for `localhost`, with the P-256 group and ECDSA signatures.
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    let suites: [u16; 3] = [0xc02b, 0xc009, 0xc00a];
    let mut body = version.to_vec();
    body.extend([7u8; 32]); // random
    body.push(0); // no session id
    body.extend(((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]); // compression: null
    let mut ext = Vec::new();
    let host = b"localhost";
    let mut sni = Vec::new();
    sni.extend(((host.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend((host.len() as u16).to_be_bytes());
    sni.extend(host);
    ext.extend(0u16.to_be_bytes());
    ext.extend((sni.len() as u16).to_be_bytes());
    ext.extend(sni);
    ext.extend([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]); // ec_point_formats: uncompressed
    ext.extend([0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17]); // supported_groups: secp256r1
    ext.extend([0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]); // signature_algorithms: ecdsa_secp256r1_sha256
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut handshake = vec![1u8];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// Sends `hello` and returns the first record header and two bytes the server answers.
async fn first_answer(addr: SocketAddr, hello: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(hello).await.unwrap();
    let mut out = vec![0u8; 7];
    let mut got = 0;
    while got < out.len() {
        match tcp.read(&mut out[got..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    out.truncate(got);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_1_is_refused_with_a_fatal_alert() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = certificate("first");
    write_pair(dir.path(), &cert, &key);
    let server = start(TlsOptions::new(dir.path().join("tls.crt"), dir.path().join("tls.key"))).await;
    // The same hello as TLS 1.2 is answered with a ServerHello (a handshake record),
    // so what is refused below is the version alone.
    let tls12 = first_answer(server.addr, &client_hello([0x03, 0x03])).await;
    assert_eq!(tls12.first(), Some(&0x16), "a TLS 1.2 hello should get a ServerHello, got {tls12:?}");
    // As TLS 1.1: one fatal alert record (type 21, level 2) and no ServerHello.
    let tls11 = first_answer(server.addr, &client_hello([0x03, 0x02])).await;
    assert_eq!(tls11.len(), 7, "no alert: {tls11:?}");
    assert_eq!(tls11[0], 0x15, "expected an alert record, got {tls11:?}");
    assert_eq!(tls11[5], 2, "expected a fatal alert, got {tls11:?}");
    // The same server still serves a modern client.
    let (_, _, status) = get_health(server.addr, &der, &rustls::version::TLS13).await.unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, key_a, der_a) = certificate("before renewal");
    write_pair(dir.path(), &cert_a, &key_a);
    let mut tls = TlsOptions::new(dir.path().join("tls.crt"), dir.path().join("tls.key"));
    tls.poll = Duration::from_millis(50);
    let server = start(tls).await;
    let (_, served, _) = get_health(server.addr, &der_a, &rustls::version::TLS13).await.unwrap();
    assert_eq!(served, der_a);

    // A broken pair (key of another certificate) is not served: the old one stays.
    let (cert_b, key_b, der_b) = certificate("after renewal");
    let (_, key_other, _) = certificate("other");
    write_pair(dir.path(), &cert_b, &key_other);
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (_, served, _) = get_health(server.addr, &der_a, &rustls::version::TLS13).await.unwrap();
        assert_eq!(served, der_a, "a certificate with a mismatched key was served");
    }

    write_pair(dir.path(), &cert_b, &key_b);
    let mut renewed = false;
    for _ in 0..400 {
        match get_health(server.addr, &der_b, &rustls::version::TLS13).await {
            Ok((_, served, status)) if served == der_b => {
                assert_eq!(status, "HTTP/1.1 200 OK");
                renewed = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    assert!(renewed, "the renewed certificate was never served");
    server.stop().await;
}

#[tokio::test]
async fn unusable_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _, _) = certificate("a");
    let (_, key_other, _) = certificate("b");
    write_pair(dir.path(), &cert, &key_other);
    let err =
        ntsb_server::tls::CertReloader::load(TlsOptions::new(dir.path().join("tls.crt"), dir.path().join("tls.key")))
            .unwrap_err()
            .to_string();
    assert!(err.contains("tls.key") && err.contains("does not match"), "{err}");
    let err = ntsb_server::tls::CertReloader::load(TlsOptions::new(
        dir.path().join("missing.crt"),
        dir.path().join("tls.key"),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("missing.crt"), "{err}");
    std::fs::write(dir.path().join("junk.crt"), "not pem").unwrap();
    let err =
        ntsb_server::tls::CertReloader::load(TlsOptions::new(dir.path().join("junk.crt"), dir.path().join("tls.key")))
            .unwrap_err()
            .to_string();
    assert!(err.contains("junk.crt") && err.contains("no certificate"), "{err}");
}

#[tokio::test]
async fn the_plain_listener_only_redirects_to_https() {
    let app = ntsb_server::tls::redirect_router(8443);
    let req =
        Request::get("/api/v1/events?limit=2").header("host", "ntsb.example.org:8080").body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "https://ntsb.example.org:8443/api/v1/events?limit=2");
    let req = Request::post("/x").header("host", "bad/host").body(Body::empty()).unwrap();
    assert_eq!(app.clone().oneshot(req).await.unwrap().status(), StatusCode::BAD_REQUEST);
    let app443 = ntsb_server::tls::redirect_router(443);
    let req = Request::get("/").header("host", "ntsb.example.org").body(Body::empty()).unwrap();
    assert_eq!(app443.oneshot(req).await.unwrap().headers()["location"], "https://ntsb.example.org/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redirect_listener_runs_beside_https() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = certificate("first");
    write_pair(dir.path(), &cert, &key);
    // A free port for the plain listener.
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut tls = TlsOptions::new(dir.path().join("tls.crt"), dir.path().join("tls.key"));
    tls.redirect_listen = Some(plain);
    let server = start(tls).await;
    let mut answer = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = TcpStream::connect(plain).await {
            s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n").await.unwrap();
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.unwrap();
            answer = String::from_utf8_lossy(&out).into_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(answer.starts_with("HTTP/1.1 308"), "{answer}");
    let location = format!("location: https://localhost:{}/health", server.addr.port());
    assert!(answer.to_ascii_lowercase().contains(&location), "{answer}");
    let (_, _, status) = get_health(server.addr, &der, &rustls::version::TLS12).await.unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    server.stop().await;
}
