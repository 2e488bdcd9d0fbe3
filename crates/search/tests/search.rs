//! Behaviour of the full-text index against a store: syncing, updates, removals,
//! ranking, snippets and hostile queries.

mod common;

use common::Fixture;
use ntsb_search::{Error, SearchIndex, SearchOptions, VERSION_FILE};

fn opts(limit: usize) -> SearchOptions {
    SearchOptions { limit, ..SearchOptions::default() }
}

fn ev_ids(index: &SearchIndex, q: &str) -> Vec<String> {
    let page = index.search(q, &opts(50)).expect("search");
    page.hits.into_iter().filter_map(|h| h.ev_id).collect()
}

#[test]
fn sync_indexes_pending_documents_and_is_idempotent() {
    let fx = Fixture::new();
    fx.event("20080124X00101", "2008-01-24", "The engine lost power during cruise flight.", "A loss of engine power.");
    fx.event("20090301X00001", "2009-03-01", "The pilot landed hard in gusty wind.", "The pilot's improper flare.");
    fx.event("20100505X00002", "2010-05-05", "", "");
    let index = fx.index();
    let out = index.sync(fx.store()).expect("sync");
    assert_eq!(out.indexed, 2, "{out:?}");
    assert_eq!(out.removed, 0, "an event without text is not indexed and nothing was removed");
    assert_eq!(index.doc_count(), 2);
    assert_eq!(ev_ids(&index, "engine power"), vec!["20080124X00101"]);
    assert_eq!(ev_ids(&index, "flare"), vec!["20090301X00001"]);

    let again = index.sync(fx.store()).expect("second sync");
    assert_eq!((again.indexed, again.removed), (0, 0), "nothing pending means no work");
    assert_eq!(index.doc_count(), 2);
    assert_eq!(index.position().expect("position"), fx.store().index_log_head().expect("head"));
}

#[test]
fn indexes_in_separate_directories_follow_one_store_independently() {
    // Two API replicas: each has its own index directory over the same store.
    let fx = Fixture::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let first = fx.index();
    let second = SearchIndex::open_or_create(&dir.path().join("replica")).expect("second index");
    fx.event("20080124X00101", "2008-01-24", "Carburetor icing during descent.", "");
    assert_eq!(first.sync(fx.store()).expect("sync").indexed, 1);
    // The first index's sync takes nothing away from the second.
    assert_eq!(second.sync(fx.store()).expect("sync").indexed, 1);
    fx.event("20090301X00001", "2009-03-01", "Carburetor heat was not applied.", "");
    assert_eq!(second.sync(fx.store()).expect("sync").indexed, 1, "only the new change");
    assert_eq!(ev_ids(&second, "carburetor").len(), 2);
    assert_eq!(ev_ids(&first, "carburetor").len(), 1, "the first has not synced yet");
    assert_eq!(first.sync(fx.store()).expect("sync").indexed, 1);
    assert_eq!(ev_ids(&first, "carburetor").len(), 2);
    assert_eq!(first.position().expect("position"), second.position().expect("position"));
}

#[test]
fn the_position_survives_reopening_and_an_index_of_another_store_is_rebuilt() {
    let fx = Fixture::new();
    fx.event("20080124X00101", "2008-01-24", "Bird strike on takeoff.", "");
    fx.event("20080124X00102", "2008-01-24", "Bird strike on landing.", "");
    fx.event("20080124X00103", "2008-01-24", "Bird strike in cruise.", "");
    let index = fx.index();
    assert_eq!(index.sync(fx.store()).expect("sync").indexed, 3);
    let position = index.position().expect("position");
    assert_eq!(position, fx.store().index_log_head().expect("head"));
    drop(index);
    let reopened = fx.index();
    assert_eq!(reopened.position().expect("position"), position);
    assert_eq!(reopened.sync(fx.store()).expect("sync").indexed, 0, "nothing new after reopening");

    // The same index over another store (or this one after a restore, which
    // draws a new store id), even one whose log is longer: its position means
    // nothing there, so it starts again.
    let other = Fixture::new();
    for i in 1..=5 {
        other.event(&format!("2010010{i}X00001"), "2010-01-01", "Fuel exhaustion.", "");
    }
    assert!(other.store().index_log_head().expect("head") > position);
    let out = reopened.sync(other.store()).expect("sync");
    assert_eq!((out.indexed, out.removed), (5, 3), "{out:?}");
    assert_eq!(reopened.doc_count(), 5);
    assert!(ev_ids(&reopened, "bird").is_empty());
    assert_eq!(ev_ids(&reopened, "fuel").len(), 5);
}

#[test]
fn an_update_replaces_the_old_document() {
    let fx = Fixture::new();
    fx.event("20080124X00101", "2008-01-24", "The airplane struck a deer on the runway.", "");
    let index = fx.index();
    index.sync(fx.store()).expect("sync");
    assert_eq!(ev_ids(&index, "deer"), vec!["20080124X00101"]);

    fx.narrative("20080124X00101", "The airplane struck a coyote on the runway.", "Wildlife on the runway.");
    let out = index.sync(fx.store()).expect("resync");
    assert_eq!(out.indexed, 1);
    assert_eq!(index.doc_count(), 1);
    assert!(ev_ids(&index, "deer").is_empty(), "old text is gone");
    assert_eq!(ev_ids(&index, "runway"), vec!["20080124X00101"], "exactly one hit, no duplicate");
    assert_eq!(ev_ids(&index, "wildlife"), vec!["20080124X00101"]);
}

#[test]
fn a_document_without_text_is_removed() {
    let fx = Fixture::new();
    fx.event("20080124X00101", "2008-01-24", "Fuel exhaustion on approach.", "");
    fx.event("20090301X00001", "2009-03-01", "Fuel contamination with water.", "");
    let index = fx.index();
    index.sync(fx.store()).expect("sync");
    assert_eq!(index.doc_count(), 2);

    // Blank text replaces the old text: the store then reports "no text".
    fx.narrative("20080124X00101", " ", " ");
    let out = index.sync(fx.store()).expect("sync removal");
    assert_eq!((out.indexed, out.removed), (0, 1));
    assert_eq!(index.doc_count(), 1);
    assert!(ev_ids(&index, "exhaustion").is_empty());
    assert_eq!(ev_ids(&index, "fuel"), vec!["20090301X00001"]);
}

#[test]
fn rebuild_reindexes_everything() {
    let fx = Fixture::new();
    for i in 0..30 {
        fx.event(
            &format!("2008012{}X{:05}", i % 10, i),
            "2008-01-24",
            &format!("Narrative number {i} about a bird strike."),
            "",
        );
    }
    let index = fx.index();
    assert_eq!(index.sync(fx.store()).expect("sync").indexed, 30);
    let out = index.rebuild(fx.store()).expect("rebuild");
    assert_eq!(out.indexed, 30);
    assert_eq!(out.removed, 30);
    assert_eq!(index.doc_count(), 30);
    assert_eq!(index.search("bird strike", &opts(5)).expect("search").total, 30);
}

#[test]
fn more_mentions_rank_higher_and_probable_cause_counts() {
    let fx = Fixture::new();
    fx.event("20080101X00001", "2008-01-01", "Carburetor icing was likely. The pilot did not use carburetor heat.", "");
    fx.event(
        "20080101X00002",
        "2008-01-01",
        "Carburetor icing was likely. Conditions were conducive to carburetor icing at cruise power.",
        "",
    );
    fx.event("20080101X00003", "2008-01-01", "The pilot ran out of fuel.", "");
    let index = fx.index();
    index.sync(fx.store()).expect("sync");
    let page = index.search("carburetor icing", &opts(10)).expect("search");
    assert_eq!(page.total, 2);
    let ids: Vec<_> = page.hits.iter().filter_map(|h| h.ev_id.as_deref()).collect();
    assert_eq!(ids, vec!["20080101X00002", "20080101X00001"], "two mentions rank above one");
    assert!(page.hits[0].score > page.hits[1].score);
}

#[test]
fn phrases_stemming_paging_and_filters() {
    let fx = Fixture::new();
    fx.event("20080101X00001", "1995-06-01", "The engine failure occurred on takeoff.", "");
    fx.event("20080101X00002", "2005-06-01", "A failure of the left engine occurred.", "");
    fx.event("20080101X00003", "2012-06-01", "Engines failed after fuel starvation.", "");
    let index = fx.index();
    index.sync(fx.store()).expect("sync");
    assert_eq!(ev_ids(&index, "\"engine failure\""), vec!["20080101X00001"]);
    // Both words first (stemmed: "failure" is not "failed"), then the partial match.
    let page = index.search("engine failure", &opts(10)).expect("search");
    assert_eq!(page.total, 3);
    let ranked: Vec<_> = page.hits.iter().filter_map(|h| h.ev_id.as_deref()).collect();
    assert_eq!(&ranked[2..], ["20080101X00003"], "the document with one of the two words comes last: {ranked:?}");
    assert_eq!(index.matching_ids("engine failure", 10).expect("strict").len(), 2, "a filter needs every word");
    assert_eq!(index.search("engines", &opts(10)).expect("search").total, 3, "stemming");
    assert_eq!(ev_ids(&index, "probable_cause:engine"), Vec::<String>::new());
    assert_eq!(ev_ids(&index, "ev_id:20080101X00003"), vec!["20080101X00003"]);

    let page = index.search("engine", &SearchOptions { limit: 1, offset: 1, ..Default::default() }).expect("page");
    assert_eq!((page.total, page.hits.len()), (3, 1));
    let counted = index.search("engine", &SearchOptions { limit: 0, ..Default::default() }).expect("count");
    assert_eq!((counted.total, counted.hits.len()), (3, 0));

    let filtered = SearchOptions { limit: 10, year_from: Some(2000), year_to: Some(2010), ..Default::default() };
    let page = index.search("engine", &filtered).expect("filtered");
    assert_eq!(page.hits.iter().filter_map(|h| h.ev_id.as_deref()).collect::<Vec<_>>(), vec!["20080101X00002"]);
    assert_eq!(page.hits[0].event_date.as_deref(), Some("2005-06-01"));
    assert_eq!(index.search("engine year:[2010 TO 2020]", &opts(10)).expect("range").total, 1);

    let ids = index.search_ids("engine", 10).expect("ids");
    assert_eq!(ids.len(), 3);
    let hits = index.search("engine", &opts(10)).expect("search").hits;
    assert_eq!(ids.iter().map(|(id, _)| *id).collect::<Vec<_>>(), hits.iter().map(|h| h.event_id).collect::<Vec<_>>());
}

#[test]
fn snippets_highlight_and_escape() {
    let fx = Fixture::new();
    let long = format!(
        "{} The <b>pilot</b> reported that the engine & propeller stopped. {}",
        "Filler text about the weather and the route. ".repeat(20),
        "More filler about the wreckage and the ramp. ".repeat(20)
    );
    fx.event("20080101X00001", "2008-01-01", &long, "The propeller separated.");
    fx.event("20080101X00002", "2008-01-01", "Nothing notable here.", "Improper rotation of the propellers.");
    let index = fx.index();
    index.sync(fx.store()).expect("sync");

    let hit = &index.search("stopped", &opts(1)).expect("search").hits[0];
    assert!(hit.snippet.contains("<mark>stopped</mark>"), "{}", hit.snippet);
    assert!(hit.snippet.contains("&lt;b&gt;pilot&lt;/b&gt;"), "narrative markup is escaped: {}", hit.snippet);
    assert!(hit.snippet.contains("&amp;"), "{}", hit.snippet);
    assert!(hit.snippet.chars().count() < 300, "snippet is short: {}", hit.snippet.len());

    let hit = &index.search("rotation", &opts(1)).expect("search").hits[0];
    assert!(hit.snippet.contains("<mark>rotation</mark>"), "falls back to the probable cause: {}", hit.snippet);
    let hit = &index.search("propeller", &opts(5)).expect("search").hits;
    assert!(hit.iter().all(|h| h.snippet.contains("<mark>propeller")), "{hit:?}");
}

#[test]
fn hostile_queries_never_fail() {
    let fx = Fixture::new();
    fx.event(
        "20080101X00001",
        "2008-01-01",
        "Engine failure. The pilot said \"OR\" and (parentheses).",
        "Engine AND fuel.",
    );
    let index = fx.index();
    index.sync(fx.store()).expect("sync");
    let long_a = "a ".repeat(10_000);
    let long_word = "x".repeat(100_000);
    let nasty: Vec<&str> = vec![
        "",
        " ",
        "\"",
        "\"\"",
        "\"\"\"",
        "(((",
        ")))",
        "(a",
        "a)",
        "[",
        "]",
        "{",
        "}",
        "year:[",
        "year:[2000 TO",
        "year:[a TO b]",
        "year:abc",
        "engine AND",
        "AND",
        "OR",
        "NOT",
        "NOT engine",
        "-engine",
        "+",
        "-",
        "+-+",
        "engine OR OR",
        "AND OR NOT",
        "narrative:",
        "narrative:\"",
        "probable_cause:(",
        "foo:bar",
        "event_id:abc",
        "event_id:1",
        ":",
        "::",
        "a:b:c",
        "*",
        "**",
        "engine*",
        "\"engine fail\"*",
        "?",
        "~",
        "engine~2",
        "^",
        "engine^",
        "engine^abc",
        "\\",
        "\\\\",
        "\u{0}",
        "\u{7}\u{1b}[31m",
        "' OR 1=1 --",
        "'; DROP TABLE events; --",
        "<script>alert(1)</script>",
        "🛩️ ✈ 💥",
        "ünïcödé ñ 日本語 الطائرة",
        "\u{202e}reversed",
        "\u{feff}",
        &long_a,
        &long_word,
        "ev_id:",
        "ntsb_no:*",
        "IN",
        "engine IN [a b]",
        "a AND (b OR",
        "\"unclosed phrase",
        "\"engine failure\" \"",
        "engine\u{0}failure",
        "%",
        "_",
        "$where",
        "${jndi:ldap://x}",
        "1e308",
        "-1",
        "year:[2020 TO 2000]",
        "year:{* TO *}",
        "year:>2000",
        "year:<=",
        ">",
        "<",
        "!",
        "!engine",
        "&&",
        "||",
    ];
    for q in &nasty {
        let page = index.search(q, &opts(10));
        assert!(page.is_ok(), "query {:?} failed: {:?}", q.chars().take(40).collect::<String>(), page.err());
        assert!(index.search_ids(q, 10).is_ok(), "search_ids {:?}", q.chars().take(40).collect::<String>());
    }
    assert_eq!(index.search("", &opts(10)).expect("empty").total, 0);
    assert_eq!(index.search("   ", &opts(10)).expect("blank").total, 0);
    assert_eq!(index.search("\u{0}", &opts(10)).expect("nul").total, 0);
    assert_eq!(index.search("(((", &opts(10)).expect("parens").total, 0);
    assert_eq!(index.search("\"engine failure", &opts(10)).expect("unbalanced").total, 1, "searched as words");
    assert_eq!(index.search("engine AND", &opts(10)).expect("trailing AND").total, 1);
    assert_eq!(index.search("foo:engine", &opts(10)).expect("unknown field").total, 1, "foo is a word, engine matches");
    assert!(index.matching_ids("foo:engine", 10).expect("strict").is_empty(), "foo is a word that no document has");
    assert_eq!(index.search("narrative:engine", &opts(10)).expect("field").total, 1);
    assert_eq!(
        index
            .search("engine", &SearchOptions { limit: usize::MAX, offset: usize::MAX, ..Default::default() })
            .expect("huge paging")
            .total,
        1
    );
}

#[test]
fn an_index_of_another_schema_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index");
    drop(SearchIndex::open_or_create(&path).expect("create"));
    drop(SearchIndex::open_or_create(&path).expect("reopen"));
    std::fs::write(path.join(VERSION_FILE), "0\n").expect("write version");
    let err = SearchIndex::open_or_create(&path).expect_err("old schema must be refused");
    assert!(matches!(err, Error::SchemaVersion { .. }), "{err:?}");
    assert!(err.to_string().contains("ntsb index rebuild"), "{err}");

    let index = SearchIndex::recreate(&path).expect("recreate");
    assert_eq!(index.doc_count(), 0);
    drop(index);
    SearchIndex::open_or_create(&path).expect("open after recreate");

    let other = dir.path().join("not-an-index");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("notes.txt"), "mine").expect("write");
    assert!(matches!(SearchIndex::open_or_create(&other), Err(Error::NotAnIndex { .. })));
    assert!(matches!(SearchIndex::recreate(&other), Err(Error::NotAnIndex { .. })));
    assert!(other.join("notes.txt").exists(), "a foreign directory is never deleted");
}

#[test]
fn two_handles_in_one_process_share_nothing_but_files() {
    let fx = Fixture::new();
    fx.event("20080101X00001", "2008-01-01", "Hard landing.", "");
    let writer = fx.index();
    writer.sync(fx.store()).expect("sync");
    let reader = SearchIndex::open_or_create(writer.dir()).expect("second handle");
    assert_eq!(reader.search("landing", &opts(5)).expect("search").total, 1);
    assert!(matches!(reader.sync(fx.store()), Err(Error::Locked { .. })), "one writer per index");
}

/// Narratives before 2000 are upper case; 15 words copied from one, with NOT, AND
/// and OR in them, must find it (they are words, not operators).
#[test]
fn upper_case_text_with_and_or_not_is_searched_as_words() {
    let fx = Fixture::new();
    fx.event(
        "20001211X12345",
        "1994-07-16",
        "THE PILOT REPORTED THAT DURING THE LANDING ROLL A GUST OF WIND LIFTED THE LEFT WING. HE COULD NOT MAINTAIN \
         DIRECTIONAL CONTROL AND THE AIRCRAFT DRIFTED OFF THE RUNWAY INTO A DITCH. THE NOSE GEAR COLLAPSED AND THE \
         PROPELLER STRUCK THE GROUND. THE WIND WAS REPORTED AS 270 DEGREES AT 15 KNOTS OR MORE.",
        "THE PILOT'S FAILURE TO MAINTAIN DIRECTIONAL CONTROL. A FACTOR WAS THE GUSTY CROSSWIND.",
    );
    fx.event(
        "20001211X12346",
        "1995-02-03",
        "THE AIRCRAFT STRUCK A DITCH AFTER THE ENGINE LOST POWER ON FINAL APPROACH. THE PILOT DID NOT USE \
         CARBURETOR HEAT.",
        "CARBURETOR ICING.",
    );
    fx.event("20080101X00001", "2008-01-01", "The pilot maintained control on the runway.", "");
    let index = fx.index();
    index.sync(fx.store()).expect("sync");

    let copied = "COULD NOT MAINTAIN DIRECTIONAL CONTROL AND THE AIRCRAFT DRIFTED OFF THE RUNWAY INTO A DITCH";
    assert_eq!(ev_ids(&index, copied).first().map(String::as_str), Some("20001211X12345"));
    assert_eq!(index.matching_ids(copied, 10).expect("strict").len(), 1, "every word is in that narrative");
    // Lower case, and words that are operators elsewhere, change nothing.
    assert_eq!(ev_ids(&index, &copied.to_lowercase()).first().map(String::as_str), Some("20001211X12345"));
    assert_eq!(ev_ids(&index, "KNOTS OR MORE").first().map(String::as_str), Some("20001211X12345"));
    assert_eq!(ev_ids(&index, "NOT").len(), 2, "NOT is a word: both upper-case narratives have it");

    // A word no narrative has (a typo) does not empty the result: the best
    // partial matches come back, the one with most of the words first.
    let typo = "COULD NOT MAINTAIN DIRECTIONL CONTROL AND THE AIRCRAFT DRIFTED OFF THE RUNWAY";
    assert!(index.matching_ids(typo, 10).expect("strict").is_empty());
    let ranked = ev_ids(&index, typo);
    assert_eq!(ranked.len(), 3, "every document shares some word: {ranked:?}");
    assert_eq!(ranked[0], "20001211X12345");
}

/// Documents with every word rank above partial matches even when a partial
/// match has a higher BM25 score; explicit syntax still works.
#[test]
fn all_words_first_then_partial_and_explicit_operators() {
    let fx = Fixture::new();
    fx.event("20080101X00001", "2008-01-01", "Wire strike. Wire wire wire wire during crop dusting.", "");
    fx.event("20080101X00002", "2008-01-01", "The helicopter struck a wire during agricultural work.", "");
    fx.event("20080101X00003", "2008-01-01", "The helicopter lost engine power over a field.", "");
    let index = fx.index();
    index.sync(fx.store()).expect("sync");

    let page = index.search("helicopter wire", &opts(10)).expect("search");
    let ids: Vec<_> = page.hits.iter().filter_map(|h| h.ev_id.as_deref()).collect();
    assert_eq!(ids[0], "20080101X00002", "only this one has both words: {ids:?}");
    assert_eq!(ids.len(), 3);
    assert!(page.hits.iter().all(|h| h.score > 0.0 && h.score < 100.0), "scores are BM25: {:?}", page.hits);

    assert_eq!(ev_ids(&index, "helicopter -wire"), vec!["20080101X00003"], "a leading - excludes");
    assert_eq!(ev_ids(&index, "-\"crop dusting\" wire"), vec!["20080101X00002"], "a phrase can be excluded");
    assert_eq!(ev_ids(&index, "+engine helicopter wire"), vec!["20080101X00003"], "a leading + requires");
    assert_eq!(ev_ids(&index, "-wire").len(), 1, "only an exclusion: everything else");
    assert_eq!(ev_ids(&index, "*").len(), 3);
    assert_eq!(ev_ids(&index, "ev_id:20080101x00003"), vec!["20080101X00003"], "keys are upper-cased");
}
