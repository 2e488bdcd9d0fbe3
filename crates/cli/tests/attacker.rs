//! The attacker suite: the real `ntsb serve` on a random port, attacked the
//! way the internet will — forged, expired, tampered and `alg: none` tokens,
//! replayed refresh tokens, other users' key ids, privilege escalation through
//! every admin route, SQL and script strings in every field, oversized
//! bodies, quota exhaustion, password guessing. Every refusal must carry the
//! right status and an RFC 9457 problem document, and no secret may reach the log.
//!
//! Limits that depend on the wall clock (per-second bursts, per-minute login
//! attempts) are configured off here and tested with a manual clock in
//! `crates/auth`; the counts asserted here (100 a day, 10 failures) cannot
//! expire during a test run.

mod common;

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Server, run_ok, send, serve_with_env};
use ntsb_auth::SigningSecret;
use ntsb_auth::jwt::{self, Claims};
use serde_json::{Value, json};

const SECRET: &str = "attacker-suite-secret-0123456789abcdef";
const PW: &str = "blue-Heron-7-ladder";

struct Api<'a> {
    server: &'a Server,
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.head, self.body))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// Asserts a problem document with this status and code.
    fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert_eq!(self.header("content-type").as_deref(), Some("application/problem+json"), "{}", self.head);
        let p = self.json();
        assert_eq!((p["status"].as_u64(), p["code"].as_str()), (Some(u64::from(status)), Some(code)), "{p}");
        assert!(p["title"].is_string() && p["detail"].is_string() && p["type"].is_string(), "{p}");
        p
    }
}

impl Api<'_> {
    fn call(&self, method: &str, path: &str, auth: &[&str], body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, head, body) = send(self.server.port, method, path, auth, body.as_bytes()).expect("request");
        Reply { status, head, body }
    }
}

fn bearer(t: &str) -> String {
    format!("Authorization: Bearer {t}")
}

fn key(k: &str) -> String {
    format!("X-API-Key: {k}")
}

fn cli_key(dir: &Path, email: &str) -> (String, String) {
    let out = run_ok(dir, &["--demo", "key", "create", "--email", email, "--name", "suite", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["id"].as_str().unwrap().to_string(), v["key"].as_str().unwrap().to_string())
}

fn cli_user(dir: &Path, email: &str, role: &str) {
    let out = common::ntsb(dir)
        .args(["--demo", "user", "create", "--email", email, "--role", role, "--password-env", "SUITE_PW"])
        .env("SUITE_PW", PW)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn attacks_fail_safely_with_the_right_status_and_a_problem_document() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(d, &["--demo", "demo", "--events", "50"]);
    cli_user(d, "admin@example.org", "admin");
    cli_user(d, "carol@example.org", "free");
    let (_, carol_key) = cli_key(d, "carol@example.org");
    let server = serve_with_env(
        d,
        &["--demo"],
        &[
            ("NTSB_JWT_SECRET", SECRET),
            ("NTSB_LOG", "info"),
            ("NTSB_BURST_FREE", "0"),
            ("NTSB_BURST_PREMIUM", "0"),
            ("NTSB_LOGIN_ATTEMPTS_PER_MINUTE", "1000"),
            ("NTSB_RESET_OUTBOX", &d.join("outbox").to_string_lossy()),
        ],
        Duration::from_secs(60),
    );
    let api = Api { server: &server };

    // --- accounts work --------------------------------------------------------------
    let r = api.call("POST", "/api/v1/auth/register", &[], Some(json!({"email": "alice@example.org", "password": PW})));
    assert_eq!(r.status, 201, "{}", r.body);
    let alice_id = r.json()["id"].as_i64().unwrap();
    api.call("POST", "/api/v1/auth/register", &[], Some(json!({"email": "bob@example.org", "password": PW})));
    let login = |email: &str| {
        let r = api.call("POST", "/api/v1/auth/login", &[], Some(json!({"email": email, "password": PW})));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
        let v = r.json();
        assert_eq!((v["token_type"].as_str(), v["expires_in"].as_i64()), (Some("Bearer"), Some(3600)));
        (v["access_token"].as_str().unwrap().to_string(), v["refresh_token"].as_str().unwrap().to_string())
    };
    let (alice, alice_refresh) = login("alice@example.org");
    let (bob, _) = login("bob@example.org");
    let (admin, _) = login("admin@example.org");
    let me = api.call("GET", "/api/v1/auth/me", &[&bearer(&alice)], None);
    assert_eq!((me.status, me.json()["email"].as_str()), (200, Some("alice@example.org")));

    // --- forged, expired, tampered and alg:none tokens --------------------------------
    let now = chrono_now();
    let claims = |sub: i64, exp: i64| Claims {
        iss: "ntsb".into(),
        sub,
        sid: "s_whatever".into(),
        iat: now - 10,
        exp,
        typ: "access".into(),
    };
    let other = SigningSecret::new(b"not-the-server-secret-0123456789abcdef".to_vec(), "t").unwrap();
    let real = SigningSecret::new(SECRET.as_bytes().to_vec(), "t").unwrap();
    let forged = jwt::sign(&claims(alice_id, now + 3600), &other);
    let expired = jwt::sign(&claims(alice_id, now - 1), &real);
    // Signed with the server's own key, but valid for ten years: refused (a leaked key mints nothing lasting).
    let ten_years = jwt::sign(&claims(alice_id, now + 10 * 365 * 86_400), &real);
    let parts: Vec<&str> = alice.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!(1);
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let hs512 = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#), parts[1], parts[2]);
    for (what, token) in [
        ("forged", &forged),
        ("expired", &expired),
        ("ten years", &ten_years),
        ("tampered", &tampered),
        ("alg none", &alg_none),
        ("hs512", &hs512),
        ("junk", &"x.y.z".to_string()),
    ] {
        for path in ["/api/v1/auth/me", "/api/v1/events?limit=1", "/api/v1/admin/users"] {
            let r = api.call("GET", path, &[&bearer(token)], None);
            let p = r.problem(401, "unauthenticated");
            assert!(r.header("www-authenticate").is_some(), "{what} {path}");
            assert!(!p["detail"].as_str().unwrap().contains("signature"), "the reason stays in the log: {p}");
        }
    }
    api.call("GET", "/api/v1/auth/me", &["Authorization: Basic YWRtaW46YWRtaW4="], None)
        .problem(401, "unauthenticated");
    api.call("GET", "/api/v1/auth/me", &[&bearer(&alice), &key(&carol_key)], None).problem(401, "unauthenticated");
    api.call("GET", "/api/v1/export/events.csv", &[&key("ntsb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")], None)
        .problem(401, "unauthenticated");

    // --- refresh rotation and reuse -----------------------------------------------------
    let r = api.call("POST", "/api/v1/auth/refresh", &[], Some(json!({"refresh_token": alice_refresh})));
    assert_eq!(r.status, 200, "{}", r.body);
    let rotated = r.json()["refresh_token"].as_str().unwrap().to_string();
    let alice2 = r.json()["access_token"].as_str().unwrap().to_string();
    api.call("POST", "/api/v1/auth/refresh", &[], Some(json!({"refresh_token": alice_refresh})))
        .problem(401, "unauthenticated");
    api.call("POST", "/api/v1/auth/refresh", &[], Some(json!({"refresh_token": rotated})))
        .problem(401, "unauthenticated");
    api.call("GET", "/api/v1/auth/me", &[&bearer(&alice2)], None).problem(401, "unauthenticated");
    api.call("GET", "/api/v1/auth/me", &[&bearer(&alice)], None).problem(401, "unauthenticated");
    let (alice, _) = login("alice@example.org");

    // --- API keys: shown once, owner-only ------------------------------------------------
    let r = api.call("POST", "/api/v1/auth/api-keys", &[&bearer(&bob)], Some(json!({"name": "bob's laptop"})));
    assert_eq!(r.status, 201, "{}", r.body);
    let (bob_key_id, bob_key) =
        (r.json()["id"].as_str().unwrap().to_string(), r.json()["key"].as_str().unwrap().to_string());
    let listed = api.call("GET", "/api/v1/auth/api-keys", &[&bearer(&bob)], None);
    assert!(listed.status == 200 && !listed.body.contains(&bob_key), "the key is never shown again");
    api.call("DELETE", &format!("/api/v1/auth/api-keys/{bob_key_id}"), &[&bearer(&alice)], None)
        .problem(404, "not_found");
    assert_eq!(api.call("GET", "/api/v1/auth/me", &[&key(&bob_key)], None).status, 200, "bob's key survives");
    // A key cannot manage keys (a leaked key must not mint more).
    api.call("POST", "/api/v1/auth/api-keys", &[&key(&bob_key)], Some(json!({"name": "x"})))
        .problem(403, "session_required");
    let r = api.call("GET", "/api/v1/export/events.csv?state=CA", &[&key(&bob_key)], None);
    assert_eq!(r.status, 200, "exports with a key");
    api.call("GET", "/api/v1/export/events.csv", &[], None).problem(401, "unauthenticated");
    api.call("POST", "/api/v1/ml/predict", &[], Some(json!({"model": "fatal", "features": {}})))
        .problem(401, "unauthenticated");

    // --- privilege escalation through every admin route ----------------------------------
    let admin_routes: [(&str, String, Option<Value>); 5] = [
        ("GET", "/api/v1/admin/users".into(), None),
        ("PUT", format!("/api/v1/admin/users/{alice_id}/role"), Some(json!({"role": "admin"}))),
        ("PUT", format!("/api/v1/admin/users/{alice_id}/disabled"), Some(json!({"disabled": false}))),
        ("DELETE", format!("/api/v1/admin/users/{alice_id}/api-keys"), None),
        ("GET", "/api/v1/admin/audit".into(), None),
    ];
    for (method, path, body) in &admin_routes {
        api.call(method, path, &[], body.clone()).problem(401, "unauthenticated");
        api.call(method, path, &[&bearer(&alice)], body.clone()).problem(403, "admin_required");
        api.call(method, path, &[&key(&bob_key)], body.clone()).problem(403, "admin_required");
        api.call(method, path, &[&key(&carol_key)], body.clone()).problem(403, "admin_required");
    }
    let me = api.call("GET", "/api/v1/auth/me", &[&bearer(&alice)], None).json();
    assert_eq!(me["role"], "free", "no escalation happened");
    // Admins can.
    let r = api.call(
        "PUT",
        &format!("/api/v1/admin/users/{alice_id}/role"),
        &[&bearer(&admin)],
        Some(json!({"role": "premium"})),
    );
    assert_eq!((r.status, r.json()["role"].as_str()), (200, Some("premium")), "{}", r.body);
    assert_eq!(api.call("GET", "/api/v1/auth/me", &[&bearer(&alice)], None).json()["role"], "premium", "at once");

    // --- SQL injection and script strings in every parameter and body field --------------
    let evil = [
        "' OR '1'='1",
        "1; DROP TABLE users; --",
        "<script>alert(1)</script>",
        "\" onmouseover=\"alert(1)",
        "%00\u{0}x",
        "../../etc/passwd",
    ];
    for s in evil {
        let enc: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
        let bodies = [
            ("POST", "/api/v1/auth/register".to_string(), json!({"email": s, "password": s})),
            (
                "POST",
                "/api/v1/auth/register".to_string(),
                json!({"email": format!("{}@example.org", s.replace(' ', "")), "password": PW}),
            ),
            ("POST", "/api/v1/auth/login".to_string(), json!({"email": s, "password": s})),
            ("POST", "/api/v1/auth/login".to_string(), json!({"email": "alice@example.org", "password": s})),
            ("POST", "/api/v1/auth/refresh".to_string(), json!({"refresh_token": s})),
            ("POST", "/api/v1/auth/password-reset".to_string(), json!({"email": s})),
            ("POST", "/api/v1/auth/password-reset/confirm".to_string(), json!({"token": s, "new_password": s})),
            ("PUT", format!("/api/v1/admin/users/{alice_id}/role"), json!({"role": s})),
            ("PUT", format!("/api/v1/admin/users/{alice_id}/disabled"), json!({"disabled": s})),
            ("POST", "/api/v1/ml/predict".to_string(), json!({"model": s, "ev_id": s})),
        ];
        for (method, path, body) in bodies {
            let r = api.call(method, &path, &[&bearer(&admin)], Some(body.clone()));
            assert!(
                matches!(r.status, 200 | 201 | 400 | 401 | 403 | 404 | 409 | 429 | 503),
                "{method} {path} {body}: {}",
                r.status
            );
            if r.status >= 400 {
                r.problem(r.status, r.json()["code"].as_str().unwrap());
            }
        }
        let r =
            api.call("POST", "/api/v1/auth/api-keys", &[&bearer(&bob)], Some(json!({"name": s.replace('\u{0}', "")})));
        assert_eq!(r.status, 201, "names are data: {}", r.body);
        assert_eq!(r.json()["name"].as_str(), Some(s.replace('\u{0}', "").trim()));
        for path in [
            format!("/api/v1/admin/users?after={enc}"),
            format!("/api/v1/admin/users?limit={enc}"),
            format!("/api/v1/admin/audit?event={enc}"),
            format!("/api/v1/admin/audit?user_id={enc}"),
            format!("/api/v1/admin/audit?before={enc}"),
            format!("/api/v1/admin/users/{enc}/role"),
            format!("/api/v1/auth/api-keys/{enc}"),
            format!("/api/v1/events?state={enc}"),
            format!("/api/v1/events/{enc}"),
            format!("/api/v1/search?q={enc}"),
        ] {
            for method in ["GET", "PUT", "DELETE"] {
                let r = api.call(method, &path, &[&bearer(&admin)], Some(json!({"role": "free"})));
                assert!(r.status < 500, "{method} {path}: {}\n{}", r.status, r.body);
                if r.status >= 400 {
                    r.problem(r.status, r.json()["code"].as_str().unwrap());
                    // Echoed input only ever travels inside JSON strings, never as HTML.
                    assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"));
                }
            }
        }
    }
    let users = api.call("GET", "/api/v1/admin/users", &[&bearer(&admin)], None).json();
    assert!(users["items"].as_array().unwrap().len() >= 4, "the users table is intact");
    api.call("POST", "/api/v1/auth/register", &[], Some(json!({"email": "alice@example.org", "password": PW})))
        .problem(409, "conflict");
    api.call("POST", "/api/v1/auth/register", &[], Some(json!({"email": "x@example.org"})))
        .problem(400, "invalid_parameter");
    let p = api
        .call("POST", "/api/v1/auth/login", &[], Some(json!({"email": "x@example.org", "password": PW, "admin": true})))
        .problem(400, "invalid_parameter");
    assert_eq!(p["parameter"], "admin");

    // --- oversized bodies ---------------------------------------------------------------
    let big = format!("{{\"email\":\"a@b.org\",\"password\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let (status, _, body) = send(server.port, "POST", "/api/v1/auth/login", &[], big.as_bytes()).unwrap();
    assert_eq!(status, 413, "{body}");
    let medium = format!("{{\"email\":\"a@b.org\",\"password\":\"{}\"}}", "x".repeat(20 * 1024));
    let (status, _, body) = send(server.port, "POST", "/api/v1/auth/register", &[], medium.as_bytes()).unwrap();
    assert_eq!(status, 413, "account bodies are small: {body}");
    assert!(body.contains("payload_too_large"), "{body}");

    // --- the 101st request of a free user -----------------------------------------------
    for i in 1..=100u64 {
        let r = api.call("GET", "/api/v1/stats/summary", &[&key(&carol_key)], None);
        assert_eq!(r.status, 200, "request {i}: {}", r.body);
        assert_eq!(r.header("ratelimit-limit").as_deref(), Some("100"));
        assert_eq!(r.header("ratelimit-remaining"), Some((100 - i).to_string()));
        assert!(r.header("ratelimit-reset").unwrap().parse::<u64>().unwrap() <= 86_400);
    }
    let r = api.call("GET", "/api/v1/stats/summary", &[&key(&carol_key)], None);
    r.problem(429, "quota_exceeded");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 86_400);
    assert_eq!(
        (r.header("ratelimit-limit").as_deref(), r.header("ratelimit-remaining").as_deref()),
        (Some("100"), Some("0"))
    );
    assert!(r.header("ratelimit-reset").is_some());

    // --- the 11th wrong password ----------------------------------------------------------
    cli_user(d, "dave@example.org", "free");
    let unknown = api.call(
        "POST",
        "/api/v1/auth/login",
        &[],
        Some(json!({"email": "nobody@example.org", "password": "wrong-password-1"})),
    );
    let unknown = unknown.problem(401, "invalid_credentials");
    for i in 1..=10 {
        let r = api.call(
            "POST",
            "/api/v1/auth/login",
            &[],
            Some(json!({"email": "dave@example.org", "password": "wrong-password-1"})),
        );
        let p = r.problem(401, "invalid_credentials");
        assert_eq!(p["detail"], unknown["detail"], "attempt {i}: the same message as an unknown account");
    }
    let r = api.call("POST", "/api/v1/auth/login", &[], Some(json!({"email": "dave@example.org", "password": PW})));
    r.problem(429, "account_locked");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");

    // --- the audit trail saw it all; no secret in the log --------------------------------------
    let audit = |event: &str| {
        api.call("GET", &format!("/api/v1/admin/audit?event={event}&limit=1000"), &[&bearer(&admin)], None).json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    for event in [
        "login_success",
        "login_failure",
        "lockout",
        "unauthenticated",
        "forbidden",
        "rate_limited",
        "key_created",
        "role_changed",
        "refresh_reuse",
    ] {
        assert!(audit(event) > 0, "no {event} in the audit trail");
    }
    drop(server);
    let log = std::fs::read_to_string(d.join("server.log")).unwrap();
    assert!(log.contains("security event"), "audit lines are logged");
    for secret in [PW, SECRET, &carol_key, &bob_key, &alice, &admin, &rotated] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[test]
fn production_refuses_to_start_without_a_signing_secret() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(dir.path(), &["--demo", "demo", "--events", "20"]);
    let out =
        common::ntsb(dir.path()).args(["--demo", "serve", "--production", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NTSB_JWT_SECRET") && err.contains("32 bytes"), "{err}");
    let out = common::ntsb(dir.path())
        .args(["--demo", "serve", "--production", "--listen", "127.0.0.1:0"])
        .env("NTSB_JWT_SECRET", "too-short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NTSB_JWT_SECRET") && !err.contains("too-short"), "{err}");
}

#[test]
fn passwords_never_come_from_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::ntsb(dir.path())
        .args(["user", "create", "--email", "a@example.org", "--password", PW])
        .output()
        .unwrap();
    assert!(!out.status.success(), "there is no --password flag");
    let out = common::ntsb(dir.path())
        .args(["user", "create", "--email", "a@example.org", "--role", "root", "--password-env", "P"])
        .env("P", PW)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--role"));
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
