//! AviationData reader: exact records and rejects on a small fixture written in the
//! export's format, and counts on the real 2017 export when the corpus is present.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use ntsb_ingest::{Detected, Format, open};
use ntsb_model::SourceKind;
use ntsb_model::records::{AircraftRecord, EventRecord, EventRef, Record, Reject, SourcedRecord};

fn read(path: &Path) -> (Vec<SourcedRecord>, Vec<Reject>) {
    let stream = open(&Detected { path: path.to_path_buf(), format: Format::AviationData }).expect("open");
    assert_eq!(stream.kind(), SourceKind::AviationData);
    ntsb_ingest::read_all(stream).expect("no fatal error")
}

fn events(records: &[SourcedRecord]) -> Vec<(u64, &EventRecord)> {
    records
        .iter()
        .filter_map(|r| match &r.record {
            Record::Event(e) => Some((r.line, e)),
            _ => None,
        })
        .collect()
}

fn aircraft(records: &[SourcedRecord]) -> Vec<(u64, &AircraftRecord)> {
    records
        .iter()
        .filter_map(|r| match &r.record {
            Record::Aircraft(a) => Some((r.line, a)),
            _ => None,
        })
        .collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn fixture_gives_one_event_per_event_and_one_aircraft_per_row() {
    let path = ntsb_test_support::fixture("aviationdata/aviation_data_sample.csv");
    let (records, rejects) = read(&path);
    let ev = events(&records);
    let ac = aircraft(&records);
    assert_eq!(ev.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![2, 3, 4, 8]);
    assert_eq!(
        ac.iter().map(|(l, a)| (*l, a.aircraft_key)).collect::<Vec<_>>(),
        vec![(2, 1), (3, 1), (4, 1), (5, 2), (8, 1)]
    );
    assert_eq!(records.len(), 9, "nothing but events and aircraft");

    let first = EventRecord {
        ev_id: s("20210612X00001"),
        ntsb_no: s("CEN21FA101"),
        event_type: s("accident"),
        event_date: s("2021-06-12"),
        city: s("Springfield"),
        state: s("IL"),
        country: s("United States"),
        location_raw: s("Springfield, IL"),
        latitude: Some(39.844),
        longitude: Some(-89.677),
        airport_code: s("SPI"),
        airport_name: s("Capital Field"),
        highest_injury: s("fatal"),
        highest_injury_raw: s("Fatal(2)"),
        inj_fatal: Some(2),
        inj_serious: Some(0),
        inj_minor: Some(0),
        inj_none: Some(0),
        weather: s("IMC"),
        weather_raw: s("IMC"),
        phase: s("cruise"),
        report_status: s("Probable Cause"),
        publication_date: s("2022-03-01"),
        ..Default::default()
    };
    assert_eq!(ev[0].1, &first);
    let first_aircraft = AircraftRecord {
        event: EventRef::EvId("20210612X00001".into()),
        aircraft_key: 1,
        ntsb_no: s("CEN21FA101"),
        registration: s("N12345"),
        make: s("CESSNA"),
        make_raw: s("Cessna Aircraft Co"),
        model: s("172S"),
        category: s("AIR"),
        category_raw: s("Airplane"),
        amateur_built: Some(false),
        num_engines: Some(1),
        engine_type: s("Reciprocating"),
        far_part: s("091"),
        far_part_raw: s("Part 91: General Aviation"),
        purpose: s("Personal"),
        damage: s("destroyed"),
        damage_raw: s("Destroyed"),
        phase: s("cruise"),
        phase_raw: s("Cruise"),
        ..Default::default()
    };
    assert_eq!(ac[0].1, &first_aircraft);

    // Multi-aircraft event: one event (base number, totals once), two aircraft with
    // their own suffixed numbers, although another event sits between the rows.
    let multi = ev[1].1;
    assert_eq!((multi.ntsb_no.as_deref(), multi.inj_serious, multi.inj_minor), (Some("WPR19MA201"), Some(1), Some(2)));
    assert_eq!(multi.highest_injury.as_deref(), Some("serious"), "Non-Fatal falls back to the counts");
    assert_eq!(multi.phase.as_deref(), Some("approach"));
    let second = ac[3].1;
    assert_eq!(second.event, EventRef::EvId("20190905X00002".into()));
    assert_eq!(second.ntsb_no.as_deref(), Some("WPR19MA201B"));
    assert_eq!((second.category.as_deref(), second.amateur_built), (Some("WSFT"), Some(true)));
    assert_eq!((second.damage.as_deref(), second.phase.as_deref()), (Some("minor"), Some("landing")));
    let fatal: i64 = ev.iter().filter_map(|(_, e)| e.inj_fatal).sum();
    let serious: i64 = ev.iter().filter_map(|(_, e)| e.inj_serious).sum();
    assert_eq!((fatal, serious), (2, 1), "repeated totals are counted once");

    // Foreign event: no state, category and FAR from words, operator with a comma.
    let foreign = ev[2].1;
    assert_eq!((foreign.state.as_deref(), foreign.city.as_deref()), (None, Some("Toronto")));
    assert_eq!((foreign.event_type.as_deref(), foreign.highest_injury.as_deref()), (Some("incident"), Some("none")));
    assert_eq!((foreign.phase.as_deref(), foreign.publication_date.as_deref()), (Some("taxi"), None));
    let heli = ac[2].1;
    assert_eq!((heli.category.as_deref(), heli.far_part.as_deref()), (Some("HELI"), Some("NUSC")));
    assert_eq!((heli.operator.as_deref(), heli.schedule.as_deref()), (Some("Acme Air, Ltd."), Some("SCHD")));

    // `Unavailable` without counts stays unknown; the row after two rejects loads.
    let gyro = ev[3].1;
    assert_eq!((gyro.highest_injury.as_deref(), gyro.weather.as_deref()), (Some("unknown"), Some("unknown")));
    assert_eq!(ac[4].1.category.as_deref(), Some("GYRO"));

    let file = path.display().to_string();
    let got: Vec<(String, u64, Option<String>)> =
        rejects.iter().map(|r| (r.file.clone(), r.line, r.field.clone())).collect();
    assert_eq!(
        got,
        vec![
            (file.clone(), 6, s("Event.Date")),
            (file.clone(), 7, s("Total.Serious.Injuries")),
            (file.clone(), 9, s("Publication.Date")),
        ]
    );
    assert!(rejects[0].reason.contains("\"2018-13-45\" is not a date"), "{}", rejects[0].reason);
    assert!(rejects[1].reason.contains("\"two\" is not a whole number"), "{}", rejects[1].reason);
    assert!(rejects[2].reason.contains("broken quoting"), "{}", rejects[2].reason);
}

/// Rows of a multi-aircraft event come in any order (the real export lists B
/// before A); aircraft are numbered by the case number's letter, as avall does.
#[test]
fn aircraft_are_numbered_by_case_number_suffix_not_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("AviationData.csv");
    let header = std::fs::read_to_string(ntsb_test_support::fixture("aviationdata/aviation_data_sample.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let width = header.split(',').count();
    let row = |no: &str, make: &str| {
        let mut f = vec![String::new(); width];
        f[0] = "20161231X90001".into();
        f[1] = "Accident".into();
        f[2] = no.into();
        f[3] = "2016-12-31".into();
        f[14] = make.into();
        f.join(",")
    };
    assert_eq!(header.split(',').nth(14), Some("Make"));
    let text = format!("{header}\n{}\n{}\n", row("CEN17FA063B", "LUSCOMBE"), row("CEN17FA063A", "PIPER"));
    std::fs::write(&path, text).unwrap();
    let (records, rejects) = read(&path);
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(events(&records).len(), 1, "one event, from the first row");
    let keyed: Vec<(i64, Option<&str>)> =
        aircraft(&records).iter().map(|(_, a)| (a.aircraft_key, a.make_raw.as_deref())).collect();
    assert_eq!(keyed, vec![(2, Some("LUSCOMBE")), (1, Some("PIPER"))]);
}

/// The real 2017-03-28 export: 79,557 rows (one per aircraft) of 78,405 events.
/// Figures verified with Python's csv module over the same file.
#[test]
fn real_export_counts_events_once_and_every_aircraft() {
    let Some(data) = ntsb_test_support::shared_data("real_export_counts_events_once_and_every_aircraft") else {
        return;
    };
    let (records, rejects) = read(&data.join("ntsb/aviationdata/AviationData_20170328.csv"));
    assert!(rejects.is_empty(), "{} rejects, first {:?}", rejects.len(), rejects.first());
    let ev = events(&records);
    let ac = aircraft(&records);
    assert_eq!(ev.len(), 78_405);
    assert_eq!(ac.len(), 79_557);
    let distinct: HashSet<&str> = ev.iter().filter_map(|(_, e)| e.ev_id.as_deref()).collect();
    assert_eq!(distinct.len(), 78_405);
    let mut keys = BTreeMap::new();
    for (_, a) in &ac {
        *keys.entry(a.aircraft_key).or_insert(0) += 1;
    }
    // Numbered by case-number suffix: one event lists only its aircraft B.
    assert_eq!(keys.into_iter().collect::<Vec<_>>(), vec![(1, 78_404), (2, 1_149), (3, 4)]);
    // Summed over distinct events; summing over rows would give 45,743.
    assert_eq!(ev.iter().filter_map(|(_, e)| e.inj_fatal).sum::<i64>(), 43_969);
    assert_eq!(ev.iter().filter_map(|(_, e)| e.inj_serious).sum::<i64>(), 16_951);
    let fatal_events = ev.iter().filter(|(_, e)| e.highest_injury.as_deref() == Some("fatal")).count();
    assert!(fatal_events >= 15_592, "every Fatal(n) event is fatal: {fatal_events}");
    assert!(ev.iter().all(|(_, e)| e.event_date.is_some() && e.ntsb_no.is_some()));
}
