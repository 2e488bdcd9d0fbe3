//! Behaviour of the stores through the `Store` interface, on small hand-built
//! records. Every test inside `conformance!` runs on SQLite (`sqlite::NAME`) and
//! on PostgreSQL (`postgres::NAME`, in a fresh schema of the server named by
//! `NTSB_TEST_POSTGRES_URL`; skipped with a printed reason when it is unset).

#[macro_use]
mod common;

use std::sync::Arc;

use ntsb_model::SourceKind;
use ntsb_model::records::{
    AircraftRecord, CodeRecord, CrewRecord, EventRecord, EventRef, FlightTimeRecord, IdLinkRecord, NarrativeRecord,
    Record, SourcedRecord,
};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{
    Backend, DocumentLookup, Error, LoadId, LoadSource, LoadSummary, Store, TableCounts, TrainingFilter, TrainingRow,
};

const EV: &str = "20080124X00101";
const NO: &str = "NYC08CA068";

fn begin(store: &(impl common::AsBackend + ?Sized), path: &str) -> LoadId {
    store
        .backend()
        .begin_load(&LoadSource {
            path: path.into(),
            format: "test".into(),
            checksum: format!("sha256-of-{path}"),
            bytes: 10,
        })
        .expect("begin load")
}

fn sourced(records: Vec<Record>) -> Vec<SourcedRecord> {
    records.into_iter().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 2, record }).collect()
}

fn write(
    store: &(impl common::AsBackend + ?Sized),
    load: LoadId,
    kind: SourceKind,
    records: Vec<Record>,
) -> ntsb_store::BatchOutcome {
    store.backend().write_batch(load, kind, "file.csv", sourced(records)).expect("write batch")
}

fn event(ev_id: Option<&str>, ntsb_no: Option<&str>) -> EventRecord {
    EventRecord { ev_id: ev_id.map(str::to_string), ntsb_no: ntsb_no.map(str::to_string), ..Default::default() }
}

fn full_event() -> Record {
    Record::Event(EventRecord {
        event_date: Some("2008-01-24".into()),
        state: Some("NY".into()),
        latitude: Some(40.712_345_678),
        longitude: Some(-73.9),
        inj_fatal: Some(0),
        has_safety_rec: Some(false),
        ..event(Some(EV), Some(NO))
    })
}

fn aircraft(event: EventRef, key: i64, make: &str) -> Record {
    Record::Aircraft(AircraftRecord { event, aircraft_key: key, make: Some(make.into()), ..Default::default() })
}

fn narrative(event: EventRef, key: i64, text: &str) -> Record {
    Record::Narrative(NarrativeRecord { event, aircraft_key: key, narrative: Some(text.into()), ..Default::default() })
}

fn counts(out: &ntsb_store::BatchOutcome, table: &str) -> TableCounts {
    out.tables.get(table).copied().unwrap_or_default()
}

fn table_rows(store: &(impl common::AsBackend + ?Sized), table: &str) -> u64 {
    store.backend().stats().expect("stats").tables.iter().find(|(t, _)| t == table).map(|(_, n)| *n).unwrap_or(0)
}

/// Documents of the index change log after `after`.
fn changed_docs(store: &(impl common::AsBackend + ?Sized), after: u64) -> Vec<ntsb_store::IndexDoc> {
    store.backend().index_changes(after, 1000).expect("index changes").into_iter().map(|c| c.doc).collect()
}

fn ev_ref() -> EventRef {
    EventRef::EvId(EV.into())
}

conformance! {
fn store_is_shareable_between_threads(kind) {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqliteStore>();
    assert_send_sync::<ntsb_store::postgres::PostgresStore>();
    let s = kind.store("store_is_shareable_between_threads");
    let shared: Arc<dyn Backend> = s.arc();
    let store: Arc<dyn Store> = shared.clone();
    let t = std::thread::spawn(move || store.content_kind().expect("content"));
    assert_eq!(t.join().expect("thread"), None);
}

fn writing_the_same_batch_twice_counts_everything_unchanged_and_keeps_no_revisions(kind) {
    let s = kind.store("writing_the_same_batch_twice_counts_everything_unchanged_and_keeps_no_revisions_s");
    let load = begin(&s, "a.csv");
    let batch = || vec![full_event(), aircraft(ev_ref(), 1, "CESSNA"), narrative(ev_ref(), 0, "It flew.")];
    let first = write(&s, load, SourceKind::Avall, batch());
    assert_eq!(counts(&first, "events").inserted, 1);
    assert_eq!(counts(&first, "aircraft").inserted, 1);
    assert_eq!(counts(&first, "narratives").inserted, 1);
    let second = write(&s, load, SourceKind::Avall, batch());
    for table in ["events", "aircraft", "narratives"] {
        assert_eq!(counts(&second, table), TableCounts { unchanged: 1, ..Default::default() }, "{table}");
    }
    assert!(s.revisions(EV).expect("revisions").is_empty());
}

fn a_changed_value_from_the_same_kind_is_updated_with_a_revision(kind) {
    let s = kind.store("a_changed_value_from_the_same_kind_is_updated_with_a_revision_s");
    let first = begin(&s, "prelim.csv");
    write(&s, first, SourceKind::Avall, vec![full_event(), aircraft(ev_ref(), 1, "CESSNA")]);
    let second = begin(&s, "final.csv");
    let out = write(&s, second, SourceKind::Avall, vec![aircraft(ev_ref(), 1, "PIPER")]);
    assert_eq!(counts(&out, "aircraft").updated, 1);
    let revs = s.revisions(EV).expect("revisions");
    assert_eq!(revs.len(), 1);
    let r = &revs[0];
    assert_eq!((r.table.as_str(), r.row_key.as_str(), r.field.as_str()), ("aircraft", "1", "make"));
    assert_eq!(r.old_value.as_deref(), Some("CESSNA"));
    assert_eq!(r.new_value.as_deref(), Some("PIPER"));
    assert_eq!(r.load, second);
    assert_eq!(r.source, "final.csv");
    assert!(!r.changed_at.is_empty());
}

fn a_lower_precedence_source_cannot_overwrite_a_higher_one(kind) {
    let s = kind.store("a_lower_precedence_source_cannot_overwrite_a_higher_one_s");
    let load = begin(&s, "x");
    write(&s, load, SourceKind::Avall, vec![full_event(), aircraft(ev_ref(), 1, "CESSNA")]);
    let out = write(&s, load, SourceKind::AviationData, vec![aircraft(ev_ref(), 1, "Cessna Aircraft Co")]);
    assert_eq!(counts(&out, "aircraft").unchanged, 1);
    assert!(s.revisions(EV).expect("revisions").is_empty());
}

fn a_higher_precedence_source_overwrites_a_lower_one_and_then_holds(kind) {
    let s = kind.store("a_higher_precedence_source_overwrites_a_lower_one_and_then_holds_s");
    let load = begin(&s, "x");
    write(&s, load, SourceKind::AviationData, vec![full_event(), aircraft(ev_ref(), 1, "Cessna Aircraft Co")]);
    let out = write(&s, load, SourceKind::Carol, vec![aircraft(ev_ref(), 1, "CESSNA")]);
    assert_eq!(counts(&out, "aircraft").updated, 1);
    // Loading the lower kind again does not flip the field back.
    let again = write(&s, load, SourceKind::AviationData, vec![aircraft(ev_ref(), 1, "Cessna Aircraft Co")]);
    assert_eq!(counts(&again, "aircraft").unchanged, 1);
    let revs = s.revisions(EV).expect("revisions");
    assert_eq!(revs.len(), 1);
    assert_eq!(revs[0].new_value.as_deref(), Some("CESSNA"));
}

fn a_null_value_never_overwrites_a_known_one(kind) {
    let s = kind.store("a_null_value_never_overwrites_a_known_one_s");
    let load = begin(&s, "x");
    write(&s, load, SourceKind::AviationData, vec![full_event()]);
    // Same event from a more trusted source that does not know the state.
    let out = write(&s, load, SourceKind::Avall, vec![Record::Event(event(Some(EV), Some(NO)))]);
    assert_eq!(counts(&out, "events").unchanged, 1);
    let doc_state = s.revisions(EV).expect("revisions");
    assert!(doc_state.is_empty());
}

fn a_null_field_filled_by_another_kind_of_source_is_a_merge_without_revision(kind) {
    let s = kind.store("a_null_field_filled_by_another_kind_of_source_is_a_merge_without_revision_s");
    let load = begin(&s, "x");
    write(&s, load, SourceKind::Avall, vec![Record::Event(event(Some(EV), Some(NO)))]);
    let filled = Record::Event(EventRecord { city: Some("ALBANY".into()), ..event(Some(EV), None) });
    let out = write(&s, begin(&s, "reports"), SourceKind::Reports, vec![filled]);
    assert_eq!(counts(&out, "events").updated, 1);
    assert!(s.revisions(EV).expect("revisions").is_empty());
}

fn a_null_field_filled_by_a_newer_release_of_the_same_source_is_a_revision(kind) {
    let s = kind.store("a_null_field_filled_by_a_newer_release_of_the_same_source_is_a_revision_s");
    let prelim = begin(&s, "narratives-prelim.jsonl");
    write(&s, prelim, SourceKind::Avall, vec![Record::Event(event(Some(EV), Some(NO)))]);
    let text = |cause: Option<&str>| NarrativeRecord {
        event: ev_ref(),
        aircraft_key: 0,
        narrative: Some("The airplane landed hard.".into()),
        probable_cause: cause.map(str::to_string),
        ..Default::default()
    };
    write(&s, prelim, SourceKind::NarrativeJsonl, vec![Record::Narrative(text(None))]);
    let last = begin(&s, "narratives-final.jsonl");
    let out = write(&s, last, SourceKind::NarrativeJsonl, vec![Record::Narrative(text(Some("A hard landing.")))]);
    assert_eq!(counts(&out, "narratives").updated, 1);
    let revs = s.revisions(EV).expect("revisions");
    assert_eq!(revs.len(), 1);
    assert_eq!((revs[0].field.as_str(), revs[0].old_value.as_deref()), ("probable_cause", None));
    assert_eq!(revs[0].new_value.as_deref(), Some("A hard landing."));
    assert_eq!(revs[0].load, last);
}

fn a_child_of_an_unknown_event_is_rejected_with_its_reason_and_nothing_written(kind) {
    let s = kind.store("a_child_of_an_unknown_event_is_rejected_with_its_reason_and_nothing_written_s");
    let load = begin(&s, "x");
    let out = write(&s, load, SourceKind::Avall, vec![aircraft(EventRef::EvId("20080101X99999".into()), 1, "BEECH")]);
    assert_eq!(counts(&out, "aircraft"), TableCounts { rejected: 1, ..Default::default() });
    assert_eq!(out.rejects.len(), 1);
    let r = &out.rejects[0];
    assert_eq!(r.field.as_deref(), Some("ev_id"));
    assert_eq!(r.reason, "refers to unknown event ev_id 20080101X99999");
    assert_eq!(r.table.as_deref(), Some("aircraft"));
    assert_eq!((r.file.as_str(), r.line), ("file.csv", 2));
    assert_eq!(table_rows(&s, "aircraft"), 0);
    assert_eq!(table_rows(&s, "events"), 0);
    assert_eq!(s.rejects(load).expect("rejects"), out.rejects, "the reject is kept in the ledger");
}

fn an_event_with_neither_ev_id_nor_ntsb_no_is_rejected(kind) {
    let s = kind.store("an_event_with_neither_ev_id_nor_ntsb_no_is_rejected_s");
    let load = begin(&s, "x");
    let out = write(&s, load, SourceKind::Carol, vec![Record::Event(event(None, Some("  ")))]);
    assert_eq!(counts(&out, "events").rejected, 1);
    assert!(out.rejects[0].reason.contains("neither ev_id nor ntsb_no"));
    assert_eq!(table_rows(&s, "events"), 0);
}

fn a_case_known_only_by_number_becomes_a_placeholder_that_the_real_event_adopts(kind) {
    let s = kind.store("a_case_known_only_by_number_becomes_a_placeholder_that_the_real_event_adopts_s");
    let load = begin(&s, "carol.json");
    let carol = Record::Event(EventRecord { report_status: Some("Completed".into()), ..event(None, Some(NO)) });
    let out = write(&s, load, SourceKind::Carol, vec![carol, narrative(EventRef::NtsbNo(NO.into()), 0, "Carol text")]);
    assert_eq!(counts(&out, "events").inserted, 1);
    assert_eq!(counts(&out, "narratives").inserted, 1);
    // Revisions of a placeholder are found by case number.
    assert!(s.revisions(NO).expect("revisions").is_empty());

    let load2 = begin(&s, "avall.csv");
    let out = write(&s, load2, SourceKind::Avall, vec![full_event(), aircraft(ev_ref(), 1, "CESSNA")]);
    assert_eq!(counts(&out, "events").updated, 1, "the placeholder is adopted, not duplicated");
    assert_eq!(table_rows(&s, "events"), 1);
    let docs = changed_docs(&s, 0);
    let doc = docs.iter().find(|d| d.ev_id.as_deref() == Some(EV)).expect("adopted event logged");
    assert_eq!(doc.text.as_ref().map(|t| t.narrative.as_str()), Some("Carol text"));
    let revs = s.revisions(EV).expect("revisions");
    assert!(revs.iter().any(|r| r.field == "ev_id" && r.new_value.as_deref() == Some(EV)));
    // The narrative is now reachable through the event id.
    let again = write(&s, load2, SourceKind::Carol, vec![narrative(ev_ref(), 0, "Carol text")]);
    assert_eq!(counts(&again, "narratives").unchanged, 1);
}

fn a_placeholder_is_merged_into_the_known_event_and_its_children_moved(kind) {
    let s = kind.store("a_placeholder_is_merged_into_the_known_event_and_its_children_moved_s");
    let load = begin(&s, "x");
    // The real event is known first, without its case number.
    write(&s, load, SourceKind::Avall, vec![Record::Event(event(Some(EV), None)), narrative(ev_ref(), 1, "avall 1")]);
    // CAROL knows the case only by number: a placeholder with its own children.
    let carol = Record::Event(EventRecord { city: Some("ALBANY".into()), ..event(None, Some(NO)) });
    let by_no = || EventRef::NtsbNo(NO.into());
    let out = write(
        &s,
        load,
        SourceKind::Carol,
        vec![carol, narrative(by_no(), 0, "carol 0"), narrative(by_no(), 1, "carol 1"), aircraft(by_no(), 1, "PIPER")],
    );
    assert_eq!(counts(&out, "events").inserted, 1);
    assert_eq!(table_rows(&s, "events"), 2);
    let indexed = s.index_log_head().expect("head");

    // The event record pairing both ids arrives: the placeholder is merged.
    let out = write(&s, load, SourceKind::Avall, vec![Record::Event(event(Some(EV), Some(NO)))]);
    assert_eq!(counts(&out, "events").updated, 1);
    assert_eq!(table_rows(&s, "events"), 1);
    assert_eq!(table_rows(&s, "aircraft"), 1, "the placeholder's aircraft moved");
    assert_eq!(table_rows(&s, "narratives"), 2, "the clashing narrative 1 was skipped, narrative 0 moved");
    let docs = changed_docs(&s, indexed);
    assert_eq!(docs.len(), 2, "both the merged and the removed event are logged");
    let merged = docs.iter().find(|d| d.text.is_some()).expect("merged doc");
    assert_eq!(merged.ev_id.as_deref(), Some(EV));
    assert_eq!(merged.ntsb_no.as_deref(), Some(NO));
    assert_eq!(merged.text.as_ref().map(|t| t.narrative.as_str()), Some("carol 0\n\navall 1"));
    assert!(docs.iter().any(|d| d.text.is_none() && d.ev_id.is_none()), "the placeholder is removed from the index");
    // The real event's unknown fields were filled from the placeholder.
    let revs = s.revisions(EV).expect("revisions");
    assert!(revs.iter().any(|r| r.field == "city" && r.new_value.as_deref() == Some("ALBANY")));
}

fn event_detail_documents_always_match_the_computed_detail(kind) {
    let s = kind.store("event_detail_documents_always_match_the_computed_detail_s");
    let same = |key: &str| {
        let computed = s.event_detail(key).expect("detail").map(|d| ntsb_store::detail_json(&d).expect("json"));
        assert!(computed.is_some(), "{key} is known");
        assert_eq!(s.event_detail_json(key).expect("document"), computed, "{key}");
    };
    let build = || ntsb_store::build_missing_documents(s.as_store()).expect("build");
    // The read without a thread (PostgreSQL) gives the same bytes, or says to compute.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let nonblocking = |key: &str| s.event_document_nonblocking(key).map(|read| runtime.block_on(read).expect("read"));
    let has_nonblocking = matches!(kind, common::Kind::Postgres);
    let load = begin(&s, "x");
    write(&s, load, SourceKind::Avall, vec![full_event(), aircraft(ev_ref(), 1, "CESSNA"), narrative(ev_ref(), 1, "one")]);
    same(EV);
    if has_nonblocking {
        assert_eq!(nonblocking(EV), Some(DocumentLookup::Compute), "no document yet");
    }
    assert_eq!(build(), 1);
    assert_eq!(build(), 0, "nothing is left to build");
    same(EV);
    same(NO);
    assert_eq!(s.event_detail_json("20990101X99999").expect("unknown"), None);
    if has_nonblocking {
        let computed = s.event_detail_json(EV).expect("detail").expect("known");
        assert_eq!(nonblocking(EV), Some(DocumentLookup::Ready(computed.clone())));
        assert_eq!(nonblocking(NO), Some(DocumentLookup::Ready(computed)), "by case number");
        assert_eq!(nonblocking("20990101X99999"), Some(DocumentLookup::NoSuchEvent));
        assert_eq!(nonblocking(" "), Some(DocumentLookup::NoSuchEvent));
    } else {
        assert_eq!(nonblocking(EV), None, "SQLite answers on the caller's thread");
    }

    // Every change to what a document shows makes it stale, and it is rebuilt.
    let load = begin(&s, "y");
    let changes: Vec<Vec<Record>> = vec![
        vec![narrative(ev_ref(), 1, "one, amended")],
        vec![aircraft(ev_ref(), 2, "PIPER")],
        vec![Record::Event(EventRecord { city: Some("ALBANY".into()), ..event(Some(EV), Some(NO)) })],
        vec![Record::Crew(CrewRecord { event: ev_ref(), aircraft_key: 1, crew_no: 1, crew_age: Some(51), ..Default::default() })],
    ];
    for records in changes {
        let out = write(&s, load, SourceKind::Avall, records);
        assert!(out.tables.values().any(|c| c.inserted + c.updated == 1), "a change: {:?}", out.tables);
        same(EV);
        if has_nonblocking {
            assert_eq!(nonblocking(EV), Some(DocumentLookup::Compute), "a stale document is never served");
        }
        assert_eq!(build(), 1, "the changed event's document is rebuilt");
        same(EV);
    }

    // A placeholder merged into the event moves its rows over: both documents are redone.
    let by_no = || EventRef::NtsbNo("ERA09LA001".into());
    let other = Record::Event(EventRecord { city: Some("MIAMI".into()), ..event(None, Some("ERA09LA001")) });
    write(&s, load, SourceKind::Carol, vec![other, aircraft(by_no(), 1, "BEECH")]);
    build();
    write(&s, load, SourceKind::Avall, vec![Record::Event(event(Some("20090101X00001"), Some("ERA09LA001")))]);
    same("20090101X00001");
    build();
    same("20090101X00001");
    same(EV);
}

fn the_crosswalk_links_case_numbers_to_event_ids(kind) {
    let s = kind.store("the_crosswalk_links_case_numbers_to_event_ids_s");
    let load = begin(&s, "x");
    write(&s, load, SourceKind::Avall, vec![Record::Event(event(Some(EV), None))]);
    let link = |ev: &str, no: &str| {
        Record::IdLink(IdLinkRecord { ev_id: ev.into(), ntsb_no: no.into(), event_date: Some("2008-01-24".into()) })
    };
    let out = write(&s, load, SourceKind::Crosswalk, vec![link(EV, "NYC08CA068A")]);
    assert_eq!(counts(&out, "event_keys").inserted, 1);

    // A child naming the case number (suffix and all) finds the event.
    let out = write(&s, load, SourceKind::Carol, vec![narrative(EventRef::NtsbNo("NYC08CA068A".into()), 0, "n")]);
    assert_eq!(counts(&out, "narratives").inserted, 1);
    // An event record with only the case number updates that event, no placeholder.
    let carol = Record::Event(EventRecord { state: Some("NY".into()), ..event(None, Some("NYC08CA068A")) });
    let out = write(&s, load, SourceKind::Carol, vec![carol]);
    assert_eq!(counts(&out, "events").updated, 1);
    assert_eq!(table_rows(&s, "events"), 1);

    // A child by an ev_id not yet stored adopts the placeholder the crosswalk names.
    let other_ev = "20090101X00002";
    write(&s, load, SourceKind::Carol, vec![Record::Event(event(None, Some("CEN09LA001")))]);
    write(&s, load, SourceKind::Crosswalk, vec![link(other_ev, "CEN09LA001")]);
    let out = write(&s, load, SourceKind::Avall, vec![aircraft(EventRef::EvId(other_ev.into()), 1, "BELL")]);
    assert_eq!(counts(&out, "aircraft").inserted, 1);
    assert_eq!(table_rows(&s, "events"), 2);
    assert!(s.revisions(other_ev).expect("revisions").iter().any(|r| r.field == "ev_id"));
}

fn a_child_by_unknown_case_number_is_rejected_on_ntsb_no(kind) {
    let s = kind.store("a_child_by_unknown_case_number_is_rejected_on_ntsb_no_s");
    let load = begin(&s, "x");
    let out = write(&s, load, SourceKind::Carol, vec![narrative(EventRef::NtsbNo("ERA10FA001".into()), 0, "n")]);
    assert_eq!(out.rejects.len(), 1);
    assert_eq!(out.rejects[0].field.as_deref(), Some("ntsb_no"));
    assert_eq!(out.rejects[0].reason, "refers to unknown event ntsb_no ERA10FA001");
    assert_eq!(table_rows(&s, "events"), 0, "child records never create events");
}

fn root_tables_upsert_by_their_key(kind) {
    let s = kind.store("root_tables_upsert_by_their_key_s");
    let load = begin(&s, "codes");
    let code = |meaning: &str| {
        Record::Code(CodeRecord {
            ct_name: "ct_fars".into(),
            code: "091".into(),
            table_name: String::new(),
            column_name: String::new(),
            meaning: Some(meaning.into()),
            short_desc: None,
        })
    };
    assert_eq!(counts(&write(&s, load, SourceKind::CodeTables, vec![code("General")]), "code_entries").inserted, 1);
    assert_eq!(counts(&write(&s, load, SourceKind::CodeTables, vec![code("General")]), "code_entries").unchanged, 1);
    let newer = begin(&s, "codes-v2");
    assert_eq!(counts(&write(&s, newer, SourceKind::CodeTables, vec![code("Part 91")]), "code_entries").updated, 1);
    assert_eq!(table_rows(&s, "code_entries"), 1);
}

fn within_one_file_the_first_value_stands_and_reloading_an_older_file_changes_nothing(kind) {
    let s = kind.store("within_one_file_the_first_value_stands_and_reloading_an_older_file_changes_nothing_s");
    let older = begin(&s, "release-1.csv");
    let newer = begin(&s, "release-2.csv");
    let ac = |make: &str| vec![full_event(), aircraft(ev_ref(), 1, make)];
    // A file that repeats a key keeps its first value, so reloading it is idempotent.
    write(&s, older, SourceKind::AviationData, [ac("CESSNA"), ac("PIPER")].concat());
    let again = write(&s, older, SourceKind::AviationData, [ac("CESSNA"), ac("PIPER")].concat());
    assert_eq!(counts(&again, "aircraft").unchanged, 2);
    // A newer file of the same kind wins; the older file loaded again does not undo it.
    assert_eq!(counts(&write(&s, newer, SourceKind::AviationData, ac("BEECH")), "aircraft").updated, 1);
    let reloaded = begin(&s, "release-1.csv");
    assert_eq!(counts(&write(&s, reloaded, SourceKind::AviationData, ac("CESSNA")), "aircraft").unchanged, 1);
    assert_eq!(counts(&write(&s, newer, SourceKind::AviationData, ac("BEECH")), "aircraft").unchanged, 1);
}

fn demo_and_real_data_never_mix_and_a_refused_batch_writes_nothing(kind) {
    let demo = kind.store("demo_and_real_data_never_mix_and_a_refused_batch_writes_nothing_demo");
    let load = begin(&demo, "demo");
    let synthetic = Record::Event(EventRecord { synthetic: Some(true), ..event(Some(EV), Some(NO)) });
    write(&demo, load, SourceKind::Demo, vec![synthetic]);
    assert_eq!(demo.content_kind().expect("kind"), Some(true));
    let err = demo
        .write_batch(
            load,
            SourceKind::Avall,
            "real.csv",
            sourced(vec![Record::Event(event(Some("20100101X00001"), None))]),
        )
        .expect_err("real into demo");
    assert!(matches!(err, Error::MixedContent(_)), "{err}");
    assert!(err.to_string().contains("demo"));
    assert_eq!(table_rows(&demo, "events"), 1);

    let real = kind.store("demo_and_real_data_never_mix_and_a_refused_batch_writes_nothing_real");
    let load = begin(&real, "real");
    write(&real, load, SourceKind::Avall, vec![full_event()]);
    assert_eq!(real.content_kind().expect("kind"), Some(false));
    let err = real
        .write_batch(load, SourceKind::Demo, "demo", sourced(vec![aircraft(ev_ref(), 1, "X")]))
        .expect_err("demo into real");
    assert!(matches!(err, Error::MixedContent(_)), "{err}");
    assert_eq!(table_rows(&real, "aircraft"), 0);
    assert!(real.rejects(load).expect("rejects").is_empty());
}

fn an_unmigrated_store_refuses_data_operations_with_schema_out_of_date(kind) {
    let s = kind.fresh("an_unmigrated_store_refuses_data_operations_with_schema_out_of_date");
    let err = s.stats().expect_err("not migrated");
    assert!(matches!(err, Error::SchemaOutOfDate { found: 0, needed: common::LATEST }), "{err}");
    let err = s.write_batch(LoadId(1), SourceKind::Avall, "x", Vec::new()).expect_err("not migrated");
    assert!(matches!(err, Error::SchemaOutOfDate { .. }), "{err}");
    assert!(s.migration_status().expect("status").iter().all(|m| m.applied_at.is_none()));
}

fn migrations_roll_back_and_reapply_on_a_populated_store(kind) {
    let s = kind.shared("migrations_roll_back_and_reapply_on_a_populated_store");
    // Every known version, in order (a number may be left free for another branch's migration).
    let all: Vec<i64> = s.migration_status().expect("status").iter().map(|m| m.version).collect();
    assert_eq!(all.last(), Some(&common::LATEST));
    assert_eq!(s.migrate().expect("migrate"), all);
    assert!(s.migrate().expect("again").is_empty(), "migrate is idempotent");
    let version = |s: &common::TestStore| s.migration_status().expect("status").iter().filter(|m| m.applied_at.is_some()).count();
    assert_eq!(version(&s), all.len());
    let load = begin(&s, "x");
    write(&s, load, SourceKind::Avall, vec![full_event(), narrative(ev_ref(), 0, "text")]);

    // Undo every migration after the ledger (query tables, index queue): core data and the ledger are untouched.
    let after_ledger: Vec<i64> = all.iter().rev().copied().filter(|v| *v > 2).collect();
    assert_eq!(s.rollback(after_ledger.len()).expect("rollback"), after_ledger);
    assert_eq!(version(&s), 2);
    let status = s.migration_status().expect("status");
    assert_eq!(status.iter().map(|m| m.applied_at.is_some()).collect::<Vec<_>>(), all.iter().map(|v| *v <= 2).collect::<Vec<_>>());
    assert!(s.stats().is_err(), "a store behind the latest version refuses work");
    assert_eq!(s.migrate().expect("reapply"), all.iter().copied().filter(|v| *v > 2).collect::<Vec<_>>());
    assert_eq!(table_rows(&s, "events"), 1);
    assert_eq!(table_rows(&s, "narratives"), 1);
    assert_eq!(s.loads(10).expect("loads").len(), 1);
    assert_eq!(s.content_kind().expect("kind"), Some(false), "content kind is inferred again");
    assert_eq!(changed_docs(&s, 0).len(), 1, "the event with text is in the index log again");

    // Undo everything: the tables and their data are gone, then come back empty.
    assert_eq!(s.rollback(all.len()).expect("rollback all"), all.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(version(&s), 0);
    assert!(s.migration_status().expect("status").iter().all(|m| m.applied_at.is_none()));
    assert_eq!(s.migrate().expect("migrate again"), all);
    assert_eq!(table_rows(&s, "events"), 0);
    assert!(s.loads(10).expect("loads").is_empty());
    assert_eq!(s.content_kind().expect("kind"), None);
}

fn the_index_log_gives_changed_text_in_order_to_any_number_of_readers(kind) {
    let s = kind.store("the_index_log_gives_changed_text_in_order_to_any_number_of_readers_s");
    assert_eq!(s.index_log_head().expect("head"), 0, "an empty store has an empty log");
    let load = begin(&s, "x");
    let text = Record::Narrative(NarrativeRecord {
        event: ev_ref(),
        aircraft_key: 0,
        narrative: Some("Factual.".into()),
        preliminary: Some("Preliminary.".into()),
        probable_cause: Some("Cause A.".into()),
        findings_text: None,
    });
    let second = Record::Narrative(NarrativeRecord {
        probable_cause: Some("Cause B.".into()),
        ..NarrativeRecord { event: ev_ref(), aircraft_key: 1, ..Default::default() }
    });
    write(&s, load, SourceKind::NarrativeJsonl, vec![full_event(), text, second]);
    let changes = s.index_changes(0, 10).expect("changes");
    assert_eq!(changes.len(), 1);
    let first = changes[0].seq;
    assert_eq!(s.index_log_head().expect("head"), first);
    let doc = &changes[0].doc;
    assert_eq!(doc.ev_id.as_deref(), Some(EV));
    assert_eq!(doc.event_date.as_deref(), Some("2008-01-24"));
    let t = doc.text.as_ref().expect("text");
    assert_eq!(t.narrative, "Factual.\n\nPreliminary.");
    assert_eq!(t.probable_cause, "Cause A.\nCause B.");

    // Reading takes nothing off the log: a second reader starting at 0 sees the same.
    assert_eq!(s.index_changes(0, 10).expect("changes"), changes);
    assert!(s.index_changes(first, 10).expect("changes").is_empty());
    // Unchanged text adds nothing; changed text moves the event to the end.
    write(&s, load, SourceKind::NarrativeJsonl, vec![narrative(ev_ref(), 0, "Factual.")]);
    assert_eq!(s.index_log_head().expect("head"), first);
    write(&s, load, SourceKind::Avall, vec![Record::Event(event(Some("20200101X00002"), None)), narrative(EventRef::EvId("20200101X00002".into()), 0, "Other.")]);
    let revised = begin(&s, "narratives-v2.jsonl");
    write(&s, revised, SourceKind::NarrativeJsonl, vec![narrative(ev_ref(), 0, "Factual, revised.")]);
    let after = s.index_changes(first, 10).expect("changes");
    assert_eq!(after.len(), 2, "one entry per event, however often it changed");
    assert_eq!(after[0].doc.ev_id.as_deref(), Some("20200101X00002"));
    assert_eq!(after[1].doc.ev_id.as_deref(), Some(EV), "the latest change is last");
    assert!(after[0].seq > first && after[1].seq > after[0].seq);
    assert_eq!(s.index_log_head().expect("head"), after[1].seq);
    assert_eq!(s.index_changes(0, 10).expect("changes").len(), 2, "a new reader gets each event once");
    assert_eq!(s.index_changes(0, 1).expect("changes").len(), 1, "the limit holds");
}

fn the_ledger_records_loads_newest_first_with_totals_and_rejects(kind) {
    let s = kind.store("the_ledger_records_loads_newest_first_with_totals_and_rejects_s");
    let first = begin(&s, "one.csv");
    let second = begin(&s, "two.csv");
    let mut summary = LoadSummary { status: "completed".into(), duration_ms: 1234, ..Default::default() };
    summary.tables.insert("events".into(), TableCounts { inserted: 3, updated: 1, unchanged: 2, rejected: 0 });
    summary.tables.insert("aircraft".into(), TableCounts { inserted: 1, rejected: 2, ..Default::default() });
    s.finish_load(second, &summary).expect("finish");
    let reader_rejects = vec![
        ntsb_model::records::Reject {
            file: "two.csv".into(),
            line: 9,
            field: Some("ev_date".into()),
            reason: "not a date".into(),
            table: Some("events".into()),
        },
        ntsb_model::records::Reject {
            file: "two.csv".into(),
            line: 4,
            field: None,
            reason: "too few columns".into(),
            table: None,
        },
    ];
    s.record_rejects(second, &reader_rejects).expect("rejects");

    let loads = s.loads(10).expect("loads");
    assert_eq!(loads.iter().map(|l| l.id).collect::<Vec<_>>(), vec![second, first]);
    let done = &loads[0];
    assert_eq!(done.status, "completed");
    assert_eq!(done.counts, TableCounts { inserted: 4, updated: 1, unchanged: 2, rejected: 2 });
    assert_eq!(done.duration_ms, Some(1234));
    assert!(done.finished_at.is_some());
    assert_eq!(done.source.path, "two.csv");
    assert_eq!(done.source.bytes, 10);
    assert_eq!(loads[1].status, "running");
    assert_eq!(loads[1].finished_at, None);
    assert_eq!(s.loads(1).expect("limited").len(), 1);
    let stored = s.rejects(second).expect("rejects");
    assert_eq!(stored.iter().map(|r| r.line).collect::<Vec<_>>(), vec![4, 9], "in file order");
    assert!(s.rejects(first).expect("rejects").is_empty());
    assert!(matches!(s.finish_load(LoadId(999), &summary), Err(Error::NotFound(_))));
}

fn stats_count_rows_in_schema_order_with_the_event_range(kind) {
    let s = kind.store("stats_count_rows_in_schema_order_with_the_event_range_s");
    let load = begin(&s, "x");
    let later =
        Record::Event(EventRecord { event_date: Some("2015-06-01".into()), ..event(Some("20150601X00001"), None) });
    let cause = Record::Narrative(NarrativeRecord {
        event: ev_ref(),
        aircraft_key: 0,
        probable_cause: Some("cause".into()),
        ..Default::default()
    });
    write(&s, load, SourceKind::Avall, vec![full_event(), later, cause, aircraft(ev_ref(), 1, "CESSNA")]);
    let stats = s.stats().expect("stats");
    let names: Vec<&str> = stats.tables.iter().map(|(t, _)| t.as_str()).collect();
    let expected: Vec<&str> = Record::ALL_SPECS.iter().map(|spec| spec.name).collect();
    assert_eq!(names, expected);
    assert_eq!(table_rows(&s, "events"), 2);
    assert_eq!(table_rows(&s, "aircraft"), 1);
    assert_eq!(stats.first_event.as_deref(), Some("2008-01-24"));
    assert_eq!(stats.last_event.as_deref(), Some("2015-06-01"));
    assert_eq!(stats.events_with_narrative, 0);
    assert_eq!(stats.events_with_probable_cause, 1);
}

fn queries_on_a_shared_store_run_on_pooled_readers_beside_a_writer(kind) {
    use ntsb_model::query::EventQuery;

    let shared = kind.shared("queries_on_a_shared_store_run_on_pooled_readers_beside_a_writer");
    let s = shared.arc();
    s.migrate().expect("migrate");
    let event = |i: u32| {
        Record::Event(EventRecord {
            event_date: Some(format!("2010-01-{:02}", i % 28 + 1)),
            ..event(Some(&format!("20100101X{i:05}")), None)
        })
    };
    let load = begin(s.as_ref(), "first");
    write(s.as_ref(), load, SourceKind::AviationData, (0..100).map(event).collect());
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                (0..20).map(|_| s.list_events(&EventQuery::default()).expect("query").total).min().unwrap_or(0)
            })
        })
        .collect();
    let more = begin(s.as_ref(), "second");
    write(s.as_ref(), more, SourceKind::AviationData, (100..200).map(event).collect());
    for r in readers {
        assert!(r.join().expect("reader thread") >= 100);
    }
    // Readers see what the writer committed.
    assert_eq!(s.list_events(&EventQuery::default()).expect("query").total, 200);
}

fn training_rows_merge_first_aircraft_worst_damage_and_first_pilot(kind) {
    let s = kind.store("training_rows_merge_first_aircraft_worst_damage_and_first_pilot_s");
    load_training_fixtures(&s);
    let rows = s.training_rows(&TrainingFilter { accidents_only: true }).expect("training rows");
    assert_eq!(rows, expected_training_rows());
    let all = s.training_rows(&TrainingFilter::default()).expect("all rows");
    assert_eq!(all.len(), 3, "the incident is read without the accident filter");
    assert_eq!(s.training_row("20100102X00002").expect("one row"), Some(expected_training_rows()[1].clone()));
    assert_eq!(s.training_row("20100101X00001").expect("one row"), Some(expected_training_rows()[0].clone()));
    assert_eq!(s.training_row("19990101X99999").expect("unknown id"), None);
}

fn a_batch_of_training_rows_answers_in_the_order_asked(kind) {
    let s = kind.store("a_batch_of_training_rows_answers_in_the_order_asked_s");
    load_training_fixtures(&s);
    let [a, b] = <[TrainingRow; 2]>::try_from(expected_training_rows()).expect("two rows");
    let incident = s.training_row("20100103X00003").expect("one row").expect("the incident");
    // Out of store order, unknown ids in between, a repeated id, the incident
    // (no accident filter applies to ids): the same rows one by one would give.
    let ids = ["20100102X00002", "19990101X99999", "20100101X00001", "20100103X00003", "20100102X00002", "nope"];
    let rows = s.training_rows_by_ids(&ids).expect("batch");
    assert_eq!(rows, vec![Some(b.clone()), None, Some(a.clone()), Some(incident), Some(b), None]);
    for id in ids {
        let one = s.training_rows_by_ids(&[id]).expect("batch of one");
        assert_eq!(one, vec![s.training_row(id).expect("one row")], "{id}");
    }
    assert_eq!(s.training_rows_by_ids(&[]).expect("empty batch"), Vec::<Option<TrainingRow>>::new());
    assert_eq!(s.training_rows_by_ids(&["19990101X99999"]).expect("only unknown"), vec![None]);
    // Every stored event at once.
    let all = s.training_rows(&TrainingFilter::default()).expect("all rows");
    let ids: Vec<&str> = all.iter().rev().map(|r| r.ev_id.as_str()).collect();
    let batch: Vec<TrainingRow> = s.training_rows_by_ids(&ids).expect("batch").into_iter().flatten().collect();
    assert_eq!(batch, all.into_iter().rev().collect::<Vec<_>>());
}
}

/// Two accidents (one with two aircraft, pilots and hours; one bare) and an
/// incident: everything [`TrainingData`] merges.
fn load_training_fixtures(s: &(impl common::AsBackend + ?Sized)) {
    let a = || EventRef::EvId("20100101X00001".into());
    let b = || EventRef::EvId("20100102X00002".into());
    let c = || EventRef::EvId("20100103X00003".into());
    let crew = |event: EventRef, aircraft_key: i64, crew_no: i64, category: &str, age: i64| {
        Record::Crew(CrewRecord {
            event,
            aircraft_key,
            crew_no,
            crew_category: Some(category.into()),
            crew_age: Some(age),
            ..Default::default()
        })
    };
    let hours = |event: EventRef, aircraft_key: i64, crew_no: i64, kind: &str, craft: &str, h: f64| {
        Record::FlightTime(FlightTimeRecord {
            event,
            aircraft_key,
            crew_no,
            flight_type: kind.into(),
            flight_craft: craft.into(),
            flight_hours: Some(h),
        })
    };
    let records = vec![
        Record::Event(EventRecord {
            event_type: Some("accident".into()),
            event_date: Some("2010-01-01".into()),
            state: Some("AK".into()),
            country: Some("USA".into()),
            latitude: Some(61.2),
            longitude: Some(-149.9),
            airport_code: Some("ANC".into()),
            light_condition: Some("DAYL".into()),
            weather: Some("IMC".into()),
            highest_injury: Some("fatal".into()),
            inj_fatal: Some(2),
            inj_none: Some(1),
            ..event(Some("20100101X00001"), None)
        }),
        Record::Event(EventRecord {
            event_type: Some("accident".into()),
            event_date: Some("2010-01-02".into()),
            phase: Some("landing".into()),
            highest_injury: Some("none".into()),
            ..event(Some("20100102X00002"), None)
        }),
        Record::Event(EventRecord { event_type: Some("incident".into()), ..event(Some("20100103X00003"), None) }),
        Record::Aircraft(AircraftRecord {
            event: a(),
            aircraft_key: 1,
            make: Some("CESSNA".into()),
            model: Some("172N".into()),
            category: Some("AIR".into()),
            amateur_built: Some(false),
            num_engines: Some(1),
            engine_type: Some("REC".into()),
            far_part: Some("091".into()),
            schedule: Some("NSCH".into()),
            purpose: Some("PERS".into()),
            damage: Some("substantial".into()),
            phase: Some("cruise".into()),
            ..Default::default()
        }),
        Record::Aircraft(AircraftRecord {
            event: a(),
            aircraft_key: 2,
            make: Some("PIPER".into()),
            amateur_built: Some(true),
            damage: Some("destroyed".into()),
            phase: Some("approach".into()),
            ..Default::default()
        }),
        Record::Aircraft(AircraftRecord {
            event: c(),
            aircraft_key: 1,
            make: Some("BEECH".into()),
            ..Default::default()
        }),
        crew(a(), 1, 1, "CPLT", 30),
        crew(a(), 1, 2, "PLT", 54),
        crew(a(), 2, 1, "PLT", 41),
        hours(a(), 1, 1, "TOTL", "ALL", 300.0),
        hours(a(), 1, 2, "TOTL", "ALL", 5120.5),
        hours(a(), 1, 2, "L90D", "ALL", 12.0),
        hours(a(), 2, 1, "TOTL", "ALL", 800.0),
        crew(b(), 1, 1, "PLT", 19),
    ];
    let load = begin(s, "training.csv");
    write(s, load, SourceKind::Avall, records);
}

/// What [`load_training_fixtures`] must read back as, on every backend.
fn expected_training_rows() -> Vec<TrainingRow> {
    vec![
        TrainingRow {
            ev_id: "20100101X00001".into(),
            event_type: Some("accident".into()),
            event_date: Some("2010-01-01".into()),
            state: Some("AK".into()),
            country: Some("USA".into()),
            latitude: Some(61.2),
            longitude: Some(-149.9),
            airport_code: Some("ANC".into()),
            light_condition: Some("DAYL".into()),
            weather: Some("IMC".into()),
            // No event-level phase: the first aircraft's.
            phase: Some("cruise".into()),
            highest_injury: Some("fatal".into()),
            inj_fatal: Some(2),
            inj_none: Some(1),
            aircraft_count: 2,
            make: Some("CESSNA".into()),
            model: Some("172N".into()),
            category: Some("AIR".into()),
            amateur_built: Some(false),
            num_engines: Some(1),
            engine_type: Some("REC".into()),
            far_part: Some("091".into()),
            schedule: Some("NSCH".into()),
            purpose: Some("PERS".into()),
            // The worst of both aircraft.
            damage: Some("destroyed".into()),
            // The first pilot (PLT) of the first aircraft, not the co-pilot.
            pilot_age: Some(54),
            pilot_total_hours: Some(5120.5),
            ..TrainingRow::default()
        },
        TrainingRow {
            ev_id: "20100102X00002".into(),
            event_type: Some("accident".into()),
            event_date: Some("2010-01-02".into()),
            phase: Some("landing".into()),
            highest_injury: Some("none".into()),
            pilot_age: Some(19),
            ..TrainingRow::default()
        },
    ]
}

#[test]
fn both_backends_read_identical_training_rows_from_the_same_fixtures() {
    let sqlite = common::Kind::Sqlite.store("training_identical_sqlite");
    load_training_fixtures(&sqlite);
    let Some(pg) = common::postgres_store("both_backends_read_identical_training_rows", |_| {}) else { return };
    pg.migrate().expect("migrate");
    load_training_fixtures(&pg);
    for filter in [TrainingFilter { accidents_only: true }, TrainingFilter::default()] {
        let a = sqlite.training_rows(&filter).expect("sqlite rows");
        let b = pg.training_rows(&filter).expect("postgres rows");
        assert_eq!(a, b, "{filter:?}");
    }
}

#[test]
fn a_file_database_uses_wal_and_creates_its_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/dir/ntsb.db");
    let s = SqliteStore::open(&path).expect("open");
    s.migrate().expect("migrate");
    let load = begin(&s, "x");
    write(&s, load, SourceKind::Avall, vec![full_event()]);
    let probe = rusqlite::Connection::open(&path).expect("probe");
    let mode: String = probe.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
    assert_eq!(mode, "wal");
    let n: i64 = probe.query_row("SELECT count(*) FROM events", [], |r| r.get(0)).expect("count");
    assert_eq!(n, 1, "another connection reads committed data");
}

/// Corpus-scale throughput: about 500,000 rows in batches, then a full re-load that
/// must write nothing. Run with `cargo test -p ntsb-store --release -- --ignored`.
#[test]
#[ignore = "benchmark; run explicitly in release mode"]
fn loads_half_a_million_rows_quickly_and_reloads_without_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(&dir.path().join("bench.db")).expect("open");
    s.migrate().expect("migrate");
    let load = begin(&s, "bench");
    let events = 100_000;
    let make_batch = |from: usize, to: usize| -> Vec<Record> {
        let mut out = Vec::new();
        for i in from..to {
            let ev = format!("2000{i:06}X{:05}", i % 100_000);
            let r = || EventRef::EvId(ev.clone());
            out.push(Record::Event(EventRecord {
                event_date: Some("2001-02-03".into()),
                state: Some("ID".into()),
                city: Some("BOISE".into()),
                latitude: Some(43.6 + i as f64 * 1e-6),
                inj_fatal: Some(1),
                ..event(Some(&ev), Some(&format!("SEA{i:07}")))
            }));
            out.push(aircraft(r(), 1, "CESSNA"));
            out.push(aircraft(r(), 2, "PIPER"));
            out.push(narrative(r(), 0, "The pilot reported that the airplane drifted on landing. Long text."));
            out.push(Record::Finding(ntsb_model::records::FindingRecord {
                event: r(),
                aircraft_key: 1,
                finding_no: 1,
                finding_code: Some("0101010101".into()),
                cause_factor: Some("cause".into()),
                ..Default::default()
            }));
        }
        out
    };
    let run = |label: &str| {
        let start = std::time::Instant::now();
        let mut total = TableCounts::default();
        for chunk in (0..events).step_by(5_000) {
            let out = write(&s, load, SourceKind::Avall, make_batch(chunk, (chunk + 5_000).min(events)));
            for c in out.tables.values() {
                total.add(c);
            }
        }
        eprintln!("{label}: {total:?} in {:?}", start.elapsed());
        total
    };
    let first = run("first load");
    assert_eq!(first.inserted, 500_000);
    let second = run("re-load");
    assert_eq!(second.unchanged, 500_000);
}
