//! `ntsb sync` against a local HTTP server (axum on a random port) serving files
//! written at test time from the real AviationData export in `../shared/data`:
//! a full file, an update with changed and new records, the same file answered
//! 304, the same content served again without validators (already loaded), and
//! a truncated download and a corrupt archive that must change nothing; then
//! the SSRF refusals (a redirect to another host, a loopback name, a page link
//! to the metadata address, a host not on the list) and the size limit.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use ntsb_load::{LoadOptions, NoProgress};
use ntsb_search::SearchIndex;
use ntsb_store::Store;
use ntsb_store::sqlite::SqliteStore;
use ntsb_sync::{Client, FileResult, Outcome, Policy, SyncOptions, SyncReport, Syncer};

// ---------------------------------------------------------------- the server

#[derive(Clone)]
enum Resource {
    Page(String),
    File { bytes: Vec<u8>, etag: Option<String>, content_type: &'static str, truncate: bool },
    Redirect(String),
}

/// A request as the server saw it: target, If-None-Match sent, status answered.
type Logged = (String, Option<String>, u16);

#[derive(Clone, Default)]
struct Served {
    resources: Arc<Mutex<HashMap<String, Resource>>>,
    /// (path and query, If-None-Match sent, status answered)
    log: Arc<Mutex<Vec<Logged>>>,
}

impl Served {
    fn put(&self, target: &str, r: Resource) {
        self.resources.lock().unwrap().insert(target.to_string(), r);
    }
    fn log(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }
    fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
}

async fn answer(axum::extract::State(s): axum::extract::State<Served>, uri: Uri, headers: HeaderMap) -> Response {
    let target = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let inm = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    let resource = s.resources.lock().unwrap().get(&target).cloned();
    let response = match resource {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(Resource::Page(html)) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Some(Resource::Redirect(to)) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        Some(Resource::File { bytes, etag, content_type, truncate }) => {
            if etag.is_some() && inm == etag {
                StatusCode::NOT_MODIFIED.into_response()
            } else if truncate {
                // Announce the whole file, send half, then break the connection.
                // The headers and half the body go out first; then the connection breaks.
                let half = bytes[..bytes.len() / 2].to_vec();
                let chunks = futures_util::stream::unfold(0u8, move |step| {
                    let half = half.clone();
                    async move {
                        match step {
                            0 => Some((Ok::<Vec<u8>, std::io::Error>(half), 1)),
                            1 => {
                                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                                Some((Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut")), 2))
                            }
                            _ => None,
                        }
                    }
                });
                let body = Body::from_stream(chunks);
                Response::builder()
                    .header(header::CONTENT_TYPE, content_type)
                    .header(header::CONTENT_LENGTH, bytes.len())
                    .body(body)
                    .unwrap()
            } else {
                let mut r = Response::builder().header(header::CONTENT_TYPE, content_type);
                if let Some(e) = &etag {
                    r = r.header(header::ETAG, e);
                }
                r.body(Body::from(bytes)).unwrap()
            }
        }
    };
    s.log.lock().unwrap().push((target, inm, response.status().as_u16()));
    response
}

/// Starts the server on 127.0.0.1 and a random port, on a thread of its own.
fn serve(served: Served) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().fallback(answer).with_state(served);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    port
}

// ---------------------------------------------------------------- files from the real export

/// The real export's header and rows (the first `n`).
fn aviation_rows(shared: &Path, n: usize) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let path = shared.join("ntsb/aviationdata/AviationData_20170328.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header = reader.headers().unwrap().clone();
    let rows = reader.records().take(n).map(Result::unwrap).collect();
    (header, rows)
}

fn csv_bytes(header: &csv::StringRecord, rows: &[csv::StringRecord]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.into_inner().unwrap()
}

fn col(header: &csv::StringRecord, name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name}"))
}

fn ids(header: &csv::StringRecord, rows: &[csv::StringRecord]) -> BTreeSet<String> {
    let i = col(header, "Event.Id");
    rows.iter().map(|r| r[i].to_string()).collect()
}

// ---------------------------------------------------------------- the store and the syncer

struct Env {
    _tmp: tempfile::TempDir,
    store: SqliteStore,
    index: SearchIndex,
    data: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().to_path_buf();
    let store = SqliteStore::open(&data.join("ntsb.sqlite")).unwrap();
    store.migrate().unwrap();
    let index = SearchIndex::open_or_create(&data.join("index")).unwrap();
    Env { _tmp: tmp, store, index, data }
}

impl Env {
    fn downloads(&self) -> PathBuf {
        self.data.join("downloads")
    }

    fn sync_with(&self, source: &str, allow: &[&str], max_bytes: u64) -> SyncReport {
        let client = Client::new(Policy::new(allow).unwrap(), max_bytes).unwrap();
        let options = SyncOptions {
            source: source.parse().unwrap(),
            downloads_dir: self.downloads(),
            load: LoadOptions::new(self.data.join("rejects")),
            show_revisions: 50,
        };
        Syncer::new(&self.store, Some(&self.index), client, options).run(&mut NoProgress).unwrap()
    }

    fn sync(&self, source: &str) -> SyncReport {
        self.sync_with(source, &["127.0.0.1"], 64 << 20)
    }

    /// Everything a sync could change: record tables, ledger, downloads, state.
    fn snapshot(&self) -> (Vec<ntsb_store::TableChecksum>, usize, BTreeMap<String, Vec<u8>>) {
        let mut files = BTreeMap::new();
        for entry in walk(&self.downloads()) {
            files.insert(
                entry.strip_prefix(self.downloads()).unwrap().display().to_string(),
                std::fs::read(&entry).unwrap(),
            );
        }
        (self.store.content_checksums().unwrap(), self.store.loads(1000).unwrap().len(), files)
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() { out.extend(walk(&e.path())) } else { out.push(e.path()) }
    }
    out.sort();
    out
}

fn events(store: &SqliteStore) -> u64 {
    store.stats().unwrap().tables.into_iter().find(|(t, _)| t == "events").map(|(_, n)| n).unwrap()
}

fn result_of<'r>(report: &'r SyncReport, name: &str) -> &'r FileResult {
    &report.files.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("{name} in {:?}", report.files)).result
}

const NTSB_LINK: &str = "/avdata/FileDirectory/DownloadFile?fileID=C%3A%5Cavdata%5CAviationData.csv";
const ZIP_LINK: &str = "/avdata/FileDirectory/DownloadFile?fileID=C%3A%5Cavdata%5Cup08JAN.zip";

fn page(links: &[&str]) -> String {
    let mut html = String::from("<!DOCTYPE html><html><body><h1>Aviation data</h1>\n");
    for l in links {
        let name = l.rsplit("%5C").next().unwrap_or(l);
        html.push_str(&format!("<a href=\"{l}\">{name}</a>\n"));
    }
    html.push_str("<a href=\"/docs/readme.pdf\">read me</a></body></html>\n");
    html
}

fn csv_file(bytes: Vec<u8>, etag: &str) -> Resource {
    Resource::File { bytes, etag: Some(etag.to_string()), content_type: "text/csv", truncate: false }
}

#[test]
fn a_full_file_then_an_update_then_304_then_a_broken_download_that_changes_nothing() {
    let test = "a_full_file_then_an_update_then_304_then_a_broken_download_that_changes_nothing";
    let Some(shared) = ntsb_test_support::shared_data(test) else { return };
    let (header, rows) = aviation_rows(&shared, 900);
    let status = col(&header, "Report.Status");
    let event = col(&header, "Event.Id");
    // The first 600 rows, with five events whose investigation was final shown as
    // still preliminary (as NTSB publishes a case before its probable cause).
    let first = &rows[..600];
    let counts = first.iter().fold(BTreeMap::<&str, usize>::new(), |mut m, r| {
        *m.entry(&r[event]).or_default() += 1;
        m
    });
    let finals: Vec<usize> = (0..600)
        .filter(|&i| {
            let s = &first[i][status];
            !s.is_empty() && s != "Preliminary" && counts[&first[i][event]] == 1
        })
        .take(5)
        .collect();
    assert_eq!(finals.len(), 5, "five single-aircraft final reports among the first rows");
    let mut v1 = first.to_vec();
    for &i in &finals {
        let mut fields: Vec<String> = v1[i].iter().map(str::to_string).collect();
        fields[status] = "Preliminary".into();
        v1[i] = csv::StringRecord::from(fields);
    }
    // The update: the same 600 rows with the final status, and 300 more rows.
    let v2 = &rows[..900];

    let served = Served::default();
    served.put("/avdata", Resource::Page(page(&[NTSB_LINK])));
    served.put(NTSB_LINK, csv_file(csv_bytes(&header, &v1), "\"v1\""));
    let port = serve(served.clone());
    let source = format!("http://127.0.0.1:{port}/avdata");
    let env = env();

    // (a) the full file.
    let a = env.sync(&source);
    assert_eq!(a.outcome, Outcome::Updated, "{:?} {:?}", a.error, a.files);
    assert_eq!(a.files.len(), 1, "the page's PDF link is not a record file: {:?}", a.files);
    assert_eq!(*result_of(&a, "AviationData.csv"), FileResult::Loaded);
    assert_eq!(a.changes.events_created, ids(&header, &v1).len() as u64);
    assert_eq!(events(&env.store), ids(&header, &v1).len() as u64);
    let saved = std::fs::read(env.downloads().join("AviationData.csv")).unwrap();
    assert_eq!(saved, csv_bytes(&header, &v1), "the file is kept as downloaded");
    let sha = &a.files[0].sha256;
    assert_eq!(env.store.loads(10).unwrap()[0].source.checksum, *sha, "the ledger records the same SHA-256");

    // (b) the update: changed and new records.
    served.put(NTSB_LINK, csv_file(csv_bytes(&header, v2), "\"v2\""));
    let b = env.sync(&source);
    assert_eq!(b.outcome, Outcome::Updated, "{:?} {:?}", b.error, b.files);
    let before = ids(&header, &v1);
    let added: BTreeSet<String> = ids(&header, v2).difference(&before).cloned().collect();
    assert!(!added.is_empty());
    assert_eq!(b.changes.events_created, added.len() as u64);
    // Updated: the five final reports, and any earlier event that gained an aircraft row.
    let gained: BTreeSet<&str> = v2[600..].iter().map(|r| &r[event]).filter(|id| before.contains(*id)).collect();
    assert_eq!(b.changes.events_updated, 5 + gained.len() as u64, "{:?}", b.changes.fields);
    let status_changes: u64 =
        b.changes.fields.iter().filter(|(f, _)| f.contains("report_status")).map(|(_, n)| n).sum();
    assert_eq!(status_changes, 5, "{:?}", b.changes.fields);
    for &i in &finals {
        let id = &v2[i][event];
        let revision = b
            .changes
            .revisions
            .iter()
            .find(|(e, r)| e == id && r.field == "report_status")
            .unwrap_or_else(|| panic!("revision of {id} in {:?}", b.changes.revisions));
        assert_eq!(revision.1.old_value.as_deref(), Some("Preliminary"));
        assert_eq!(revision.1.new_value.as_deref(), Some(&v2[i][status]));
        assert!(env.store.revisions(id).unwrap().iter().any(|r| r.field == "report_status"), "kept in the store");
    }

    // (c) unchanged: the remembered ETag is sent and answered 304; nothing is read or loaded.
    served.clear_log();
    let loads_before = env.store.loads(1000).unwrap().len();
    let checksums = env.store.content_checksums().unwrap();
    let c = env.sync(&source);
    assert_eq!(c.outcome, Outcome::Unchanged, "{:?}", c.files);
    assert_eq!(c.files.len(), 1);
    assert_eq!(c.files[0].result, FileResult::NotModified);
    let log = served.log();
    assert!(log.iter().any(|(t, inm, st)| t == NTSB_LINK && inm.as_deref() == Some("\"v2\"") && *st == 304), "{log:?}");
    assert_eq!(env.store.loads(1000).unwrap().len(), loads_before, "no ledger entry");
    assert_eq!(env.store.content_checksums().unwrap(), checksums);

    // The same content without validators (a server that ignores them, a lost state file):
    // downloaded, found in the ledger by its SHA-256, not loaded again.
    served.put(
        NTSB_LINK,
        Resource::File { bytes: csv_bytes(&header, v2), etag: None, content_type: "text/csv", truncate: false },
    );
    let again = env.sync(&source);
    assert_eq!(again.outcome, Outcome::Unchanged, "{:?}", again.files);
    assert_eq!(again.files[0].result, FileResult::AlreadyLoaded);
    assert_eq!(env.store.loads(1000).unwrap().len(), loads_before);
    // Served with its ETag again: still found in the ledger, and the ETag is remembered from now on.
    served.put(NTSB_LINK, csv_file(csv_bytes(&header, v2), "\"v2\""));
    assert_eq!(env.sync(&source).files[0].result, FileResult::AlreadyLoaded);
    assert_eq!(env.store.loads(1000).unwrap().len(), loads_before);

    // (d) a newer file whose transfer breaks off half way: nothing changes.
    let snapshot = env.snapshot();
    let v3 = csv_bytes(&header, &aviation_rows(&shared, 1200).1);
    served.put(
        NTSB_LINK,
        Resource::File { bytes: v3.clone(), etag: Some("\"v3\"".into()), content_type: "text/csv", truncate: true },
    );
    let d = env.sync(&source);
    assert_eq!(d.outcome, Outcome::Failed, "{:?}", d.files);
    let FileResult::Failed(why) = &d.files[0].result else { panic!("{:?}", d.files) };
    assert!(why.contains("broke off") || why.contains("truncated"), "{why}");
    assert_eq!(env.snapshot().0, snapshot.0, "the store's content is unchanged");
    assert_eq!(env.snapshot().1, snapshot.1, "no ledger entry");
    let after = env.snapshot().2;
    let without_state = |m: &BTreeMap<String, Vec<u8>>| {
        m.iter()
            .filter(|(k, _)| !k.ends_with("sync-state.json"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(without_state(&after), without_state(&snapshot.2), "no file moved in, no partial file left");
    let state = ntsb_sync::state::State::load(&env.downloads()).unwrap();
    assert_eq!(state.urls[&format!("http://127.0.0.1:{port}{NTSB_LINK}")].etag.as_deref(), Some("\"v2\""));

    // ... and a corrupt archive (a zip cut before its directory) linked beside it.
    let zip = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("AviationData.csv", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut w, &v3).unwrap();
        let bytes = w.finish().unwrap().into_inner();
        bytes[..bytes.len() * 2 / 3].to_vec()
    };
    served.put("/avdata", Resource::Page(page(&[NTSB_LINK, ZIP_LINK])));
    served.put(NTSB_LINK, csv_file(csv_bytes(&header, v2), "\"v2\""));
    served.put(
        ZIP_LINK,
        Resource::File { bytes: zip, etag: Some("\"z\"".into()), content_type: "application/zip", truncate: false },
    );
    let e = env.sync(&source);
    assert_eq!(e.outcome, Outcome::Partial, "{:?}", e.files);
    let FileResult::Failed(why) = result_of(&e, "up08JAN.zip") else { panic!("{:?}", e.files) };
    assert!(why.contains("zip"), "{why}");
    assert_eq!(*result_of(&e, "AviationData.csv"), FileResult::NotModified);
    assert_eq!(env.snapshot().0, snapshot.0, "the store's content is unchanged");
    assert_eq!(without_state(&env.snapshot().2), without_state(&snapshot.2));

    // The counters saw every run.
    let counters = ntsb_sync::state::State::load(&env.downloads()).unwrap().counters;
    assert_eq!(counters.runs.get("updated"), Some(&2));
    assert_eq!(counters.runs.get("unchanged"), Some(&3));
    assert_eq!(counters.runs.get("failed"), Some(&1));
    assert_eq!(counters.runs.get("partial"), Some(&1));
    assert_eq!(counters.events_created, ids(&header, v2).len() as u64);
    let text = ntsb_sync::metrics::render(&counters);
    assert!(text.contains("ntsb_sync_runs_total{outcome=\"failed\"} 1\n"), "{text}");
}

#[test]
fn a_single_file_url_is_fetched_as_it_is() {
    let Some(shared) = ntsb_test_support::shared_data("a_single_file_url_is_fetched_as_it_is") else { return };
    let (header, rows) = aviation_rows(&shared, 200);
    let served = Served::default();
    served.put("/files/AviationData.csv", csv_file(csv_bytes(&header, &rows), "\"one\""));
    let port = serve(served);
    let env = env();
    let r = env.sync(&format!("http://127.0.0.1:{port}/files/AviationData.csv"));
    assert_eq!(r.outcome, Outcome::Updated, "{:?} {:?}", r.error, r.files);
    assert_eq!(r.changes.events_created, ids(&header, &rows).len() as u64);
    let again = env.sync(&format!("http://127.0.0.1:{port}/files/AviationData.csv"));
    assert_eq!(again.files[0].result, FileResult::NotModified);
}

#[test]
fn requests_outside_the_allowlist_are_refused_before_they_are_sent() {
    let served = Served::default();
    let port = serve(served.clone());
    served
        .put("/moved/AviationData.csv", Resource::Redirect(format!("http://localhost:{port}/files/AviationData.csv")));
    served.put("/files/AviationData.csv", csv_file(b"Event.Id,Investigation.Type,Accident.Number\n".to_vec(), "\"x\""));
    served.put(
        "/avdata",
        Resource::Page(
            "<html><body><a href=\"http://169.254.169.254/latest/meta-data/iam.csv\">x</a></body></html>".into(),
        ),
    );
    let env = env();

    // A redirect to another host.
    let r = env.sync(&format!("http://127.0.0.1:{port}/moved/AviationData.csv"));
    assert_eq!(r.outcome, Outcome::Failed);
    let why = r.error.as_deref().unwrap();
    assert!(
        why.contains("refused") && why.contains("redirect to http://localhost") && why.contains("allowlist"),
        "{why}"
    );
    assert!(!served.log().iter().any(|(t, _, _)| t == "/files/AviationData.csv"), "{:?}", served.log());

    // A loopback name allowed by name only: its address is checked, and refused.
    served.clear_log();
    let r = env.sync_with(&format!("http://localhost:{port}/files/AviationData.csv"), &["localhost"], 1 << 20);
    assert_eq!(r.outcome, Outcome::Failed);
    let why = r.error.as_deref().unwrap();
    assert!(why.contains("refused") && why.contains("loopback"), "{why}");
    assert!(served.log().is_empty(), "nothing reached the server: {:?}", served.log());

    // A page linking the cloud metadata address: that file is refused.
    let r = env.sync(&format!("http://127.0.0.1:{port}/avdata"));
    assert_eq!(r.outcome, Outcome::Failed);
    let FileResult::Failed(why) = &r.files[0].result else { panic!("{:?}", r.files) };
    assert!(why.contains("169.254.169.254") && why.contains("link-local"), "{why}");

    // The default allowlist (NTSB's host) does not reach this machine at all.
    let r = env.sync_with(&format!("http://127.0.0.1:{port}/avdata"), ntsb_sync::DEFAULT_ALLOWED_HOSTS, 1 << 20);
    let why = r.error.as_deref().unwrap();
    assert!(why.contains("refused") && why.contains("--allow-host 127.0.0.1"), "{why}");

    assert_eq!(env.store.loads(10).unwrap().len(), 0, "nothing was loaded");
    assert!(env.store.content_checksums().unwrap().iter().all(|c| c.rows == 0));
}

#[test]
fn a_file_over_the_size_limit_is_refused() {
    let served = Served::default();
    served.put("/big.csv", csv_file(vec![b'x'; 4096], "\"big\""));
    let port = serve(served);
    let env = env();
    let r = env.sync_with(&format!("http://127.0.0.1:{port}/big.csv"), &["127.0.0.1"], 1024);
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(r.error.as_deref().unwrap().contains("larger than the limit of 1024 bytes"), "{:?}", r.error);
    assert!(walk(&env.downloads()).iter().all(|p| p.ends_with("sync-state.json")), "{:?}", walk(&env.downloads()));
}
