//! Off-site backups against a real S3-compatible server: `moto_server` (PyPI
//! `moto[server]`, installed by deploy/tools.sh), started by each test on a free
//! port. A backup uploaded there restores identically on SQLite and on
//! PostgreSQL; a wrong key, a changed byte and a shortened object are refused
//! with the store unchanged; a prune keeps the right archives.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use ntsb_model::SourceKind;
use ntsb_model::records::{AircraftRecord, EventRecord, EventRef, NarrativeRecord, Record, SourcedRecord};
use ntsb_offsite::{BackupKey, Error, Location, Retention, S3Client, S3Settings};
use ntsb_store::postgres::{PostgresConfig, PostgresStore};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Backend, LoadSource, Store};

/// A `moto_server` process, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto(test: &str) -> Option<Moto> {
    let install = "run deploy/tools.sh and put ~/.cache/ntsb-tools/bin on PATH (PyPI moto[server]==5.2.1)";
    if !ntsb_test_support::tool(test, "moto_server", install) {
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
    // Wait until it listens; a server that exits (a port taken, a broken install)
    // fails at once, and the attempt count only guards against a hang.
    for _ in 0..600 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(moto);
        }
        if let Some(status) = moto.child.try_wait().expect("moto_server status") {
            panic!("moto_server exited ({status}) before listening on {port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto_server did not listen on {port} after 600 attempts")
}

fn client(moto: &Moto, location: &Location) -> S3Client {
    let settings = S3Settings {
        endpoint: Some(moto.endpoint.parse().expect("url")),
        region: "us-east-1".into(),
        access_key_id: "testing".into(),
        secret_access_key: "testing-secret".into(),
        session_token: None,
    };
    let client = S3Client::new(&settings, location).expect("client");
    client.create_bucket().expect("create bucket");
    client
}

/// Rows of every kind the backup carries, with narratives that compress badly
/// so the archive spans several 1 MiB chunks.
fn populate(store: &dyn Backend) {
    let source = LoadSource { path: "offsite.csv".into(), format: "test".into(), checksum: "x".into(), bytes: 1 };
    let load = store.begin_load(&source).expect("begin");
    let mut records = Vec::new();
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    for i in 0..800 {
        let id = format!("2010{:02}{:02}X{:05}", i % 12 + 1, i % 28 + 1, i);
        records.push(Record::Event(EventRecord {
            ev_id: Some(id.clone()),
            event_date: Some(format!("2010-{:02}-{:02}", i % 12 + 1, i % 28 + 1)),
            state: Some("CA".into()),
            inj_fatal: Some(i % 3),
            ..Default::default()
        }));
        records.push(Record::Aircraft(AircraftRecord {
            event: EventRef::EvId(id.clone()),
            aircraft_key: 1,
            make: Some(if i % 2 == 0 { "CESSNA" } else { "PIPER" }.into()),
            ..Default::default()
        }));
        let text: String = (0..1500)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                format!("{:x}", noise & 0xffff)
            })
            .collect();
        records.push(Record::Narrative(NarrativeRecord {
            event: EventRef::EvId(id),
            aircraft_key: 0,
            narrative: Some(format!("Narrative {i} ✈ {text}")),
            ..Default::default()
        }));
    }
    let sourced = records.into_iter().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 2, record });
    store.write_batch(load, SourceKind::Avall, "offsite.csv", sourced.collect()).expect("write");
}

fn key(byte: u8) -> BackupKey {
    BackupKey::from_bytes([byte; 32])
}

/// A store to back up and an empty one to restore into, of one backend.
struct Pair {
    source: Arc<dyn Backend>,
    target: Arc<dyn Backend>,
    _guards: Vec<Box<dyn std::any::Any>>,
}

fn sqlite_pair() -> Pair {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = SqliteStore::open(&dir.path().join("a.sqlite")).expect("open");
    let target = SqliteStore::open(&dir.path().join("b.sqlite")).expect("open");
    Pair { source: Arc::new(source), target: Arc::new(target), _guards: vec![Box::new(dir)] }
}

/// Drops its schema when dropped.
struct Schema(String, String);

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.0, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.1));
        }
    }
}

fn postgres_pair(test: &str) -> Option<Pair> {
    let url = ntsb_test_support::postgres_url(test)?;
    let mut stores: Vec<Arc<dyn Backend>> = Vec::new();
    let mut guards: Vec<Box<dyn std::any::Any>> = Vec::new();
    for side in ["a", "b"] {
        let name = format!("t_offsite_{side}_{}", std::process::id());
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("PostgreSQL reachable");
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).expect("schema");
        let mut config = PostgresConfig::new(&url);
        config.schema = Some(name.clone());
        config.pool_size = 2;
        stores.push(Arc::new(PostgresStore::connect(config).expect("connect")));
        guards.push(Box::new(Schema(url.clone(), name)));
    }
    let target = stores.pop().expect("b");
    let source = stores.pop().expect("a");
    // Stores before schemas: connections close before the schema is dropped.
    Some(Pair { source, target, _guards: guards })
}

fn round_trip(pair: Pair, test: &str) {
    let Some(moto) = moto(test) else { return };
    for s in [&pair.source, &pair.target] {
        s.migrate().expect("migrate");
    }
    populate(pair.source.as_ref());
    let location = Location::parse("s3://ntsb-backups/prod/hourly").expect("location");
    let client = client(&moto, &location);
    let work = tempfile::tempdir().expect("work");
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 18, 0, 0).unwrap();
    let uploaded =
        ntsb_offsite::backup_to(pair.source.as_store(), &client, &location, &key(1), at, work.path()).expect("backup");
    assert_eq!(uploaded.key, "prod/hourly/ntsb-backup-20261207T180000Z.tar.zst.enc");
    assert!(uploaded.bytes > 2 << 20, "several chunks: {} bytes", uploaded.bytes);
    let listed = client.list(&location).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, uploaded.bytes);
    // Nothing of the plaintext is in the object.
    let mut object = Vec::new();
    client.get_to(&uploaded.key, &mut object).expect("get");
    assert!(!object.windows(9).any(|w| w == b"Narrative"), "the object is encrypted");

    let restored = ntsb_offsite::restore_from(pair.target.as_store(), &client, &location, None, &key(1), work.path())
        .expect("restore");
    assert_eq!(restored.key, uploaded.key);
    assert_eq!(restored.manifest, uploaded.manifest);
    assert_eq!(pair.target.content_checksums().expect("b"), pair.source.content_checksums().expect("a"));
    assert!(pair.target.check_integrity().expect("integrity").is_empty());
    // Temporary files are gone.
    assert_eq!(std::fs::read_dir(work.path()).expect("work").count(), 0);
}

trait AsStore {
    fn as_store(&self) -> &dyn Store;
}

impl AsStore for Arc<dyn Backend> {
    fn as_store(&self) -> &dyn Store {
        self.as_ref()
    }
}

#[test]
fn a_sqlite_backup_round_trips_through_s3() {
    round_trip(sqlite_pair(), "a_sqlite_backup_round_trips_through_s3");
}

#[test]
fn a_postgres_backup_round_trips_through_s3() {
    let test = "a_postgres_backup_round_trips_through_s3";
    let Some(pair) = postgres_pair(test) else { return };
    round_trip(pair, test);
}

#[test]
fn wrong_key_tampered_and_truncated_archives_are_refused_and_change_nothing() {
    let test = "wrong_key_tampered_and_truncated_archives_are_refused";
    let Some(moto) = moto(test) else { return };
    let pair = sqlite_pair();
    for s in [&pair.source, &pair.target] {
        s.migrate().expect("migrate");
    }
    populate(pair.source.as_ref());
    let location = Location::parse("s3://ntsb-backups/refusals").expect("location");
    let client = client(&moto, &location);
    let work = tempfile::tempdir().expect("work");
    let at = Utc.with_ymd_and_hms(2026, 12, 7, 19, 0, 0).unwrap();
    let uploaded =
        ntsb_offsite::backup_to(pair.source.as_store(), &client, &location, &key(1), at, work.path()).expect("backup");
    let before = pair.target.content_checksums().expect("checksums");
    let restore = |name: Option<&str>, k: &BackupKey| {
        ntsb_offsite::restore_from(pair.target.as_store(), &client, &location, name, k, work.path())
    };

    let err = restore(None, &key(2)).expect_err("wrong key");
    assert!(matches!(err, Error::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("wrong backup key"), "{err}");

    let mut object = Vec::new();
    client.get_to(&uploaded.key, &mut object).expect("get");
    let mut flipped = object.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    client.put_bytes(&location.key("ntsb-backup-20261207T190100Z.tar.zst.enc"), flipped).expect("put");
    let err = restore(Some("ntsb-backup-20261207T190100Z.tar.zst.enc"), &key(1)).expect_err("tampered");
    assert!(matches!(err, Error::Tampered { .. }), "{err}");

    // Cut at a chunk boundary (the remaining chunks all authenticate) and mid-chunk.
    let boundary = ntsb_offsite::crypt::HEADER_LEN + (ntsb_offsite::crypt::CHUNK + 16);
    for (name, len) in [
        ("ntsb-backup-20261207T190200Z.tar.zst.enc", boundary),
        ("ntsb-backup-20261207T190300Z.tar.zst.enc", object.len() - 100),
        ("ntsb-backup-20261207T190400Z.tar.zst.enc", 30),
    ] {
        client.put_bytes(&location.key(name), object[..len].to_vec()).expect("put");
        let err = restore(Some(name), &key(1)).expect_err("truncated");
        assert!(matches!(err, Error::Tampered { .. } | Error::Truncated(_)), "{name}: {err}");
        assert!(err.to_string().contains("refused"), "{err}");
    }
    // The newest is now the truncated one: restoring the latest is refused too.
    assert!(restore(None, &key(1)).is_err());

    assert_eq!(pair.target.content_checksums().expect("checksums"), before, "refused restores changed nothing");
    assert_eq!(std::fs::read_dir(work.path()).expect("work").count(), 0, "no temporary files left");
    // The genuine archive still restores.
    restore(Some("ntsb-backup-20261207T190000Z.tar.zst.enc"), &key(1)).expect("genuine archive");
    assert_eq!(pair.target.content_checksums().expect("b"), pair.source.content_checksums().expect("a"));
}

#[test]
fn prune_keeps_the_newest_hourly_and_daily_archives() {
    let test = "prune_keeps_the_newest_hourly_and_daily_archives";
    let Some(moto) = moto(test) else { return };
    let location = Location::parse("s3://ntsb-backups/prune").expect("location");
    let client = client(&moto, &location);
    // Three days of hourly archives (the content does not matter to a prune),
    // an unrelated object, and one in a deeper "folder".
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 0, 15, 0).unwrap();
    for h in 0..72 {
        let name = ntsb_offsite::archive_name(start + chrono::Duration::hours(h));
        client.put_bytes(&location.key(&name), vec![0u8; 8]).expect("put");
    }
    client.put_bytes(&location.key("notes.txt"), b"keep me".to_vec()).expect("put");
    client.put_bytes("prune/deeper/ntsb-backup-20200101T000000Z.tar.zst.enc", vec![1]).expect("put");

    let policy = Retention { hourly: 5, daily: 2 };
    let dry = ntsb_offsite::prune(&client, &location, policy, true).expect("dry run");
    assert_eq!(client.list(&location).expect("list").len(), 73, "a dry run deletes nothing");
    let done = ntsb_offsite::prune(&client, &location, policy, false).expect("prune");
    assert_eq!(done, dry);
    let kept: Vec<&str> = done.keep.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(
        kept,
        [
            "ntsb-backup-20261203T231500Z.tar.zst.enc",
            "ntsb-backup-20261203T221500Z.tar.zst.enc",
            "ntsb-backup-20261203T211500Z.tar.zst.enc",
            "ntsb-backup-20261203T201500Z.tar.zst.enc",
            "ntsb-backup-20261203T191500Z.tar.zst.enc",
            "ntsb-backup-20261202T231500Z.tar.zst.enc",
        ]
    );
    assert_eq!(done.delete.len(), 66);
    let mut left: Vec<String> = client.list(&location).expect("list").into_iter().map(|o| o.key).collect();
    left.sort();
    assert_eq!(left.len(), 7, "{left:?}");
    assert!(left.contains(&"prune/notes.txt".to_string()));
    let mut deeper = Vec::new();
    client.get_to("prune/deeper/ntsb-backup-20200101T000000Z.tar.zst.enc", &mut deeper).expect("deeper kept");
}
