//! End-to-end tests of the real `ntsb` binary: each runs it in a fresh data
//! directory and checks its output, exit code and the store it leaves behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn ntsb(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ntsb"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("NTSB_DATABASE_URL")
        .env_remove("NTSB_DATA_DIR")
        .env_remove("NTSB_CONFIG")
        .output()
        .expect("run ntsb")
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "ntsb failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Sum of one counter over every table of an ingest JSON report.
fn total(report: &Value, counter: &str) -> u64 {
    report["totals"].as_object().unwrap().values().map(|c| c[counter].as_u64().unwrap()).sum()
}

fn table(report: &Value, name: &str, counter: &str) -> u64 {
    report["totals"][name][counter].as_u64().unwrap_or(0)
}

fn stats_rows(stats: &Value, table: &str) -> u64 {
    stats["tables"].as_array().unwrap().iter().find(|t| t[0] == table).map(|t| t[1].as_u64().unwrap()).unwrap_or(0)
}

const AVIATION_DATA_HEADER: &str = "Event.Id,Investigation.Type,Accident.Number,Event.Date,Location,Country,Latitude,Longitude,Airport.Code,Airport.Name,Injury.Severity,Aircraft.Damage,Aircraft.Category,Registration.Number,Make,Model,Amateur.Built,Number.of.Engines,Engine.Type,FAR.Description,Schedule,Purpose.of.Flight,Air.Carrier,Total.Fatal.Injuries,Total.Serious.Injuries,Total.Minor.Injuries,Total.Uninjured,Weather.Condition,Broad.Phase.of.Flight,Report.Status,Publication.Date";

/// A small AviationData export written for these tests: a two-aircraft midair
/// (injury totals repeated on both rows), a single-aircraft event, and a row
/// with a bad date that must be rejected while the others load.
fn write_aviation_data(dir: &Path, status: &str) -> PathBuf {
    let rows = [
        format!("20100101X00001,Accident,ERA10FA001A,2010-01-01,\"Testville, GA\",United States,33.5,-84.2,,,Fatal(2),Destroyed,Airplane,N1001,CESSNA,172S,No,1,Reciprocating,Part 91: General Aviation,,Personal,,2,0,1,0,VMC,MANEUVERING,{status},2010-02-01"),
        format!("20100101X00001,Accident,ERA10FA001B,2010-01-01,\"Testville, GA\",United States,33.5,-84.2,,,Fatal(2),Substantial,Airplane,N1002,Piper,PA-28-181,No,1,Reciprocating,Part 91: General Aviation,,Instructional,,2,0,1,0,VMC,MANEUVERING,{status},2010-02-01"),
        "20100203X00002,Incident,CEN10IA002,2010-02-03,\"Sample City, TX\",United States,,,KSMP,Sample Muni,Incident,Minor,Airplane,N2002,BOEING,737-800,No,2,Turbo Fan,Part 121: Air Carrier,SCHD,,Example Air,0,0,0,150,IMC,CLIMB,Probable Cause,2011-01-01".to_string(),
        "20100304X00003,Accident,WPR10LA003,2010-13-45,\"Nowhere, NV\",United States,,,,,Non-Fatal,Substantial,Airplane,N3003,CIRRUS,SR22,No,1,Reciprocating,Part 91: General Aviation,,Personal,,0,1,0,0,VMC,LANDING,Probable Cause,2011-01-01".to_string(),
    ];
    let path = dir.join("AviationData.csv");
    std::fs::write(&path, format!("{AVIATION_DATA_HEADER}\n{}\n", rows.join("\n"))).unwrap();
    path
}

fn write_narratives(dir: &Path) -> PathBuf {
    let path = dir.join("narratives.jsonl");
    let lines = [
        r#"{"ev_id": "20100101X00001", "narrative": "Two airplanes collided in the traffic pattern while maneuvering.", "probable_cause": "Both pilots' failure to see and avoid the other airplane."}"#,
        r#"{"ev_id": "20100203X00002", "narrative": "During the climb the crew reported a bird strike and returned.", "probable_cause": ""}"#,
        r#"{"ev_id": "20991231X99999", "narrative": "An event that no source describes.", "probable_cause": ""}"#,
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn ingest_loads_good_rows_rejects_bad_ones_and_counts_each_event_once() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir(&input).unwrap();
    write_aviation_data(&input, "Preliminary");
    write_narratives(&input);
    std::fs::write(input.join("README.md"), "# notes\n").unwrap();
    let data = tmp.path().join("data");

    let report = ok_json(&ntsb(&data, &["ingest", input.to_str().unwrap(), "--json"]));
    assert_eq!(table(&report, "events", "inserted"), 2, "{report:#}");
    assert_eq!(table(&report, "aircraft", "inserted"), 3);
    assert_eq!(table(&report, "aircraft", "rejected"), 1, "the row dated 2010-13-45 (one row per aircraft)");
    assert_eq!(table(&report, "narratives", "inserted"), 2);
    assert_eq!(table(&report, "narratives", "rejected"), 1, "narrative of an unknown event");
    assert_eq!(report["skipped"].as_array().unwrap().len(), 1, "README.md is listed as skipped");
    assert_eq!(report["indexed"], 2);
    assert_eq!(report["documents"], 2, "each event's detail document is built");
    let rejects = std::fs::read_to_string(report["rejects_report"].as_str().unwrap()).unwrap();
    assert!(rejects.contains("Event.Date"), "{rejects}");
    assert!(rejects.contains("unknown event"), "{rejects}");

    let stats = ok_json(&ntsb(&data, &["stats", "--json"]));
    assert_eq!(stats_rows(&stats, "events"), 2);
    assert_eq!(stats_rows(&stats, "aircraft"), 3);

    // Loading the same files again changes nothing.
    let again = ok_json(&ntsb(&data, &["ingest", input.to_str().unwrap(), "--json"]));
    assert_eq!(total(&again, "inserted") + total(&again, "updated"), 0, "{again:#}");
    assert_eq!(total(&again, "unchanged"), 7);
    assert_eq!(again["documents"], 0, "nothing changed, so every document still stands");
}

#[test]
fn a_newer_release_updates_the_event_and_keeps_the_revision() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let first = tmp.path().join("v1");
    let second = tmp.path().join("v2");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    let v1 = write_aviation_data(&first, "Preliminary");
    let v2 = write_aviation_data(&second, "Probable Cause");
    ok_json(&ntsb(&data, &["ingest", v1.to_str().unwrap(), "--json"]));
    let report = ok_json(&ntsb(&data, &["ingest", v2.to_str().unwrap(), "--json"]));
    assert_eq!(table(&report, "events", "updated"), 1, "{report:#}");
    assert_eq!(table(&report, "events", "unchanged"), 1);
    assert_eq!(report["documents"], 1, "only the updated event's document is rebuilt");

    let revisions = ok_json(&ntsb(&data, &["revisions", "20100101X00001", "--json"]));
    let revisions = revisions.as_array().unwrap();
    assert_eq!(revisions.len(), 1, "{revisions:#?}");
    assert_eq!(revisions[0]["field"], "report_status");
    assert_eq!(revisions[0]["old_value"], "Preliminary");
    assert_eq!(revisions[0]["new_value"], "Probable Cause");

    let loads = ok_json(&ntsb(&data, &["loads", "--json"]));
    assert_eq!(loads.as_array().unwrap().len(), 2);
    assert_eq!(loads[0]["status"], "completed");
}

#[test]
fn an_unrecognised_file_named_explicitly_is_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("budget.csv");
    std::fs::write(&file, "item,amount\ncoffee,3\n").unwrap();
    let out = ntsb(&tmp.path().join("data"), &["ingest", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("budget.csv") && err.contains("not a recognised NTSB format"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let out = ntsb(&tmp.path().join("data"), &["ingest", "/no/such/file.csv"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));
}

#[test]
fn global_options_work_before_or_after_the_subcommand_and_bad_settings_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("elsewhere.sqlite");
    let url = format!("sqlite:{}", db.display());
    let out = Command::new(env!("CARGO_BIN_EXE_ntsb")).args(["db", "migrate", "--db", &url]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(db.exists());
    let out = Command::new(env!("CARGO_BIN_EXE_ntsb")).args(["--db", &url, "db", "status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("core"), "{}", String::from_utf8_lossy(&out.stdout));

    let out = Command::new(env!("CARGO_BIN_EXE_ntsb")).args(["stats", "--db", "mysql://x/y"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("database_url"), "{}", stderr(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_ntsb"))
        .env("NTSB_LOG_FORMAT", "xml")
        .args(["--db", &url, "stats"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("--log-format") && stderr(&out).contains("xml"), "{}", stderr(&out));
}

/// What a new user meets first: the CLI answers like the API (an empty search is
/// refused like the API's 400, an unknown event is an error like its 404), and
/// the demo's progress line does not claim a file of 0 bytes.
#[test]
fn the_cli_agrees_with_the_api_on_empty_searches_and_unknown_events() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = ntsb(&data, &["demo", "--events", "60"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("loading synthetic demo sample (seed 42, 60 events) (demo)"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("0 bytes"), "{}", stderr(&out));

    for query in ["", "   "] {
        let out = ntsb(&data, &["--demo", "search", query]);
        assert_eq!(out.status.code(), Some(2), "a usage error: {}", stderr(&out));
        assert!(stderr(&out).contains("must not be empty"), "{}", stderr(&out));
        assert!(out.stdout.is_empty(), "no \"0 matching events\"");
    }
    let out = ntsb(&data, &["--demo", "revisions", "NOPE"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("\"NOPE\" does not exist"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    let found = ok_json(&ntsb(&data, &["--demo", "search", "pilot", "--json"]));
    let ev_id = found["hits"][0]["ev_id"].as_str().expect("a demo event").to_string();
    let out = ntsb(&data, &["--demo", "revisions", &ev_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no recorded changes"));
}

#[test]
fn migrations_roll_back_and_apply_again() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = ntsb(&data, &["db", "migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ntsb(&data, &["db", "rollback", "--steps", "100"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = String::from_utf8_lossy(&ntsb(&data, &["db", "status"]).stdout).into_owned();
    assert!(status.lines().skip(1).all(|l| l.contains("pending")), "{status}");
    let out = ntsb(&data, &["stats"]);
    assert!(!out.status.success(), "reading an unmigrated store must fail");
    assert!(stderr(&out).contains("ntsb db migrate"), "{}", stderr(&out));
    assert!(ntsb(&data, &["db", "migrate"]).status.success());
    assert!(ntsb(&data, &["stats"]).status.success());
}

#[test]
fn demo_loads_a_synthetic_store_that_never_mixes_with_real_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let report = ok_json(&ntsb(&data, &["demo", "--events", "400", "--json"]));
    assert_eq!(table(&report, "events", "inserted"), 400);
    assert!(report["indexed"].as_u64().unwrap() > 0);

    let stats = ok_json(&ntsb(&data, &["--demo", "stats", "--json"]));
    assert_eq!(stats_rows(&stats, "events"), 400);
    let found = ok_json(&ntsb(&data, &["--demo", "search", "pilot", "--json"]));
    assert!(found["total"].as_u64().unwrap() > 0, "{found:#}");
    // A reader that has gone (`| head`) ends the output quietly, without a panic,
    // whichever command was printing.
    for args in [
        &["--demo", "search", "pilot", "--limit", "100"][..],
        &["--demo", "stats"],
        &["--demo", "loads"],
        &["--demo", "db", "verify"],
        &["--demo", "db", "status"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ntsb"))
            .args(["--data-dir", data.to_str().unwrap()])
            .args(args)
            .env_remove("NTSB_DATABASE_URL")
            .env_remove("NTSB_DATA_DIR")
            .env_remove("NTSB_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // closed before the command writes anything
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !stderr.contains("panicked"), "{args:?}: {:?}: {stderr}", out.status);
    }

    // Same seed, same sample: nothing changes.
    let again = ok_json(&ntsb(&data, &["demo", "--events", "400", "--json"]));
    assert_eq!(total(&again, "inserted") + total(&again, "updated"), 0);

    // The real store stays empty and the demo store refuses real files.
    assert!(!data.join("ntsb.sqlite").exists(), "the demo must not touch the real store");
    let out = ntsb(&data, &["--demo", "ingest", data.to_str().unwrap()]);
    assert!(!out.status.success());
}

/// A one-file HTTP server on 127.0.0.1 and a random port: answers every GET
/// with `body` and `ETag: "e1"`, or 304 when that ETag is sent back.
fn serve_one_file(body: Vec<u8>) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut conditional = false;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                conditional |= line.to_ascii_lowercase().starts_with("if-none-match: \"e1\"");
                line.clear();
            }
            let mut out = stream;
            let _ = if conditional {
                out.write_all(b"HTTP/1.1 304 Not Modified\r\nETag: \"e1\"\r\nConnection: close\r\n\r\n")
            } else {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nETag: \"e1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                out.write_all(head.as_bytes()).and_then(|()| out.write_all(&body))
            };
        }
    });
    port
}

#[test]
fn sync_downloads_loads_then_answers_304_and_refuses_hosts_off_the_allowlist() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let body = std::fs::read(write_aviation_data(&input, "Probable Cause")).unwrap();
    let port = serve_one_file(body.clone());
    let data = tmp.path().join("data");
    let source = format!("http://127.0.0.1:{port}/avdata/AviationData.csv");
    let metrics = tmp.path().join("ntsb_sync.prom");
    let metrics_flag = metrics.to_str().unwrap();
    let args =
        ["sync", "--source", &source, "--allow-host", "127.0.0.1", "--sync-metrics-file", metrics_flag, "--json"];

    let first = ok_json(&ntsb(&data, &args));
    assert_eq!(first["outcome"], "updated", "{first}");
    assert_eq!(first["events_created"], 2, "two events; the bad-date row is rejected: {first}");
    assert_eq!(first["rejects"], 1, "{first}");
    assert_eq!(first["files"][0]["result"], "loaded");
    assert_eq!(std::fs::read(data.join("downloads/AviationData.csv")).unwrap(), body);

    let second = ok_json(&ntsb(&data, &args));
    assert_eq!(second["outcome"], "unchanged", "{second}");
    assert_eq!(second["files"][0]["result"], "not_modified");
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(text.contains("ntsb_sync_runs_total{outcome=\"updated\"} 1\n"), "{text}");
    assert!(text.contains("ntsb_sync_runs_total{outcome=\"unchanged\"} 1\n"), "{text}");

    // A loopback name allowed by name only is refused (its address is checked); exit code 1.
    let refused =
        ntsb(&data, &["sync", "--source", &source.replace("127.0.0.1", "localhost"), "--allow-host", "localhost"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let shown = String::from_utf8_lossy(&refused.stdout);
    assert!(shown.contains("failed") && shown.contains("loopback"), "{shown}");
    // The default allowlist is NTSB's host only.
    let default = ntsb(&data, &["sync", "--source", &source]);
    assert_eq!(default.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&default.stdout).contains("--allow-host 127.0.0.1"));
}
