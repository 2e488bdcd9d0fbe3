//! Code tables, crosswalk, narrative JSONL, safety recommendations and report
//! readers over hand-written fixtures, and exact counts over the shared corpus.

use std::path::Path;

use ntsb_ingest::formats::{code_tables, crosswalk, narratives, reports, safety_recs};
use ntsb_ingest::{CodeTableKind, Format, Item, RecordStream, detect};
use ntsb_model::SourceKind;
use ntsb_model::records::*;
use ntsb_test_support::{fixture, shared_data};

fn collect(stream: Box<dyn RecordStream>) -> (Vec<SourcedRecord>, Vec<Reject>) {
    ntsb_ingest::read_all(stream).expect("no fatal error")
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn code(ct: &str, c: &str, table: &str, column: &str, meaning: Option<String>, short: Option<String>) -> Record {
    Record::Code(CodeRecord {
        ct_name: ct.into(),
        code: c.into(),
        table_name: table.into(),
        column_name: column.into(),
        meaning,
        short_desc: short,
    })
}

fn codes(name: &str, kind: CodeTableKind) -> (Vec<Record>, Vec<Reject>) {
    let path = fixture(&format!("code_tables/{name}"));
    assert_eq!(detect(&path).expect("readable"), Ok(Format::CodeTable(kind)), "{name}");
    let stream = code_tables::open(&path, kind).expect("opens");
    assert_eq!(stream.kind(), SourceKind::CodeTables);
    let (records, rejects) = collect(stream);
    (records.into_iter().map(|r| r.record).collect(), rejects)
}

#[test]
fn data_dictionary_keeps_codes_and_column_definitions() {
    let (records, rejects) = codes("eADMSPUB_DataDictionary.csv", CodeTableKind::DataDictionary);
    assert!(rejects.is_empty());
    assert_eq!(
        records,
        vec![
            code("ct_acft_cat", "AIR", "aircraft", "acft_category", s("Airplane"), s("Aircraft Category")),
            code("ct_acft_cat", "HELI", "aircraft", "acft_category", s("Helicopter"), s("Aircraft Category")),
            code("", "", "events", "ev_time", s("Local time of the event, HHMM."), s("Event Time")),
        ]
    );
}

#[test]
fn code_tables_trim_and_name_their_tables() {
    let (records, rejects) = codes("ct_iaids.csv", CodeTableKind::CtIaids);
    assert_eq!(
        records,
        vec![
            code("ct_office", "CEN", "", "", s("Central Region"), None),
            code("ct_load_desc", "EXT", "", "", s("External load"), None),
            code("ct_office", "", "", "", s("No code"), None),
        ]
    );
    assert!(rejects.is_empty(), "a blank code is a real entry (\"Not Specified\")");

    let (records, _) = codes("ct_seqevt.csv", CodeTableKind::CtSeqevt);
    assert_eq!(records[1], code("ct_seqevt", "110", "", "", s("ALTITUDE DEVIATION,UNCONTROLLED"), None));
    let (records, _) = codes("states.csv", CodeTableKind::States);
    assert_eq!(records[0], code("states", "AK", "", "", s("ALASKA"), None));
    let (records, _) = codes("Country.csv", CodeTableKind::Country);
    assert_eq!(records[0], code("country", "USA", "", "", s("United States"), None));
}

#[test]
fn crosswalk_links_and_rejects() {
    let path = fixture("crosswalk/ev_id_ntsb_no_crosswalk.csv");
    assert_eq!(detect(&path).expect("readable"), Ok(Format::Crosswalk));
    let stream = crosswalk::open(&path).expect("opens");
    assert_eq!(stream.kind(), SourceKind::Crosswalk);
    let (records, rejects) = collect(stream);
    let link = |e: &str, n: &str, d: &str| {
        Record::IdLink(IdLinkRecord { ev_id: e.into(), ntsb_no: n.into(), event_date: s(d) })
    };
    let got: Vec<Record> = records.into_iter().map(|r| r.record).collect();
    assert_eq!(
        got,
        vec![
            link("20990101X00001", "XYZ99FA001", "2009-01-02"),
            link("20990101X00001", "XYZ99FA001A", "2009-01-02"),
            link("20230130106657", "CEN23LA097", "2023-01-29"),
        ]
    );
    let where_: Vec<(u64, Option<&str>)> = rejects.iter().map(|r| (r.line, r.field.as_deref())).collect();
    assert_eq!(where_, vec![(5, Some("ev_id")), (6, Some("ntsb_no")), (7, Some("event_date"))]);
}

#[test]
fn narrative_jsonl_records_and_rejects() {
    let path = fixture("narratives/narratives.jsonl");
    assert_eq!(detect(&path).expect("readable"), Ok(Format::NarrativeJsonl));
    let stream = narratives::open(&path).expect("opens");
    assert_eq!(stream.kind(), SourceKind::NarrativeJsonl);
    let (records, rejects) = collect(stream);
    let narr = |e: &str, n: Option<String>, p: Option<String>| {
        Record::Narrative(NarrativeRecord {
            event: EventRef::EvId(e.into()),
            aircraft_key: 0,
            narrative: n,
            probable_cause: p,
            ..Default::default()
        })
    };
    let got: Vec<(u64, Record)> = records.into_iter().map(|r| (r.line, r.record)).collect();
    assert_eq!(
        got,
        vec![
            (
                1,
                narr(
                    "20990101X00001",
                    s("The pilot reported a test event.\nSecond line."),
                    s("The pilot's test error.")
                )
            ),
            (3, narr("20990101X00003", s("Only a narrative."), None)),
            (9, narr("20200928102039", None, s("Only a cause."))),
        ]
    );
    let where_: Vec<(u64, Option<&str>)> = rejects.iter().map(|r| (r.line, r.field.as_deref())).collect();
    assert_eq!(where_, vec![(4, None), (5, Some("ev_id")), (7, Some("ev_id")), (8, Some("narrative"))]);
    assert!(rejects[0].reason.contains("not valid JSON"), "{}", rejects[0].reason);
    assert!(rejects.iter().all(|r| r.file.ends_with("narratives/narratives.jsonl")));
}

#[test]
fn narrative_jsonl_survives_garbage() {
    let inputs: [&[u8]; 5] = [
        b"",
        b"\xff\xfe\n\n",
        b"[1,2]\n\"x\"\n{",
        b"{\"ev_id\": 5}\n",
        b"\xef\xbb\xbf{\"ev_id\":\"20990101X00001\",\"narrative\":\"x\"}",
    ];
    for input in inputs {
        let stream = narratives::JsonlStream::new(input, Path::new("garbage.jsonl"));
        let text = String::from_utf8_lossy(input);
        let lines = text.lines().count() as u64;
        for item in stream {
            // Nothing is fatal, and every refusal says where and why.
            if let Item::Reject(r) = item.expect("no fatal error") {
                assert!(r.file.ends_with("garbage.jsonl"), "{r}");
                assert!((1..=lines).contains(&r.line), "line {} of {lines}: {r}", r.line);
                assert!(!r.reason.trim().is_empty(), "{r:?}");
            }
        }
    }
    // Line by line: "[1,2]" and "\"x\"" are not objects, "{" is cut short, an
    // ev_id of 5 is not text.
    let garbage = narratives::JsonlStream::new(inputs[2], Path::new("garbage.jsonl"));
    let rejected: Vec<u64> =
        garbage.filter_map(|i| if let Ok(Item::Reject(r)) = i { Some(r.line) } else { None }).collect();
    assert_eq!(rejected, [1, 2, 3]);
    let typed = narratives::JsonlStream::new(inputs[3], Path::new("garbage.jsonl"));
    let rejects: Vec<_> = typed.filter_map(|i| if let Ok(Item::Reject(r)) = i { Some(r) } else { None }).collect();
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0].line, 1);
    let bom = narratives::JsonlStream::new(inputs[4], Path::new("bom.jsonl"));
    assert!(matches!(bom.last(), Some(Ok(Item::Record(_)))));
}

#[test]
fn safety_recs_text_and_recommendations() {
    let path = fixture("safety_recs/safety_recs.csv");
    assert_eq!(detect(&path).expect("readable"), Ok(Format::SafetyRecs));
    let stream = safety_recs::open(&path).expect("opens");
    assert_eq!(stream.kind(), SourceKind::SafetyRecs);
    let (records, rejects) = collect(stream);
    let got: Vec<Record> = records.into_iter().map(|r| r.record).collect();
    let ev = EventRef::EvId("20990101X00001".into());
    assert_eq!(
        got,
        vec![
            Record::Narrative(NarrativeRecord {
                event: ev.clone(),
                aircraft_key: 0,
                probable_cause: s("The crew's test error, and more."),
                findings_text: s("Personnel issues - Test - Flight crew, Aircraft - Test - Part"),
                ..Default::default()
            }),
            Record::Recommendation(RecommendationRecord {
                event: ev,
                rec_no: 1,
                recommendation: s("Require test procedures.")
            }),
            Record::Narrative(NarrativeRecord {
                event: EventRef::NtsbNo("XYZ99MA002".into()),
                aircraft_key: 0,
                probable_cause: s("A cause without recommendation."),
                ..Default::default()
            }),
        ]
    );
    let where_: Vec<(u64, Option<&str>)> = rejects.iter().map(|r| (r.line, r.field.as_deref())).collect();
    assert_eq!(where_, vec![(4, Some("Event.Id")), (5, Some("NtsbNo"))]);
}

#[test]
fn reports_load_documents_and_reject_missing_ones() {
    let path = fixture("reports/reports_index.csv");
    assert_eq!(detect(&path).expect("readable"), Ok(Format::ReportsIndex));
    let stream = reports::open(&path).expect("opens");
    assert_eq!(stream.kind(), SourceKind::Reports);
    let (records, rejects) = collect(stream);
    let got: Vec<Record> = records.into_iter().map(|r| r.record).collect();
    assert_eq!(
        got,
        vec![
            Record::Report(ReportRecord {
                event: EventRef::EvId("20990101X00001".into()),
                document: "docs/20990101X00001.txt".into(),
                report_type: s("Aviation Accident Final Report"),
                text: s("Test report for a made-up event.\nProbable cause: a test."),
            }),
            Record::Report(ReportRecord {
                event: EventRef::NtsbNo("XYZ23LA001".into()),
                document: "docs/XYZ23LA001.txt".into(),
                report_type: s("Aviation Investigation Preliminary Report"),
                text: s("Preliminary test report, no event id."),
            }),
        ]
    );
    assert_eq!(rejects.len(), 1);
    assert_eq!((rejects[0].line, rejects[0].field.as_deref()), (4, Some("file")));
    assert!(rejects[0].reason.contains("missing.txt"), "{}", rejects[0].reason);
}

fn real(test: &str, relative: &str) -> Option<std::path::PathBuf> {
    shared_data(test).map(|d| d.join("ntsb").join(relative))
}

#[test]
fn real_narrative_jsonl_counts() {
    let Some(dir) = real("real_narrative_jsonl_counts", "narratives") else { return };
    let (mut records, mut narratives_n, mut causes) = (0, 0, 0);
    for part in ["ntsb_narratives_rti2016_part1.jsonl", "ntsb_narratives_rti2016_part2.jsonl"] {
        let (recs, rejects) = collect(narratives::open(&dir.join(part)).expect("opens"));
        assert!(rejects.is_empty(), "{rejects:?}");
        records += recs.len();
        for r in recs {
            let Record::Narrative(n) = r.record else { panic!("narrative expected") };
            narratives_n += usize::from(n.narrative.is_some());
            causes += usize::from(n.probable_cause.is_some());
        }
    }
    // 71,133 lines, 216 of them with both texts empty.
    assert_eq!((records, narratives_n, causes), (70_917, 70_916, 46_510));
}

#[test]
fn real_code_tables_counts() {
    let Some(dir) = real("real_code_tables_counts", "code_tables") else { return };
    for (name, kind, want) in [
        ("eADMSPUB_DataDictionary.csv", CodeTableKind::DataDictionary, 4_574),
        ("ct_iaids.csv", CodeTableKind::CtIaids, 955),
        ("ct_seqevt.csv", CodeTableKind::CtSeqevt, 2_224),
        ("states.csv", CodeTableKind::States, 51),
        ("Country.csv", CodeTableKind::Country, 262),
    ] {
        let (records, rejects) = collect(code_tables::open(&dir.join(name), kind).expect("opens"));
        assert!(rejects.is_empty(), "{name}: {rejects:?}");
        assert_eq!(records.len(), want, "{name}");
    }
}

#[test]
fn real_crosswalk_safety_recs_reports_counts() {
    let Some(dir) = real("real_crosswalk_safety_recs_reports_counts", "") else { return };
    let (records, rejects) =
        collect(crosswalk::open(&dir.join("crosswalk/ev_id_ntsb_no_crosswalk.csv")).expect("opens"));
    assert_eq!((records.len(), rejects.len()), (95_121, 0));

    let path = dir.join("carol/probable_cause_findings_safety_recs_1987_2020.csv");
    let (records, rejects) = collect(safety_recs::open(&path).expect("opens"));
    assert!(rejects.is_empty(), "{rejects:?}");
    let recs = records.iter().filter(|r| matches!(r.record, Record::Recommendation(_))).count();
    let narrs = records.iter().filter(|r| matches!(r.record, Record::Narrative(_))).count();
    assert_eq!((narrs, recs), (1_685, 139));

    let (records, rejects) = collect(reports::open(&dir.join("reports/reports_index.csv")).expect("opens"));
    assert_eq!((records.len(), rejects.len()), (23, 0));
    assert!(records.iter().all(|r| matches!(&r.record, Record::Report(rep) if rep.text.is_some())));
}
