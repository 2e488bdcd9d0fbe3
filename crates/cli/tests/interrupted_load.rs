//! A load killed with SIGKILL midway leaves a consistent store, and running the
//! same command again ends with exactly the store an uninterrupted load gives.
//! Uses the real AviationData export and narratives; skips when they are absent.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn ntsb(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ntsb"));
    c.arg("--data-dir").arg(data_dir).env_remove("NTSB_DATABASE_URL").env_remove("NTSB_CONFIG");
    c
}

fn json(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("run ntsb");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn a_load_killed_midway_completes_on_rerun_identical_to_an_uninterrupted_load() {
    let Some(shared) = ntsb_test_support::shared_data("a_load_killed_midway_completes_on_rerun") else { return };
    let inputs = [
        shared.join("ntsb/aviationdata/AviationData_20170328.csv"),
        shared.join("ntsb/narratives/ntsb_narratives_rti2016_part1.jsonl"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let (clean, killed) = (tmp.path().join("clean"), tmp.path().join("killed"));
    let ingest = |dir: &Path| {
        let mut c = ntsb(dir);
        c.arg("ingest").args(&inputs).args(["--batch-size", "2000", "--json"]);
        c
    };

    json(&mut ingest(&clean));

    // Kill the second load once some batches are committed but before it ends.
    let mut child = ingest(&killed).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let db = killed.join("ntsb.sqlite");
    let started = Instant::now();
    let wal = killed.join("ntsb.sqlite-wal");
    while started.elapsed() < Duration::from_secs(60) {
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if size > 4 << 20 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the load finished before it could be killed; make the trigger earlier");
    assert!(db.exists());

    // The interrupted store is consistent, and its ledger shows the load never finished.
    let verify = json(ntsb(&killed).args(["db", "verify", "--json"]));
    assert_eq!(verify["ok"], true, "{verify:#}");
    let loads = json(ntsb(&killed).args(["loads", "--json"]));
    assert!(loads.as_array().unwrap().iter().any(|l| l["status"] == "running"), "{loads:#}");

    // The same command again completes it.
    json(&mut ingest(&killed));
    let a = json(ntsb(&clean).args(["db", "verify", "--json"]));
    let b = json(ntsb(&killed).args(["db", "verify", "--json"]));
    assert_eq!(a["tables"], b["tables"], "stores differ after the re-run");
    let hits = |dir: &Path| json(ntsb(dir).args(["search", "carburetor icing", "--json"]))["total"].clone();
    assert_eq!(hits(&clean), hits(&killed), "the index caught up with the store");
}
