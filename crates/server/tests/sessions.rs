//! Dashboard sessions end to end: the real server on a socket, a store in a
//! temporary SQLite file, and an accounts engine on a hand-moved clock. Covers
//! the cookie's flags, idle and absolute expiry, the CSRF check of every form,
//! sign-out on the server, the proof-of-work challenge after failed sign-ins
//! (solved here in Rust), API keys through the account page, the admin page's
//! refusals, and that the JSON API never takes the cookie.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ntsb_auth::{Auth, AuthConfig, HashCost, ManualClock, MemoryCounters, Quotas, Role, SigningSecret, Tier};
use ntsb_search::SearchIndex;
use ntsb_server::{AppState, ServerOptions};
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "blue-Heron-7-ladder";
/// A start time for the clock (2026-12-01).
const T0: i64 = 1_796_083_200;

struct Server {
    addr: SocketAddr,
    clock: Arc<ManualClock>,
    auth: Auth,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(opts: ServerOptions) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("ntsb.sqlite")).unwrap());
    store.migrate().unwrap();
    let index = Arc::new(SearchIndex::open_or_create(&dir.path().join("index")).unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let open = Tier { daily: 0, per_second: 0 };
    let config = AuthConfig {
        hash_cost: HashCost::TEST,
        quotas: Quotas { anonymous: open, free: Tier { daily: 500, per_second: 0 }, premium: open, admin: open },
        ..AuthConfig::default()
    };
    let auth = Auth::new(
        store.clone(),
        Arc::new(MemoryCounters::new(clock.clone())),
        clock.clone(),
        SigningSecret::ephemeral().unwrap(),
        config,
    )
    .unwrap();
    let state = AppState::from_sqlite(store, index).with_auth(auth.clone());
    let listener = ntsb_server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        ntsb_server::serve_on(listener, state, opts, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Server { addr, clock, auth, _dir: dir, stop: Some(stop) }
}

/// One answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn set_cookies(&self) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.as_str()).collect()
    }

    /// The value a `Set-Cookie` of this answer gives cookie `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            let first = c.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }

    /// The `value` of the input named `name` in the form with id `form`.
    fn input(&self, form: &str, name: &str) -> String {
        let at = self.body.find(&format!("id=\"{form}\"")).unwrap_or_else(|| panic!("no form #{form}: {}", self.body));
        let rest = &self.body[at..];
        let end = rest.find("</form>").unwrap_or(rest.len());
        let rest = &rest[..end];
        let at = rest.find(&format!("name=\"{name}\"")).unwrap_or_else(|| panic!("no {name} in #{form}: {rest}"));
        let tag_start = rest[..at].rfind('<').unwrap();
        let tag = &rest[tag_start..];
        let tag = &tag[..tag.find('>').unwrap()];
        let v = tag.find("value=\"").map(|i| &tag[i + 7..]).unwrap_or("");
        v[..v.find('"').unwrap_or(0)].to_string()
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap().trim(), 16).unwrap();
        raw = &raw[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// One request on a fresh connection (`Connection: close`).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookies: &[(&str, &str)],
    form: Option<&[(&str, &str)]>,
) -> Answer {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if !cookies.is_empty() {
        let c: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        head.push_str(&format!("Cookie: {}\r\n", c.join("; ")));
    }
    let body = form.map(|f| form_urlencoded::Serializer::new(String::new()).extend_pairs(f.iter()).finish());
    if let Some(b) = &body {
        head.push_str(&format!("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    if let Some(b) = &body {
        s.write_all(b.as_bytes()).await.unwrap();
    }
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw)).await.expect("an answer").unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// An anonymous visitor's double-submit cookie and the sign-in form's token.
async fn anonymous_csrf(srv: &Server) -> (String, String) {
    let page = request(srv.addr, "GET", "/account", &[], None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page.cookie("ntsb_csrf").expect("a CSRF cookie");
    let token = page.input("sign-in", "csrf");
    assert_eq!(cookie, token, "double submit: the same value in both");
    (cookie, token)
}

async fn sign_in_answer(srv: &Server, email: &str, password: &str) -> Answer {
    let (cookie, token) = anonymous_csrf(srv).await;
    let form = [("csrf", token.as_str()), ("email", email), ("password", password), ("next", "/account")];
    request(srv.addr, "POST", "/account/sign-in", &[("ntsb_csrf", &cookie)], Some(&form)).await
}

/// Signs in; the session cookie's value.
async fn sign_in(srv: &Server, email: &str) -> String {
    let a = sign_in_answer(srv, email, PASSWORD).await;
    assert_eq!(a.status, 303, "{}", a.body);
    a.cookie("ntsb_session").expect("a session cookie")
}

async fn account(srv: &Server, session: &str) -> Answer {
    request(srv.addr, "GET", "/account", &[("ntsb_session", session)], None).await
}

fn signed_in(a: &Answer) -> bool {
    a.body.contains("id=\"account-summary\"")
}

async fn user(srv: &Server, email: &str, role: Role) {
    srv.auth.create_user(email, PASSWORD, role).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_http_only_strict_and_ends_on_the_server_at_sign_out() {
    let srv = start(ServerOptions::default()).await;
    user(&srv, "pilot@example.org", Role::Free).await;
    let a = sign_in_answer(&srv, "pilot@example.org", PASSWORD).await;
    assert_eq!((a.status, a.header("location")), (303, Some("/account")), "{}", a.body);
    let set = a.set_cookies().into_iter().find(|c| c.starts_with("ntsb_session=")).expect("the session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set.split("; ").any(|p| p == flag), "{flag} missing: {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP in development: no Secure flag ({set})");
    let session = a.cookie("ntsb_session").unwrap();
    assert_eq!(session.len(), 43, "256 random bits");
    let page = account(&srv, &session).await;
    assert!(signed_in(&page), "{}", page.body);
    assert!(page.body.contains("Signed in as pilot@example.org"), "the navigation shows who is signed in");
    assert_eq!(page.header("cache-control"), Some("no-store"));
    // A signed-in visitor's copy of a public page is theirs alone: never from or into the cache.
    let overview = request(srv.addr, "GET", "/", &[("ntsb_session", &session)], None).await;
    assert!(overview.body.contains("id=\"signed-in-as\""), "{}", overview.body);
    assert_eq!(overview.header("x-cache"), None);
    assert!(!request(srv.addr, "GET", "/", &[], None).await.body.contains("signed-in-as"));
    // The JSON API does not take the cookie.
    let me = request(srv.addr, "GET", "/api/v1/auth/me", &[("ntsb_session", &session)], None).await;
    assert_eq!(me.status, 401, "{}", me.body);
    // Sign out; the old cookie is refused from now on, wherever it was copied.
    let csrf = page.input("sign-out-form", "csrf");
    let out =
        request(srv.addr, "POST", "/account/sign-out", &[("ntsb_session", &session)], Some(&[("csrf", &csrf)])).await;
    assert_eq!((out.status, out.header("location")), (303, Some("/account?done=signed-out")), "{}", out.body);
    assert_eq!(out.cookie("ntsb_session").as_deref(), Some(""), "the cookie is cleared");
    let after = account(&srv, &session).await;
    assert!(!signed_in(&after) && after.body.contains("id=\"sign-in\""), "{}", after.body);
    let predict = request(srv.addr, "GET", "/predict", &[("ntsb_session", &session)], None).await;
    assert_eq!((predict.status, predict.header("location")), (303, Some("/account?next=%2Fpredict")));
    // Both ends are in the audit trail.
    let events = srv.auth.audit_events(ntsb_auth::AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert!(names.contains(&"session_created") && names.contains(&"session_ended"), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_production_the_cookie_is_secure_with_the_host_prefix() {
    let srv = start(ServerOptions { production: true, ..Default::default() }).await;
    user(&srv, "pilot@example.org", Role::Free).await;
    let page = request(srv.addr, "GET", "/account", &[], None).await;
    let cookie = page.cookie("__Host-ntsb_csrf").expect("a __Host- CSRF cookie");
    assert!(page.set_cookies()[0].contains("; Secure"), "{:?}", page.set_cookies());
    let token = page.input("sign-in", "csrf");
    let form = [("csrf", token.as_str()), ("email", "pilot@example.org"), ("password", PASSWORD)];
    let a = request(srv.addr, "POST", "/account/sign-in", &[("__Host-ntsb_csrf", &cookie)], Some(&form)).await;
    assert_eq!(a.status, 303, "{}", a.body);
    let set = a.set_cookies().into_iter().find(|c| c.starts_with("__Host-ntsb_session=")).expect("session cookie");
    assert!(set.ends_with("; Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_after_an_idle_hour_and_after_eight_hours_at_most() {
    let srv = start(ServerOptions::default()).await;
    user(&srv, "pilot@example.org", Role::Free).await;
    // Idle: 59 minutes apart is fine, 60 is not.
    let s = sign_in(&srv, "pilot@example.org").await;
    srv.clock.advance(59 * 60);
    assert!(signed_in(&account(&srv, &s).await));
    srv.clock.advance(59 * 60);
    assert!(signed_in(&account(&srv, &s).await), "each request restarts the idle time");
    srv.clock.advance(60 * 60);
    assert!(!signed_in(&account(&srv, &s).await), "idle for an hour");
    srv.clock.advance(-60 * 60);
    assert!(!signed_in(&account(&srv, &s).await), "an ended session is gone for good");
    // Absolute: active every 50 minutes, still over at 8 hours.
    let s = sign_in(&srv, "pilot@example.org").await;
    let mut elapsed = 0;
    while elapsed + 50 * 60 < 8 * 3600 {
        srv.clock.advance(50 * 60);
        elapsed += 50 * 60;
        assert!(signed_in(&account(&srv, &s).await), "active at {elapsed} s");
    }
    srv.clock.advance(8 * 3600 - elapsed);
    assert!(!signed_in(&account(&srv, &s).await), "eight hours after sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_right_csrf_token_are_refused() {
    let srv = start(ServerOptions::default()).await;
    user(&srv, "pilot@example.org", Role::Free).await;
    user(&srv, "other@example.org", Role::Free).await;
    let (cookie, token) = anonymous_csrf(&srv).await;
    let creds = |csrf: &'static str| vec![("csrf", csrf), ("email", "pilot@example.org"), ("password", PASSWORD)];
    // Anonymous forms: no token, a wrong one, the right one without its cookie.
    let none = request(srv.addr, "POST", "/account/sign-in", &[("ntsb_csrf", &cookie)], Some(&creds("")[1..])).await;
    assert_eq!(none.status, 403, "{}", none.body);
    assert!(none.body.contains("csrf"), "an error page naming the code: {}", none.body);
    let wrong = request(srv.addr, "POST", "/account/sign-in", &[("ntsb_csrf", &cookie)], Some(&creds("x.y"))).await;
    assert_eq!(wrong.status, 403);
    let mut good = creds("");
    good[0].1 = Box::leak(token.clone().into_boxed_str());
    assert_eq!(request(srv.addr, "POST", "/account/sign-in", &[], Some(&good)).await.status, 403, "no cookie");
    // A forged pair (same value in cookie and form, not signed by the server).
    let forged = "A".repeat(43) + ".AAAA";
    let mut f = creds("");
    f[0].1 = Box::leak(forged.clone().into_boxed_str());
    assert_eq!(request(srv.addr, "POST", "/account/sign-in", &[("ntsb_csrf", &forged)], Some(&f)).await.status, 403);
    // Signed-in forms: the token is bound to the session.
    let a = sign_in(&srv, "pilot@example.org").await;
    let b = sign_in(&srv, "other@example.org").await;
    let b_token = account(&srv, &b).await.input("create-key", "csrf");
    let a_token = account(&srv, &a).await.input("create-key", "csrf");
    assert_ne!(a_token, b_token);
    for bad in ["", "not-a-token", b_token.as_str(), token.as_str()] {
        let r = request(
            srv.addr,
            "POST",
            "/account/keys",
            &[("ntsb_session", &a), ("ntsb_csrf", &cookie)],
            Some(&[("csrf", bad), ("name", "k")]),
        )
        .await;
        assert_eq!(r.status, 403, "token {bad:?}: {}", r.body);
    }
    assert!(
        srv.auth.list_keys(&srv.auth.authenticate_web(&a).await.unwrap()).await.unwrap().is_empty(),
        "nothing made"
    );
    let ok =
        request(srv.addr, "POST", "/account/keys", &[("ntsb_session", &a)], Some(&[("csrf", &a_token), ("name", "k")]))
            .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

/// Finds the challenge's solution the way the browser's script does.
fn solve(salt: &str, bits: u32) -> u64 {
    (0u64..)
        .find(|n| {
            let d = Sha256::digest(format!("{salt}:{n}").as_bytes());
            let mut zeros = 0;
            for b in d.iter() {
                if *b == 0 {
                    zeros += 8;
                } else {
                    zeros += b.leading_zeros();
                    break;
                }
            }
            zeros >= bits
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_three_failed_sign_ins_the_form_demands_a_solved_challenge() {
    let srv = start(ServerOptions::default()).await;
    user(&srv, "pilot@example.org", Role::Free).await;
    for i in 0..3 {
        let page = request(srv.addr, "GET", "/account", &[], None).await;
        assert!(!page.body.contains("id=\"challenge\""), "no challenge after {i} failures");
        let a = sign_in_answer(&srv, "pilot@example.org", "wrong-password-1234").await;
        assert_eq!(a.status, 401, "{}", a.body);
        assert!(a.body.contains("id=\"sign-in-error\""), "the error is on the form: {}", a.body);
    }
    let (cookie, _) = anonymous_csrf(&srv).await;
    let page = request(srv.addr, "GET", "/account", &[("ntsb_csrf", &cookie)], None).await;
    assert!(
        page.body.contains("id=\"challenge\"") && page.body.contains("src=\"/assets/challenge.js\""),
        "{}",
        page.body
    );
    let js = request(srv.addr, "GET", "/assets/challenge.js", &[], None).await;
    assert_eq!((js.status, js.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    let field = |name: &str| page.input("sign-in", name);
    let (salt, bits) = (field("pow_salt"), field("pow_bits").parse::<u32>().unwrap());
    assert!(bits >= 16, "{bits}");
    let mut form: Vec<(&str, String)> =
        ["csrf", "pow_salt", "pow_bits", "pow_expires", "pow_signature"].iter().map(|n| (*n, field(n))).collect();
    form.push(("email", "pilot@example.org".into()));
    form.push(("password", PASSWORD.into()));
    let addr = srv.addr;
    let send = |form: Vec<(&'static str, String)>| {
        let cookie = cookie.clone();
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            request(addr, "POST", "/account/sign-in", &[("ntsb_csrf", &cookie)], Some(&pairs)).await
        }
    };
    // The right password without the solution, or with a wrong one: refused.
    let unsolved = send(form.clone()).await;
    assert_eq!(unsolved.status, 403, "{}", unsolved.body);
    assert!(unsolved.body.contains("puzzle"), "{}", unsolved.body);
    let mut wrong = form.clone();
    wrong.push(("pow_solution", "x".into()));
    assert_eq!(send(wrong).await.status, 403);
    // Solved: signed in.
    let mut solved = form.clone();
    solved.push(("pow_solution", solve(&salt, bits).to_string()));
    let ok = send(solved.clone()).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert!(ok.cookie("ntsb_session").is_some());
    // A solution is accepted once.
    assert_eq!(send(solved).await.status, 403, "a spent challenge");
    // A forged challenge (our salt, an easier difficulty) is refused.
    let mut easy: Vec<(&str, String)> = form.iter().filter(|(k, _)| *k != "pow_bits").cloned().collect();
    easy.push(("pow_bits", "1".into()));
    easy.push(("pow_solution", solve(&salt, 1).to_string()));
    assert_eq!(send(easy).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_made_shown_once_listed_and_revoked_through_the_account_page() {
    let srv = start(ServerOptions::default()).await;
    user(&srv, "pilot@example.org", Role::Free).await;
    let s = sign_in(&srv, "pilot@example.org").await;
    let page = account(&srv, &s).await;
    assert!(page.body.contains("id=\"no-keys\""));
    assert!(page.body.contains("id=\"usage-limit\" value=\"500\""), "usage against the daily quota: {}", page.body);
    let csrf = page.input("create-key", "csrf");
    // A bad name is refused on the form, naming the field.
    let bad =
        request(srv.addr, "POST", "/account/keys", &[("ntsb_session", &s)], Some(&[("csrf", &csrf), ("name", " ")]))
            .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("id=\"keys-name-error\"") && bad.body.contains("aria-invalid=\"true\""), "{}", bad.body);
    let made = request(
        srv.addr,
        "POST",
        "/account/keys",
        &[("ntsb_session", &s)],
        Some(&[("csrf", &csrf), ("name", "laptop <b>")]),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let at = made.body.find("id=\"new-key\">").expect("the key, shown once") + "id=\"new-key\">".len();
    let key = made.body[at..at + 48].to_string();
    assert!(key.starts_with("ntsb_"), "{key}");
    assert!(made.body.contains("laptop &lt;b&gt;"), "names are escaped");
    let me = request_with_key(&srv, &key).await;
    assert_eq!(me, 200, "the key works on the API");
    let listed = account(&srv, &s).await;
    assert!(!listed.body.contains(&key), "never shown again");
    let id = srv.auth.list_keys(&srv.auth.authenticate_web(&s).await.unwrap()).await.unwrap()[0].id.clone();
    assert!(listed.body.contains(&format!("id=\"key-{id}\"")));
    let revoke = request(
        srv.addr,
        "POST",
        &format!("/account/keys/{id}/revoke"),
        &[("ntsb_session", &s)],
        Some(&[("csrf", &csrf)]),
    )
    .await;
    assert_eq!((revoke.status, revoke.header("location")), (303, Some("/account?done=key-revoked")), "{}", revoke.body);
    assert_eq!(request_with_key(&srv, &key).await, 401, "a revoked key is refused");
    assert!(account(&srv, &s).await.body.contains("revoked "));
}

async fn request_with_key(srv: &Server, key: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let head = format!("GET /api/v1/auth/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-Key: {key}\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    String::from_utf8_lossy(&raw).split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_is_for_administrators_and_changes_roles_with_csrf() {
    let srv = start(ServerOptions::default()).await;
    user(&srv, "pilot@example.org", Role::Free).await;
    user(&srv, "boss@example.org", Role::Admin).await;
    let anonymous = request(srv.addr, "GET", "/admin", &[], None).await;
    assert_eq!((anonymous.status, anonymous.header("location")), (303, Some("/account?next=%2Fadmin")));
    let free = sign_in(&srv, "pilot@example.org").await;
    let refused = request(srv.addr, "GET", "/admin", &[("ntsb_session", &free)], None).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("<html") && refused.body.contains("admin_required"),
        "an HTML page: {}",
        refused.body
    );
    assert!(!account(&srv, &free).await.body.contains("href=\"/admin\""), "no Admin link for others");
    let boss = sign_in(&srv, "boss@example.org").await;
    let page = request(srv.addr, "GET", "/admin", &[("ntsb_session", &boss)], None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for id in ["users", "audit", "loads"] {
        assert!(page.body.contains(&format!("<table id=\"{id}\"")), "{id}");
    }
    assert!(page.body.contains("session_created"), "the audit log shows sessions");
    let pilot = srv.auth.find_user("pilot@example.org").await.unwrap();
    let csrf = page.input(&format!("user-{}", pilot.id), "csrf");
    let path = format!("/admin/users/{}/role", pilot.id);
    let no_token = request(srv.addr, "POST", &path, &[("ntsb_session", &boss)], Some(&[("role", "premium")])).await;
    assert_eq!(no_token.status, 403);
    let by_free =
        request(srv.addr, "POST", &path, &[("ntsb_session", &free)], Some(&[("csrf", &csrf), ("role", "admin")])).await;
    assert_eq!(by_free.status, 403);
    let changed =
        request(srv.addr, "POST", &path, &[("ntsb_session", &boss)], Some(&[("csrf", &csrf), ("role", "premium")]))
            .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_eq!(srv.auth.find_user("pilot@example.org").await.unwrap().role, Role::Premium);
    // Disabling ends the account's sessions at once.
    let path = format!("/admin/users/{}/disabled", pilot.id);
    let off =
        request(srv.addr, "POST", &path, &[("ntsb_session", &boss)], Some(&[("csrf", &csrf), ("disabled", "true")]))
            .await;
    assert_eq!(off.status, 303, "{}", off.body);
    assert!(!signed_in(&account(&srv, &free).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_predict_page_needs_a_session_and_says_when_no_model_is_loaded() {
    let srv = start(ServerOptions::default()).await;
    user(&srv, "pilot@example.org", Role::Free).await;
    let s = sign_in(&srv, "pilot@example.org").await;
    let page = request(srv.addr, "GET", "/predict", &[("ntsb_session", &s)], None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"no-model\"") && page.body.contains("id=\"predict-model\""), "{}", page.body);
    let asked = request(srv.addr, "GET", "/predict?model=risk&latitude=abc", &[("ntsb_session", &s)], None).await;
    assert!(asked.body.contains("id=\"predict-error\""), "{}", asked.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_and_changing_the_password_show_the_engines_refusals_on_the_form() {
    let srv = start(ServerOptions::default()).await;
    let page = request(srv.addr, "GET", "/account", &[], None).await;
    let cookie = page.cookie("ntsb_csrf").unwrap();
    let csrf = page.input("register", "csrf");
    let weak = request(
        srv.addr,
        "POST",
        "/account/register",
        &[("ntsb_csrf", &cookie)],
        Some(&[("csrf", &csrf), ("email", "new@example.org"), ("password", "password")]),
    )
    .await;
    assert_eq!(weak.status, 400, "{}", weak.body);
    assert!(weak.body.contains("id=\"register-password-error\""), "the field is named: {}", weak.body);
    let ok = request(
        srv.addr,
        "POST",
        "/account/register",
        &[("ntsb_csrf", &cookie)],
        Some(&[("csrf", &csrf), ("email", "new@example.org"), ("password", PASSWORD)]),
    )
    .await;
    assert_eq!((ok.status, ok.header("location")), (303, Some("/account?done=registered")), "{}", ok.body);
    let s = sign_in(&srv, "new@example.org").await;
    let csrf = account(&srv, &s).await.input("password", "csrf");
    let wrong = request(
        srv.addr,
        "POST",
        "/account/password",
        &[("ntsb_session", &s)],
        Some(&[("csrf", &csrf), ("current_password", "nope-nope-nope"), ("new_password", "green-Otter-9-kettle-drum")]),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("id=\"password-current-password-error\""), "{}", wrong.body);
    let changed = request(
        srv.addr,
        "POST",
        "/account/password",
        &[("ntsb_session", &s)],
        Some(&[("csrf", &csrf), ("current_password", PASSWORD), ("new_password", "green-Otter-9-kettle-drum")]),
    )
    .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert!(!signed_in(&account(&srv, &s).await), "a password change ends every session");
}
