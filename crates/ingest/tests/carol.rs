//! CAROL reader: exact records and rejects on small fixtures in the three CAROL
//! layouts (cases CSV, download CSV, JSON array), and counts on the real exports
//! when the corpus is present.

use std::collections::BTreeMap;
use std::path::Path;

use ntsb_ingest::{Detected, Format, Item, open};
use ntsb_model::SourceKind;
use ntsb_model::records::{AircraftRecord, EventRecord, EventRef, NarrativeRecord, Record, Reject, SourcedRecord};

struct Read {
    records: Vec<SourcedRecord>,
    rejects: Vec<Reject>,
}

impl Read {
    fn events(&self) -> Vec<&EventRecord> {
        self.records.iter().filter_map(|r| if let Record::Event(e) = &r.record { Some(e) } else { None }).collect()
    }
    fn aircraft(&self) -> Vec<&AircraftRecord> {
        self.records.iter().filter_map(|r| if let Record::Aircraft(a) = &r.record { Some(a) } else { None }).collect()
    }
    fn narratives(&self) -> Vec<&NarrativeRecord> {
        self.records.iter().filter_map(|r| if let Record::Narrative(n) = &r.record { Some(n) } else { None }).collect()
    }
    fn lines(&self) -> Vec<(u64, &'static str)> {
        self.records
            .iter()
            .map(|r| {
                let kind = match r.record {
                    Record::Event(_) => "event",
                    Record::Aircraft(_) => "aircraft",
                    Record::Narrative(_) => "narrative",
                    _ => "other",
                };
                (r.line, kind)
            })
            .collect()
    }
    fn rejected(&self) -> Vec<(u64, Option<&str>)> {
        self.rejects.iter().map(|r| (r.line, r.field.as_deref())).collect()
    }
}

fn read(path: &Path, format: Format) -> Read {
    let stream = open(&Detected { path: path.to_path_buf(), format }).expect("open");
    assert_eq!(stream.kind(), SourceKind::Carol);
    let (mut records, mut rejects) = (Vec::new(), Vec::new());
    for item in stream {
        match item.expect("no fatal error") {
            Item::Record(r) => records.push(r),
            Item::Reject(r) => rejects.push(r),
        }
    }
    for r in &rejects {
        assert_eq!(r.file, path.display().to_string());
    }
    Read { records, rejects }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn by_ntsb(no: &str) -> EventRef {
    EventRef::NtsbNo(no.to_string())
}

#[test]
fn cases_csv_fixture_splits_aircraft_and_rejects_bad_rows() {
    let got = read(&ntsb_test_support::fixture("carol/carol_cases_sample.csv"), Format::CarolCsv);
    assert_eq!(
        got.lines(),
        vec![
            (2, "event"),
            (2, "aircraft"),
            (2, "narrative"),
            (3, "event"),
            (3, "aircraft"),
            (3, "aircraft"),
            (3, "narrative"),
            (4, "event"),
            (4, "aircraft"),
        ]
    );
    assert_eq!(got.rejected(), vec![(5, Some("EventDate")), (6, Some("FatalInjuryCount")), (7, Some("State"))]);
    assert!(got.rejects[2].reason.contains("broken quoting"), "{}", got.rejects[2].reason);

    let ev = got.events();
    let first = EventRecord {
        ev_id: None,
        ntsb_no: s("CEN23LA101"),
        event_type: s("accident"),
        event_date: s("2023-05-06"),
        event_time: s("14:30"),
        city: s("Springfield"),
        state: s("MO"),
        country: s("United States"),
        latitude: Some(37.245667),
        longitude: Some(-93.388611),
        airport_code: s("SGF"),
        airport_name: s("Springfield Field"),
        highest_injury: s("serious"),
        highest_injury_raw: s("Serious"),
        inj_fatal: Some(0),
        inj_serious: Some(1),
        inj_minor: Some(0),
        weather: s("VMC"),
        weather_raw: s("VMC"),
        phase: s("landing"),
        report_status: s("Completed"),
        publication_date: s("2024-01-10"),
        carol_mkey: Some(190001),
        has_safety_rec: Some(false),
        docket_url: s("https://example.invalid/docket/190001"),
        report_url: s("https://example.invalid/report/190001"),
        ..Default::default()
    };
    assert_eq!(ev[0], &first);
    let narr = got.narratives();
    assert_eq!(narr[0].event, by_ntsb("CEN23LA101"));
    assert_eq!(narr[0].aircraft_key, 0);
    assert_eq!(
        narr[0].findings_text.as_deref(),
        Some("Personnel issues-Aircraft control-Pilot, Environmental issues-Gusts")
    );
    assert_eq!(narr[1].findings_text, None);
    assert_eq!(narr[1].probable_cause.as_deref(), Some("A midair collision."));

    // Two aircraft in one row: split cells go part by part, others whole.
    let ac = got.aircraft();
    let (a, b) = (ac[1], ac[2]);
    assert_eq!((a.event.clone(), a.aircraft_key, b.aircraft_key), (by_ntsb("DCA23FA202"), 1, 2));
    assert_eq!((a.registration.as_deref(), b.registration.as_deref()), (Some("N510AB"), Some("N269CD")));
    assert_eq!((a.serial_no.as_deref(), b.serial_no.as_deref()), (Some("510-0001"), Some("2588")));
    assert_eq!((a.make.as_deref(), b.make.as_deref()), (Some("TEXTRON AVIATION"), Some("BOEING")));
    assert_eq!((a.make_raw.as_deref(), b.make_raw.as_deref()), (Some("TEXTRON AVIATION INC"), Some("Boeing")));
    assert_eq!((a.category.as_deref(), b.category.as_deref()), (Some("AIR"), Some("HELI")));
    assert_eq!((a.amateur_built, b.amateur_built), (Some(false), Some(true)));
    assert_eq!((a.num_engines, b.num_engines), (Some(2), Some(1)));
    assert_eq!((a.far_part.as_deref(), b.far_part.as_deref()), (Some("091"), Some("135")));
    assert_eq!((a.damage.as_deref(), b.damage.as_deref()), (Some("substantial"), Some("minor")));
    assert_eq!((a.purpose.as_deref(), b.purpose.as_deref()), (Some("PERS"), None));
    assert_eq!((a.phase.as_deref(), b.phase.as_deref()), (Some("takeoff"), Some("approach")));
    assert_eq!(a.operator.as_deref(), Some("Alpha Air, LLC, Beta Jets"), "3 parts for 2 aircraft: kept whole");
    assert_eq!(b.operator, a.operator);
    assert_eq!(a.ntsb_no.as_deref(), Some("DCA23FA202"));
    assert_eq!(ev[1].phase.as_deref(), Some("takeoff"), "the event takes the first aircraft's phase");
    assert_eq!((ev[1].has_safety_rec, ev[1].highest_injury.as_deref()), (Some(true), Some("fatal")));

    // Foreign incident: no state; blank injury level derived from the counts.
    assert_eq!((ev[2].state.as_deref(), ev[2].country.as_deref()), (None, Some("France")));
    assert_eq!((ev[2].event_type.as_deref(), ev[2].highest_injury.as_deref()), (Some("incident"), Some("none")));
    assert_eq!((ac[3].far_part.as_deref(), ac[3].damage.as_deref()), (Some("NUSC"), Some("none")));
}

#[test]
fn download_csv_fixture_reads_the_other_layout() {
    let got = read(&ntsb_test_support::fixture("carol/carol_download_sample.csv"), Format::CarolCsv);
    assert!(got.rejects.is_empty(), "{:?}", got.rejects);
    let ev = got.events();
    let ac = got.aircraft();
    assert_eq!((ev.len(), ac.len(), got.narratives().len()), (2, 2, 2));
    assert_eq!(ev[0].ev_id.as_deref(), Some("20230601X00707"), "a valid EventID is kept");
    assert_eq!(ac[0].event, EventRef::EvId("20230601X00707".into()));
    assert_eq!(ev[0].publication_date.as_deref(), Some("2023-09-01"));
    assert_eq!(ev[0].has_safety_rec, Some(false));
    assert_eq!(ac[0].registration.as_deref(), Some("N707FL"));
    assert_eq!(ac[0].make.as_deref(), Some("PIPER"), "one aircraft: a make with a comma stays whole");
    assert_eq!((ac[0].far_part.as_deref(), ac[0].far_part_raw.as_deref()), (Some("091"), Some("91")));
    assert_eq!(ac[0].amateur_built, Some(true));
    assert_eq!(ac[1].event, by_ntsb("CEN23LA808"));
    assert_eq!((ac[1].category.as_deref(), ac[1].operator.as_deref()), (Some("HELI"), Some("Delta Ag, Inc")));
    assert_eq!(ev[1].weather.as_deref(), Some("unknown"));
    assert_eq!(ev[1].event_time.as_deref(), Some("15:45"));
}

#[test]
fn json_fixture_reads_objects_and_rejects_bad_elements_by_number() {
    let got = read(&ntsb_test_support::fixture("carol/carol_fatal_sample.json"), Format::CarolJson);
    assert_eq!(
        got.lines(),
        vec![
            (1, "event"),
            (1, "aircraft"),
            (2, "event"),
            (2, "aircraft"),
            (2, "aircraft"),
            (2, "narrative"),
            (5, "event"),
            (5, "aircraft"),
        ]
    );
    assert_eq!(got.rejected(), vec![(3, None), (4, None)]);
    assert!(got.rejects[0].reason.contains("not an object"), "{}", got.rejects[0].reason);
    assert!(got.rejects[1].reason.contains("not valid JSON"), "{}", got.rejects[1].reason);
    let ev = got.events();
    assert_eq!((ev[0].latitude, ev[0].longitude), (Some(35.4362), Some(-82.5418)), "\"Longitude \" is found");
    assert_eq!((ev[0].inj_fatal, ev[0].inj_serious, ev[0].carol_mkey), (Some(1), Some(0), Some(195111)));
    assert_eq!((ev[0].state.as_deref(), ev[0].event_time.as_deref()), (Some("NC"), Some("16:20")));
    assert_eq!((ev[0].has_safety_rec, ev[0].phase.as_deref()), (Some(false), Some("cruise")));
    assert_eq!((ev[1].latitude, ev[1].longitude), (Some(33.9747), Some(-117.6366)), "numbers as strings");
    assert_eq!((ev[1].carol_mkey, ev[1].highest_injury.as_deref()), (Some(195222), Some("fatal")));
    let ac = got.aircraft();
    assert_eq!((ac[1].registration.as_deref(), ac[2].registration.as_deref()), (Some("N222CA"), Some("N333CA")));
    assert_eq!((ac[1].make.as_deref(), ac[2].make.as_deref()), (Some("NANCHANG CHINA"), Some("YAKOVLEV")));
    assert_eq!((ac[1].damage.as_deref(), ac[2].damage.as_deref()), (Some("substantial"), Some("destroyed")));
    assert_eq!(ac[1].operator.as_deref(), Some("Echo LLC, Foxtrot Flyers, Inc"));
    assert_eq!((ac[2].phase.as_deref(), ac[2].phase_raw.as_deref()), (Some("maneuvering"), Some("Maneuvering")));
    assert_eq!(
        (ac[3].category.as_deref(), ac[3].num_engines, ac[3].damage.as_deref()),
        (Some("GYRO"), Some(1), Some("unknown"))
    );
    assert_eq!(ev[2].event_type.as_deref(), Some("incident"));
}

#[test]
fn truncated_json_rejects_the_broken_element_and_ends() {
    let got = read(&ntsb_test_support::fixture("carol/carol_truncated.json"), Format::CarolJson);
    assert_eq!(got.lines(), vec![(1, "event"), (1, "aircraft")]);
    assert_eq!(got.rejected(), vec![(2, None)]);
    assert!(got.rejects[0].reason.contains("truncated"), "{}", got.rejects[0].reason);
}

#[test]
fn json_that_is_not_an_array_does_not_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cases.json");
    std::fs::write(&path, "{\"NtsbNo\": \"X\"}").expect("write");
    assert!(open(&Detected { path, format: Format::CarolJson }).is_err());
}

/// Truth from Python over the same files: events = rows, aircraft = parts of the
/// `N#`/`N` cell (or of the other per-aircraft cells when it is empty), narratives
/// = rows with ProbableCause or Findings.
fn check_real(file: &str, format: Format, events: usize, aircraft: usize, narratives: usize, fatal: i64) -> Read {
    let Some(data) = ntsb_test_support::shared_data(file) else {
        return Read { records: Vec::new(), rejects: Vec::new() };
    };
    let got = read(&data.join("ntsb/carol").join(file), format);
    assert!(got.rejects.is_empty(), "{file}: {} rejects, first {:?}", got.rejects.len(), got.rejects.first());
    assert_eq!(got.events().len(), events, "{file} events");
    assert_eq!(got.aircraft().len(), aircraft, "{file} aircraft");
    assert_eq!(got.narratives().len(), narratives, "{file} narratives");
    assert_eq!(got.events().iter().filter_map(|e| e.inj_fatal).sum::<i64>(), fatal, "{file} fatalities");
    assert!(got.events().iter().all(|e| e.ev_id.is_none() && e.ntsb_no.is_some() && e.event_date.is_some()));
    assert!(got.aircraft().iter().all(|a| matches!(a.event, EventRef::NtsbNo(_))));
    assert!(got.aircraft().iter().all(|a| !a.registration.as_deref().unwrap_or("").contains(", ")));
    got
}

/// Per event: (aircraft count, whether its aircraft have different FAR parts).
fn multi_aircraft(got: &Read) -> (BTreeMap<i64, usize>, usize) {
    let mut per_event: BTreeMap<String, Vec<&AircraftRecord>> = BTreeMap::new();
    for a in got.aircraft() {
        per_event.entry(a.event.to_string()).or_default().push(a);
    }
    let mut sizes = BTreeMap::new();
    let mut far_differs = 0;
    for list in per_event.values() {
        *sizes.entry(list.len() as i64).or_insert(0) += 1;
        if list.len() == 2 && list[0].far_part.is_some() && list[0].far_part != list[1].far_part {
            far_differs += 1;
        }
    }
    (sizes, far_differs)
}

#[test]
fn real_commercial_cases_csv() {
    let got = check_real("carol_cases_commercial_1982_2023.csv", Format::CarolCsv, 4_802, 5_054, 2_748, 8_700);
    if got.records.is_empty() {
        return;
    }
    let (sizes, far_differs) = multi_aircraft(&got);
    assert_eq!(sizes.into_iter().collect::<Vec<_>>(), vec![(1, 4_550), (2, 252)]);
    assert_eq!(far_differs, 134, "two-aircraft rows whose FAR cell names two different parts");
    let counts = |f: fn(&EventRecord) -> Option<&str>| {
        let mut m = BTreeMap::new();
        for e in got.events() {
            *m.entry(f(e).unwrap_or("").to_string()).or_insert(0) += 1;
        }
        m.into_iter().collect::<Vec<_>>()
    };
    assert_eq!(
        counts(|e| e.event_type.as_deref()),
        vec![("accident".into(), 3_037), ("incident".into(), 1_743), ("occurrence".into(), 22)]
    );
    let us = got.events().iter().filter(|e| e.state.is_some()).count();
    assert!(us > 3_400 && us <= 3_525, "US events with a state: {us}");
}

#[test]
fn real_download_sample_csv() {
    check_real("carol_download_2023_sample53.csv", Format::CarolCsv, 53, 53, 53, 0);
}

#[test]
fn real_fatal_json() {
    let got = check_real("carol_fatal_2020_2025.json", Format::CarolJson, 689, 704, 397, 1_114);
    if got.records.is_empty() {
        return;
    }
    let (sizes, _) = multi_aircraft(&got);
    assert_eq!(sizes.into_iter().collect::<Vec<_>>(), vec![(1, 674), (2, 15)]);
    assert!(got.events().iter().all(|e| e.highest_injury.as_deref() == Some("fatal")));
}
