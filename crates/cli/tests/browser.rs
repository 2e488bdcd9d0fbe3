//! The dashboard in a real browser: headless Chromium driven through
//! chromedriver (WebDriver, `fantoccini`) against the real `ntsb serve`, on a
//! store loaded from the shared corpus's files (the joined narratives sample)
//! plus one file whose event carries hostile text, with models trained by
//! `ntsb ml train`.
//!
//! One chromedriver and one browser session serve the whole run. Every page
//! visited is audited: no console error and no Content-Security-Policy
//! violation (Chromium's own log, read through chromedriver, and a
//! `securitypolicyviolation` listener), no request to another origin, and no
//! serious or critical axe-core violation (npm `axe-core`, injected into the
//! page); a screenshot at desktop (1280 px) and phone (390 px) width is written
//! to `target/screenshots/NAME-{desktop,phone}.png`.
//!
//! Needs `chromium`, `chromedriver` (Debian `chromium`, `chromium-driver`),
//! `axe.min.js` (`NTSB_AXE_JS`, default `~/.cache/ntsb-tools/axe-core/axe.min.js`,
//! installed by `deploy/tools.sh`) and `../shared/data`: skips without them,
//! fails without them in CI.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use fantoccini::wd::{TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use common::{Server, get_json, request, run_ok, send, serve_with_env};

const TEST: &str = "dashboard_works_in_a_real_browser";
/// How often, and how many times, a wait looks again before it gives up (a
/// bound on attempts, not an assertion on how long things take).
const POLL: Duration = Duration::from_millis(50);
const POLLS: u32 = 600;
const EMAIL: &str = "analyst@example.org";
const PASSWORD: &str = "correct horse battery staple 42";

/// The event whose narrative, cause and place are hostile.
const HOSTILE: &str = "20261130X99999";
/// A word only the hostile narrative holds.
const HOSTILE_WORD: &str = "zanzibarquux";
const HOSTILE_TEXT: &str = "<script>alert(1)</script> \"><img src=x onerror=alert(2)> \u{202E}reversed\u{7}bell";

/// A running chromedriver, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_chromedriver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let mut driver = Driver { child, port };
    for attempt in 0.. {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if let Some(status) = driver.child.try_wait().unwrap() {
            panic!("chromedriver exited early: {status}");
        }
        assert!(attempt < POLLS, "chromedriver did not listen after {POLLS} looks");
        std::thread::sleep(POLL);
    }
    driver
}

/// Where `program` is on PATH.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(program)).find(|p| p.is_file()))
}

/// `axe.min.js`, or `None` after a skip.
fn axe_source() -> Option<String> {
    let path = std::env::var_os("NTSB_AXE_JS").map(PathBuf::from).unwrap_or_else(|| {
        let tools = std::env::var_os("NTSB_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/ntsb-tools"));
        tools.join("axe-core/axe.min.js")
    });
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(_) => {
            ntsb_test_support::skip(
                TEST,
                "axe-core's axe.min.js",
                &format!("it is not at {} (run deploy/tools.sh or set NTSB_AXE_JS)", path.display()),
            );
            None
        }
    }
}

/// A chromedriver command fantoccini has no method for: `session/ID/PATH`.
#[derive(Debug)]
struct Raw {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Raw {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/{}", session.unwrap_or_default(), self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// The browser, the server it visits and what the audits need.
struct Browser {
    client: Client,
    base: String,
    axe: String,
    shots: PathBuf,
    /// Pages audited (their screenshot names).
    audited: Vec<String>,
    /// What the audits found, asserted empty at the end (so one run lists every page's findings).
    problems: Vec<String>,
}

impl Browser {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Opens `path` and installs the CSP violation listener.
    async fn visit(&self, path: &str) {
        self.client.goto(&self.url(path)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
        self.listen().await;
    }

    async fn listen(&self) {
        self.client
            .execute(
                "window.__csp = window.__csp || []; \
                 document.addEventListener('securitypolicyviolation', e => \
                   window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
                vec![],
            )
            .await
            .unwrap();
    }

    /// The current address's path and query.
    async fn here(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits until the address satisfies `ok` (after a click that navigates).
    async fn wait_for_address(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        for attempt in 0.. {
            let here = self.here().await;
            if ok(&here) {
                self.listen().await;
                return here;
            }
            assert!(attempt < POLLS, "{what}: still at {here}");
            tokio::time::sleep(POLL).await;
        }
        unreachable!("the loop returns or fails")
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    async fn text(&self, css: &str) -> String {
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        el.text().await.unwrap()
    }

    /// The live `value` of the form control `css`.
    async fn value(&self, css: &str) -> String {
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        el.prop("value").await.unwrap().unwrap_or_default()
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        el.attr(name).await.unwrap().unwrap_or_default()
    }

    async fn exists(&self, css: &str) -> bool {
        !self.client.find_all(Locator::Css(css)).await.unwrap().is_empty()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        let el = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
        el.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.client
            .issue_cmd(Raw { path: "goog/cdp/execute", body: json!({"cmd": cmd, "params": params}) })
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    /// The browser's console since the last call (chromedriver's `browser` log).
    async fn console(&self) -> Vec<Value> {
        let v = self.client.issue_cmd(Raw { path: "se/log", body: json!({"type": "browser"}) }).await.unwrap();
        v.as_array().cloned().unwrap_or_default()
    }

    /// Audits the page shown: console errors (except those `allowed` names), CSP
    /// violations, third-party requests, axe-core; then screenshots it as `name`.
    async fn audit(&mut self, name: &str, allowed: &[&str]) {
        let here = self.here().await;
        let mut problems = Vec::new();
        for entry in self.console().await {
            let message = entry["message"].as_str().unwrap_or_default();
            let level = entry["level"].as_str().unwrap_or_default();
            let csp = message.contains("Content Security Policy") || message.contains("Content-Security-Policy");
            if csp || (level == "SEVERE" && !allowed.iter().any(|a| message.contains(a))) {
                problems.push(format!("console {level}: {message}"));
            }
        }
        for v in self.js("return window.__csp || [];").await.as_array().cloned().unwrap_or_default() {
            problems.push(format!("CSP violation: {v}"));
        }
        let resources =
            self.js("return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);").await;
        for r in resources.as_array().cloned().unwrap_or_default() {
            let r = r.as_str().unwrap_or_default();
            if !r.starts_with(&self.base) {
                problems.push(format!("request to another origin: {r}"));
            }
        }
        // axe-core at desktop width, then at phone width (the layout changes, and with it
        // what can overlap, overflow or lose contrast).
        self.client.execute(&self.axe, vec![]).await.unwrap_or_else(|e| panic!("inject axe-core into {here}: {e}"));
        for v in self.axe_violations(&here).await {
            problems.push(format!("axe (desktop): {v}"));
        }
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
        )
        .await;
        let phone = self.axe_violations(&here).await;
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
        for v in phone {
            problems.push(format!("axe (phone): {v}"));
        }
        self.screenshots(name).await;
        self.audited.push(name.to_string());
        if !problems.is_empty() {
            let found = format!("{name} ({here}):\n  {}", problems.join("\n  "));
            eprintln!("AUDIT {found}");
            self.problems.push(found);
        }
    }

    /// axe-core's serious and critical violations of the page as laid out now.
    async fn axe_violations(&self, here: &str) -> Vec<String> {
        let violations = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 axe.run(document, {resultTypes: ['violations']}) \
                   .then(r => done(r.violations \
                     .filter(v => v.impact === 'serious' || v.impact === 'critical') \
                     .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' + \
                       v.nodes.slice(0, 4).map(n => n.target.join(' ')).join(' | ')))) \
                   .catch(e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("axe-core on {here}: {e}"));
        violations
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Full-page screenshots at desktop and phone widths.
    async fn screenshots(&self, name: &str) {
        for (suffix, width, height, mobile) in [("desktop", 1280, 900, false), ("phone", 390, 844, true)] {
            self.cdp(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
            )
            .await;
            let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
            let full = metrics["cssContentSize"]["height"].as_f64().unwrap_or(height as f64);
            let shot = self
                .cdp(
                    "Page.captureScreenshot",
                    json!({"format": "png", "captureBeyondViewport": true,
                           "clip": {"x": 0, "y": 0, "width": width, "height": full.min(12_000.0), "scale": 1}}),
                )
                .await;
            let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
            std::fs::write(self.shots.join(format!("{name}-{suffix}.png")), png).unwrap();
        }
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
    }

    /// The `value` of the `<data>` in the element `css`.
    async fn figure(&self, css: &str) -> u64 {
        let v = self.attr(&format!("{css} data"), "value").await;
        v.parse().unwrap_or_else(|_| panic!("{css}: {v:?} is not a count"))
    }
}

/// The corpus's AviationData table and joined narratives sample, plus two
/// files of the same formats with one event whose place, narrative and
/// probable cause are hostile; an admin account and trained models; in a
/// fresh data directory.
fn prepared(data: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let aviation = data.join("ntsb/aviationdata/AviationData_20170328.csv");
    run_ok(dir.path(), &["ingest", aviation.to_str().unwrap()]);
    run_ok(
        dir.path(),
        &["ingest", data.join("ntsb/narratives/ntsb_narratives_joined_sample1000.jsonl").to_str().unwrap()],
    );

    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let header = std::fs::read_to_string(&aviation).unwrap().lines().next().unwrap().to_string();
    let row = [
        HOSTILE,
        "Accident",
        "HOST99LA001",
        "2016-11-30",
        &quoted(&format!("Quux {HOSTILE_TEXT}, CA")),
        "United States",
        "36.7",
        "-119.8",
        "",
        "",
        "Fatal(1)",
        "Destroyed",
        "Airplane",
        "N999ZZ",
        "CESSNA",
        "172S",
        "No",
        "1",
        "Reciprocating",
        "Part 91: General Aviation",
        "",
        "Personal",
        "",
        "1",
        "0",
        "0",
        "0",
        "VMC",
        "CRUISE",
        "Probable Cause",
        "2017-01-01",
    ]
    .join(",");
    let events = dir.path().join("AviationData_hostile.csv");
    std::fs::write(&events, format!("{header}\n{row}\n")).unwrap();
    run_ok(dir.path(), &["ingest", events.to_str().unwrap()]);
    let text = json!({
        "ev_id": HOSTILE, "ntsb_no": "HOST99LA001", "event_date": "2016-11-30",
        "narrative": format!("The pilot reported {HOSTILE_WORD}. {HOSTILE_TEXT}"),
        "probable_cause": format!("Cause {HOSTILE_TEXT}"),
    });
    let narratives = dir.path().join("hostile_narratives_joined.jsonl");
    std::fs::write(&narratives, format!("{text}\n")).unwrap();
    run_ok(dir.path(), &["ingest", narratives.to_str().unwrap()]);

    let out = common::ntsb(dir.path())
        .args(["user", "create", "--email", EMAIL, "--role", "admin", "--password-env", "NTSB_TEST_PASSWORD"])
        .env("NTSB_TEST_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "user create: {}", String::from_utf8_lossy(&out.stderr));
    for model in ["risk", "fatal"] {
        run_ok(dir.path(), &["ml", "train", "--model", model, "--max-rounds", "20"]);
    }
    dir
}

/// Rows of RFC 4180 CSV.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// The overview's key figures must equal the API summary for `filter`.
async fn overview_matches_api(b: &Browser, port: u16, filter: &str) -> u64 {
    let summary = get_json(port, &format!("/api/v1/stats/summary?{filter}"));
    for (id, field) in [
        ("fig-events", "events"),
        ("fig-accidents", "accidents"),
        ("fig-fatal-events", "fatal_events"),
        ("fig-fatalities", "fatalities"),
    ] {
        assert_eq!(Some(b.figure(&format!("#{id}")).await), summary[field].as_u64(), "#{id} with {filter}: {summary}");
    }
    summary["events"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_works_in_a_real_browser() {
    if !ntsb_test_support::tool(TEST, "chromium", "apt-get install chromium (or run deploy/tools.sh)")
        || !ntsb_test_support::tool(TEST, "chromedriver", "apt-get install chromium-driver (or run deploy/tools.sh)")
    {
        return;
    }
    let Some(axe) = axe_source() else { return };
    let Some(data) = ntsb_test_support::shared_data(TEST) else { return };
    let dir = prepared(&data);
    let server: Server = serve_with_env(dir.path(), &[], &[], Duration::from_secs(120));
    let port = server.port;
    let driver = start_chromedriver();

    let profile = tempfile::tempdir().unwrap();
    let mut options = json!({"args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
        "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
        "--disable-sync", "--disable-component-update", "--disable-features=Translate,MediaRouter",
        format!("--user-data-dir={}", profile.path().display()),
    ]});
    if let Some(chromium) = which("chromium") {
        options["binary"] = json!(chromium);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a chromedriver session");
    client
        .update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(60)),
            Some(Duration::from_secs(60)),
            Some(Duration::ZERO),
        ))
        .await
        .unwrap();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut b = Browser {
        client,
        base: format!("http://127.0.0.1:{port}"),
        axe,
        shots,
        audited: Vec::new(),
        problems: Vec::new(),
    };

    // Each step is its own function of the same session, in the order a visitor goes.
    anonymous_pages(&mut b).await;
    let (key, session) = signed_in(&mut b, port).await;
    filters_and_history(&mut b, port).await;
    csv_download(&mut b).await;
    compare_trends(&mut b, port).await;
    map_zoom_and_popup(&mut b).await;
    live_panel(&mut b, dir.path(), &data).await;
    search_and_events(&mut b, port, &key).await;
    hostile_text(&mut b).await;
    predict(&mut b, port, &key).await;
    revoke_key(&mut b, port, &key).await;
    sign_out(&mut b, port, &session).await;
    challenge(&mut b).await;

    let (audited, problems) = (b.audited.clone(), b.problems.clone());
    b.client.close().await.unwrap();
    eprintln!("audited and screenshotted {} pages: {}", audited.len(), audited.join(", "));
    assert!(problems.is_empty(), "the audits found:\n{}", problems.join("\n"));
    drop(driver);
    drop(server);
}

/// Every public page, anonymously; the unknown event's 404 page.
async fn anonymous_pages(b: &mut Browser) {
    for (path, name) in [
        ("/", "overview"),
        ("/trends", "trends"),
        ("/map", "map"),
        ("/aircraft", "aircraft"),
        ("/causes", "causes"),
        ("/search", "search-empty"),
        ("/account", "account-signed-out"),
    ] {
        b.visit(path).await;
        assert!(b.exists("main h1").await, "{path} has a heading");
        b.audit(name, &[]).await;
    }
    b.visit("/events/20000101X99999").await;
    assert_eq!(b.text("main h1").await, "Not found");
    // The document's own 404 status is logged by Chromium as a failed load.
    b.audit("not-found", &["status of 404"]).await;
    // A page for users sends an anonymous visitor to sign in first.
    b.visit("/predict").await;
    let here = b.here().await;
    assert!(here.starts_with("/account?next=%2Fpredict"), "{here}");
}

/// Signs in through the form (back to /predict), creates an API key; returns
/// it and the session cookie's value.
async fn signed_in(b: &mut Browser, port: u16) -> (String, String) {
    b.type_into("#sign-in-email", EMAIL).await;
    b.type_into("#sign-in-password", PASSWORD).await;
    b.click("#sign-in-submit").await;
    b.wait_for_address("signed in, back to /predict", |h| h.starts_with("/predict")).await;
    assert!(b.text("#signed-in-as").await.contains(EMAIL));
    let session = b.client.get_named_cookie("ntsb_session").await.expect("a session cookie");
    assert_eq!(session.http_only(), Some(true), "{session:?}");
    assert_eq!(format!("{:?}", session.same_site()), "Some(Strict)", "{session:?}");

    b.visit("/account").await;
    b.type_into("#keys-name", "browser test").await;
    b.click("#create-key-submit").await;
    b.client.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#new-key")).await.expect("the new key");
    b.listen().await;
    let key = b.text("#new-key").await;
    assert!(!key.is_empty());
    assert!(b.exists("#keys").await);
    b.audit("account", &[]).await;
    // The key works on the API.
    let (status, _, body) = request(port, "GET", "/api/v1/auth/me", &[&format!("X-API-Key: {key}")]).unwrap();
    assert_eq!(status, 200, "{body}");
    b.visit("/admin").await;
    assert!(b.text("main h1").await.contains("Admin"));
    b.audit("admin", &[]).await;
    (key, session.value().to_string())
}

/// Changes filters with the form, compares the figures with the API's, and
/// walks back and forward through the views.
async fn filters_and_history(b: &mut Browser, port: u16) {
    b.visit("/").await;
    let all = overview_matches_api(b, port, "").await;
    b.type_into("#f-state", "CA").await;
    b.click("form.filters button[type=submit]").await;
    let ca_url = b.wait_for_address("filter state=CA", |h| h.contains("state=CA")).await;
    let ca = overview_matches_api(b, port, "state=CA").await;
    assert!(ca > 0 && ca < all, "CA {ca} of {all}");
    b.audit("overview-filtered", &[]).await;

    b.type_into("#f-state", "TX").await;
    let fatal = b.client.find(Locator::Css("#f-highest_injury")).await.unwrap();
    fatal.select_by_value("fatal").await.unwrap();
    b.click("form.filters button[type=submit]").await;
    b.wait_for_address("filter state=TX", |h| h.contains("state=TX")).await;
    let tx = overview_matches_api(b, port, "state=TX&highest_injury=fatal").await;
    assert!(tx > 0, "fatal events in TX");

    b.client.back().await.unwrap();
    let here = b.wait_for_address("back", |h| h.contains("state=CA")).await;
    assert_eq!(here, ca_url);
    assert_eq!(b.value("#f-state").await, "CA");
    assert_eq!(b.value("#f-highest_injury").await, "", "the view's other fields are the URL's too");
    assert_eq!(overview_matches_api(b, port, "state=CA").await, ca);
    b.client.forward().await.unwrap();
    b.wait_for_address("forward", |h| h.contains("state=TX")).await;
    assert_eq!(b.value("#f-state").await, "TX");
    assert_eq!(b.value("#f-highest_injury").await, "fatal");
    assert_eq!(overview_matches_api(b, port, "state=TX&highest_injury=fatal").await, tx);
}

/// The view's table downloaded through its link equals the table shown.
async fn csv_download(b: &mut Browser) {
    let href = b.attr("a[download][href*='table=states']", "href").await;
    assert!(href.contains("format=csv") && href.contains("state=TX"), "{href}");
    let shown = b
        .js("return [...document.querySelectorAll('#table-states tbody tr')].map(tr => \
               [...tr.children].map(c => { const d = c.querySelector('data'); \
                 return d ? d.getAttribute('value') : c.textContent.trim(); }));")
        .await;
    let shown: Vec<Vec<String>> = serde_json::from_value(shown).unwrap();
    let fetched = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(arguments[0]).then(r => r.text().then(t => done([r.status, r.headers.get('content-type'), t])));",
            vec![json!(href)],
        )
        .await
        .unwrap();
    assert_eq!(fetched[0], 200, "{fetched}");
    assert_eq!(fetched[1], "text/csv; charset=utf-8");
    let mut rows = parse_csv(fetched[2].as_str().unwrap());
    rows.remove(0);
    assert!(!rows.is_empty());
    assert_eq!(rows, shown, "the CSV's rows are the table's");
}

/// Searches with the form, opens the first result, and checks the event page
/// against the API's detail.
async fn search_and_events(b: &mut Browser, port: u16, key: &str) {
    b.visit("/search").await;
    b.type_into("#f-q", "fuel").await;
    b.click("form.filters button[type=submit]").await;
    b.wait_for_address("search", |h| h.contains("q=fuel")).await;
    let total: u64 = b.attr("#result-count data", "value").await.parse().unwrap();
    let api = get_json(port, "/api/v1/search?q=fuel");
    assert_eq!(Some(total), api["total"].as_u64(), "{api}");
    assert!(total > 0);
    b.audit("search", &[]).await;
    let link = b.client.find(Locator::Css("ol.results li h2 a")).await.unwrap();
    let id = link.text().await.unwrap();
    link.click().await.unwrap();
    b.wait_for_address("event from search", |h| h.starts_with("/events/")).await;
    assert_eq!(b.text("main h1").await, format!("Event {id}"));
    let detail = get_json(port, &format!("/api/v1/events/{id}"));
    assert_eq!(b.text("#fig-fatal").await, detail["injuries"]["fatal"].as_u64().unwrap_or(0).to_string(), "{detail}");
    // Signed in: the fatal model's score of the event, as the API computes it.
    assert!(b.exists("#score #contributions-chart").await, "the score's contributions as a chart");
    let shown: f64 = b.attr("#probability", "value").await.parse().unwrap();
    let body = json!({"model": "fatal", "ev_id": id});
    let (status, _, answer) =
        send(port, "POST", "/api/v1/ml/predict", &[&format!("X-API-Key: {key}")], body.to_string().as_bytes()).unwrap();
    assert_eq!(status, 200, "{answer}");
    let api = serde_json::from_str::<Value>(&answer).unwrap()["probability"].as_f64().unwrap();
    assert!((shown - api).abs() < 1e-6, "page {shown} vs API {api}");
    b.audit("event", &[]).await;
}

/// Two filter sets side by side: both sets' figures are the API's, the view
/// is in the URL, and back/forward walk the comparisons.
async fn compare_trends(b: &mut Browser, port: u16) {
    b.visit("/trends?far_part=91").await;
    b.click("#compare-link").await;
    b.wait_for_address("compare", |h| h.contains("compare=on")).await;
    b.type_into("#f-b\\.far_part", "135").await;
    b.click("form[aria-label='Filter set B'] button[type=submit]").await;
    let first = b.wait_for_address("set B", |h| h.contains("b.far_part=135") && h.contains("far_part=91")).await;
    let totals = "return [...document.querySelectorAll('#table-compare-totals tbody tr')].map(tr => \
                  [...tr.querySelectorAll('td data')].map(d => d.getAttribute('value')));";
    let check = |shown: Value, a: &str, b_: &str| {
        let (sa, sb) = (
            get_json(port, &format!("/api/v1/stats/summary?{a}")),
            get_json(port, &format!("/api/v1/stats/summary?{b_}")),
        );
        assert_eq!(shown[0], json!([sa["events"].to_string(), sb["events"].to_string()]), "{a} vs {b_}");
        assert_eq!(shown[1], json!([sa["fatal_events"].to_string(), sb["fatal_events"].to_string()]), "{a} vs {b_}");
    };
    check(b.js(totals).await, "far_part=91", "far_part=135");
    assert!(b.exists("#chart-compare-rate polygon").await, "the intervals are drawn as bands");
    b.audit("trends-compare", &[]).await;
    b.type_into("#f-b\\.far_part", "121").await;
    b.click("form[aria-label='Filter set B'] button[type=submit]").await;
    b.wait_for_address("set B changed", |h| h.contains("b.far_part=121")).await;
    check(b.js(totals).await, "far_part=91", "far_part=121");
    b.client.back().await.unwrap();
    assert_eq!(b.wait_for_address("back", |h| h.contains("b.far_part=135")).await, first);
    assert_eq!(b.value("#f-b\\.far_part").await, "135");
    check(b.js(totals).await, "far_part=91", "far_part=135");
    b.client.forward().await.unwrap();
    b.wait_for_address("forward", |h| h.contains("b.far_part=121")).await;
    assert_eq!(b.value("#f-b\\.far_part").await, "121");
}

/// The U.S. map zooms in place (the address follows, back returns), and a
/// point opens its popup.
async fn map_zoom_and_popup(b: &mut Browser) {
    b.visit("/map").await;
    assert_eq!(b.attr("#map-us", "viewBox").await, "0 0 975 610");
    b.click("#zoom-in").await;
    let zoomed = b.wait_for_address("zoomed", |h| h.contains("zoom=2")).await;
    assert_eq!(b.attr("#map-us", "viewBox").await, "243.8 152.5 487.5 305", "zoomed in place at {zoomed}");
    b.click("#pan-east").await;
    b.wait_for_address("panned", |h| h.contains("cx=731")).await;
    b.client.back().await.unwrap();
    b.wait_for_address("back to the zoomed view", |h| h == zoomed).await;
    assert_eq!(b.attr("#map-us", "viewBox").await, "243.8 152.5 487.5 305");
    // The same address without the script's help draws the same window.
    b.visit(&zoomed).await;
    assert_eq!(b.attr("#map-us", "viewBox").await, "243.8 152.5 487.5 305");
    b.js("document.querySelector('#map-us a.pt').dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); return 0;")
        .await;
    assert_eq!(b.js("return document.getElementById('map-popup').hidden;").await, json!(false));
    assert!(b.text("#map-popup h2").await.starts_with("Event "));
    assert!(b.attr("#map-popup-open", "href").await.contains("/events/"));
    b.audit("map-zoomed", &[]).await;
}

/// The live panel: a change made through the store (an `ntsb ingest` beside the
/// running server) while the page is open appears on it, filtered by the page's filters.
async fn live_panel(b: &mut Browser, data_dir: &Path, corpus: &Path) {
    b.visit("/live?state=CA").await;
    assert!(b.exists("#live-feed[data-stream]").await);
    for attempt in 0.. {
        if b.text("#live-status").await.starts_with("Connected") {
            break;
        }
        assert!(attempt < POLLS, "the live panel did not connect: {}", b.text("#live-status").await);
        tokio::time::sleep(POLL).await;
    }
    let file = data_dir.join("AviationData_live.csv");
    let aviation = corpus.join("ntsb/aviationdata/AviationData_20170328.csv");
    let header = std::fs::read_to_string(&aviation).unwrap().lines().next().unwrap().to_string();
    let row = |id: &str, no: &str, place: &str| {
        format!(
            "{id},Accident,{no},2016-12-01,\"{place}\",United States,,,,,Non-Fatal,Substantial,Airplane,N1LIVE,PIPER,PA-28,No,1,Reciprocating,Part 91: General Aviation,,Personal,,0,0,1,0,VMC,LANDING,Preliminary,"
        )
    };
    let (ca, tx) = ("20261201X77771", "20261201X77772");
    std::fs::write(
        &file,
        format!("{header}\n{}\n{}\n", row(tx, "LIVE01TX", "Austin, TX"), row(ca, "LIVE01CA", "Fresno, CA")),
    )
    .unwrap();
    run_ok(data_dir, &["ingest", file.to_str().unwrap()]);
    let selector = format!("#live-rows a[href='/events/{ca}']");
    for attempt in 0.. {
        if b.exists(&selector).await {
            break;
        }
        assert!(attempt < POLLS, "the new CA event did not appear: {}", b.text("#live-rows").await);
        tokio::time::sleep(POLL).await;
    }
    assert!(!b.exists(&format!("#live-rows a[href='/events/{tx}']")).await, "the TX event is filtered out");
    assert!(b.text("#live-rows tr:first-child").await.contains("created"));
    b.audit("live", &[]).await;
    // Without the script's help the page lists it too (the server-rendered list).
    b.visit("/live?state=CA").await;
    assert!(b.exists(&selector).await);
}

/// The hostile event's text comes out as text on the search page and its own page.
async fn hostile_text(b: &mut Browser) {
    let no_markup = "return [document.querySelectorAll('main script, main img').length, \
                            document.querySelectorAll('script:not([src])').length];";
    b.visit(&format!("/search?q={HOSTILE_WORD}")).await;
    assert_eq!(b.attr("#result-count data", "value").await, "1");
    assert_eq!(b.js(no_markup).await, json!([0, 0]));
    b.audit("search-hostile", &[]).await;
    b.click("ol.results li h2 a").await;
    b.wait_for_address("hostile event", |h| h.starts_with(&format!("/events/{HOSTILE}"))).await;
    assert_eq!(b.js(no_markup).await, json!([0, 0]));
    let narrative = b.text("p.narrative").await;
    assert!(narrative.contains("<script>alert(1)</script>"), "{narrative:?}");
    assert!(narrative.contains("\"><img src=x onerror=alert(2)>"), "{narrative:?}");
    assert!(
        !narrative.contains('\u{202E}') && narrative.contains('\u{FFFD}'),
        "control characters replaced: {narrative:?}"
    );
    assert!(b.text("p.cause").await.contains("<script>"));
    assert!(b.text("p.lead").await.contains("<img src=x"), "the place is text too");
    b.audit("event-hostile", &[]).await;
}

/// A prediction through the form equals the API's for the same facts.
async fn predict(b: &mut Browser, port: u16, key: &str) {
    b.visit("/predict").await;
    b.client.find(Locator::Css("#predict-model")).await.unwrap().select_by_value("risk").await.unwrap();
    b.type_into("#predict-state", "CA").await;
    b.type_into("#predict-make", "Cessna").await;
    b.type_into("#predict-phase", "landing").await;
    b.type_into("#predict-pilot-age", "58").await;
    b.click("#predict-submit").await;
    b.wait_for_address("prediction", |h| h.contains("model=risk")).await;
    let shown: f64 = b.attr("#probability", "value").await.parse().unwrap();
    assert!(b.exists("#contributions-chart").await && b.exists("#table-contributions").await);
    let body =
        json!({"model": "risk", "features": {"state": "CA", "make": "Cessna", "phase": "landing", "pilot_age": 58}});
    let (status, _, answer) =
        send(port, "POST", "/api/v1/ml/predict", &[&format!("X-API-Key: {key}")], body.to_string().as_bytes()).unwrap();
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let api = answer["probability"].as_f64().unwrap();
    assert!((shown - api).abs() < 1e-6, "page {shown} vs API {api}");
    assert!((0.0..=1.0).contains(&shown));
    b.audit("predict", &[]).await;
}

/// Revokes the key on the account page; the API then refuses it.
async fn revoke_key(b: &mut Browser, port: u16, key: &str) {
    b.visit("/account").await;
    b.click("button[aria-label='Revoke the key browser test']").await;
    b.wait_for_address("key revoked", |h| h.contains("done=key-revoked")).await;
    assert!(b.text("#notice").await.contains("revoked"));
    assert!(b.text("#keys tbody").await.contains("revoked"));
    let (status, _, _) = request(port, "GET", "/api/v1/auth/me", &[&format!("X-API-Key: {key}")]).unwrap();
    assert_eq!(status, 401, "a revoked key is refused");
}

/// Signs out: the browser is anonymous again, and the old session cookie is refused.
async fn sign_out(b: &mut Browser, port: u16, session: &str) {
    b.visit("/").await;
    b.click("#sign-out").await;
    b.wait_for_address("signed out", |h| h.contains("done=signed-out")).await;
    assert!(b.exists("#sign-in-link").await);
    b.visit("/predict").await;
    assert!(b.here().await.starts_with("/account?next="), "refused after signing out");
    let (status, head, _) = request(port, "GET", "/predict", &[&format!("Cookie: ntsb_session={session}")]).unwrap();
    assert_eq!(status, 303, "the old session cookie is refused: {head}");
    assert!(head.contains("/account?next="), "{head}");
}

/// After three failed sign-ins the form asks for the proof of work, which the
/// page's script solves before the form is sent.
async fn challenge(b: &mut Browser) {
    for _ in 0..3 {
        b.visit("/account").await;
        b.type_into("#sign-in-email", EMAIL).await;
        b.type_into("#sign-in-password", "not the password at all").await;
        b.click("#sign-in-submit").await;
        b.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("#sign-in-error"))
            .await
            .expect("an error after a wrong password");
    }
    // The refused sign-ins were logged as failed loads (401): nothing else.
    for entry in b.console().await {
        let message = entry["message"].as_str().unwrap_or_default();
        assert!(
            entry["level"] != "SEVERE" || message.contains("status of 401") || message.contains("status of 403"),
            "{entry}"
        );
    }
    b.visit("/account").await;
    assert!(b.exists("#challenge").await, "the challenge after three failures");
    b.type_into("#sign-in-email", EMAIL).await;
    b.type_into("#sign-in-password", PASSWORD).await;
    b.audit("account-challenge", &[]).await;
    b.click("#sign-in-submit").await;
    b.client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css("#signed-in-as"))
        .await
        .expect("signed in after solving the challenge");
    b.listen().await;
    assert!(b.text("#signed-in-as").await.contains(EMAIL));
}
