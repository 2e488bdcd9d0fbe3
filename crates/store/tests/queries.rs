//! The read API (`Queries`) over a small hand-written store with known answers,
//! over the real AviationData export (skipped when the shared corpus is absent),
//! and an ignored timing run over a fully loaded store. Every test inside
//! `conformance!` runs on SQLite and on PostgreSQL (`NTSB_TEST_POSTGRES_URL`; see
//! `common/mod.rs`), with the same expected answers.

#[macro_use]
mod common;

use std::collections::HashSet;

use chrono::NaiveDate;
use ntsb_model::SourceKind;
use ntsb_model::query::{
    BBox, Breakdown, EventFilter, EventQuery, EventSummary, MAX_PAGE, Sort, SortField, haversine_km, wilson_interval,
};
use ntsb_model::records::{
    AircraftRecord, EventRecord, EventRef, FindingRecord, InjuryRecord, NarrativeRecord, OccurrenceRecord, Record,
    SourcedRecord,
};
use ntsb_model::vocab::{Damage, EventType, InjuryLevel, Phase, Weather};
use ntsb_store::{Backend, Error, LoadSource};

const LA: (f64, f64) = (34.0522, -118.2437);
const DALLAS: (f64, f64) = (32.7767, -96.7970);

#[allow(clippy::too_many_arguments)]
fn ev(
    id: &str,
    date: &str,
    state: Option<&str>,
    country: &str,
    at: Option<(f64, f64)>,
    injury: &str,
    inj: [i64; 4],
    kind: &str,
    weather: &str,
    phase: &str,
) -> Record {
    Record::Event(EventRecord {
        ev_id: Some(id.into()),
        ntsb_no: Some(format!("NO{}", &id[10..])),
        event_type: Some(kind.into()),
        event_date: Some(date.into()),
        city: Some(format!("City {}", &id[10..])),
        state: state.map(str::to_string),
        country: Some(country.into()),
        latitude: at.map(|p| p.0),
        longitude: at.map(|p| p.1),
        highest_injury: Some(injury.into()),
        inj_fatal: Some(inj[0]),
        inj_serious: Some(inj[1]),
        inj_minor: Some(inj[2]),
        inj_none: Some(inj[3]),
        weather: Some(weather.into()),
        phase: Some(phase.into()),
        ..Default::default()
    })
}

fn r(id: &str) -> EventRef {
    EventRef::EvId(id.into())
}

fn plane(id: &str, key: i64, make: &str, model: &str, far: &str, damage: &str) -> Record {
    Record::Aircraft(AircraftRecord {
        event: r(id),
        aircraft_key: key,
        make: Some(make.into()),
        model: Some(model.into()),
        category: Some("AIR".into()),
        num_engines: Some(if make == "BOEING" { 2 } else { 1 }),
        amateur_built: Some(make == "PIPER"),
        far_part: Some(far.into()),
        damage: Some(damage.into()),
        ..Default::default()
    })
}

fn finding(id: &str, key: i64, no: i64, code: &str, cause: Option<&str>) -> Record {
    Record::Finding(FindingRecord {
        event: r(id),
        aircraft_key: key,
        finding_no: no,
        finding_code: Some(code.into()),
        finding_description: Some(format!("finding {code}")),
        cause_factor: cause.map(str::to_string),
        ..Default::default()
    })
}

fn occurrence(id: &str, key: i64, no: i64, code: &str, defining: bool) -> Record {
    Record::Occurrence(OccurrenceRecord {
        event: r(id),
        aircraft_key: key,
        code_system: "cictt".into(),
        occurrence_no: no,
        occurrence_code: Some(code.into()),
        occurrence_meaning: Some(format!("occurrence {code}")),
        defining_event: Some(defining),
        ..Default::default()
    })
}

fn text(id: &str, narrative: Option<&str>, cause: Option<&str>) -> Record {
    Record::Narrative(NarrativeRecord {
        event: r(id),
        aircraft_key: 0,
        narrative: narrative.map(str::to_string),
        probable_cause: cause.map(str::to_string),
        ..Default::default()
    })
}

fn injury(id: &str, key: i64, level: &str, n: i64) -> Record {
    Record::Injury(InjuryRecord {
        event: r(id),
        aircraft_key: key,
        inj_person_category: "TOTL".into(),
        injury_level: level.into(),
        inj_person_count: Some(n),
    })
}

const E1: &str = "20100115X00001"; // LA, fatal, Friday, winter
const E2: &str = "20100620X00002"; // near LA, none, Sunday, summer
const E3: &str = "20110310X00003"; // Dallas, two aircraft, fatal, Thursday, spring
const E4: &str = "20121201X00004"; // near Dallas (DFW), serious, Saturday, winter
const E5: &str = "20000704X00005"; // Canada, no coordinates, no aircraft, Tuesday, summer

fn fixture(kind: common::Kind, test: &str) -> common::TestStore {
    let s = kind.store(test);
    let load = s
        .begin_load(&LoadSource { path: "fixture.csv".into(), format: "test".into(), checksum: "x".into(), bytes: 1 })
        .unwrap();
    let records = vec![
        ev(
            E1,
            "2010-01-15",
            Some("CA"),
            "United States",
            Some(LA),
            "fatal",
            [2, 0, 0, 0],
            "accident",
            "IMC",
            "approach",
        ),
        ev(
            E2,
            "2010-06-20",
            Some("CA"),
            "United States",
            Some((34.10, -118.30)),
            "none",
            [0, 0, 0, 2],
            "incident",
            "VMC",
            "landing",
        ),
        ev(
            E3,
            "2011-03-10",
            Some("TX"),
            "United States",
            Some(DALLAS),
            "fatal",
            [3, 1, 0, 1],
            "accident",
            "VMC",
            "takeoff",
        ),
        ev(
            E4,
            "2012-12-01",
            Some("TX"),
            "United States",
            Some((32.8998, -97.0403)),
            "serious",
            [0, 2, 1, 0],
            "accident",
            "IMC",
            "cruise",
        ),
        ev(E5, "2000-07-04", None, "Canada", None, "minor", [0, 0, 1, 0], "accident", "VMC", "landing"),
        plane(E1, 1, "CESSNA", "172N", "091", "destroyed"),
        plane(E2, 1, "PIPER", "PA-28-161", "091", "substantial"),
        plane(E3, 1, "CESSNA", "152", "091", "destroyed"),
        plane(E3, 2, "BOEING", "737-800", "121", "minor"),
        plane(E4, 1, "CESSNA", "172S", "135", "substantial"),
        // Per-aircraft injury rows of the two-aircraft event: 2 + 1 fatal, never summed into the totals.
        injury(E3, 1, "FATL", 2),
        injury(E3, 2, "FATL", 1),
        text(E1, Some("The airplane struck trees on approach."), Some("Failure to maintain clearance.")),
        text(E3, Some("Runway incursion."), None),
        text(E4, None, Some("Encounter with turbulence.")),
        finding(E1, 1, 1, "F100", Some("cause")),
        finding(E1, 1, 2, "F200", Some("factor")),
        finding(E2, 1, 1, "F100", Some("factor")),
        finding(E3, 1, 1, "F100", Some("cause")),
        finding(E3, 2, 1, "F300", Some("cause")),
        occurrence(E1, 1, 1, "O1", true),
        occurrence(E3, 2, 1, "O2", true),
        occurrence(E3, 1, 1, "O1", false),
        occurrence(E4, 1, 1, "O1", false),
    ];
    let sourced = records.into_iter().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 2, record });
    let out = s.write_batch(load, SourceKind::Avall, "fixture.csv", sourced.collect()).unwrap();
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    s
}

fn ids(items: &[EventSummary]) -> Vec<&str> {
    items.iter().map(|e| e.ev_id.as_deref().unwrap()).collect()
}

fn list(s: &dyn Backend, filter: EventFilter) -> Vec<String> {
    let page = s.list_events(&EventQuery { filter, limit: MAX_PAGE, ..Default::default() }).unwrap();
    assert_eq!(page.total as usize, page.items.len());
    ids(&page.items).into_iter().map(str::to_string).collect()
}

fn d(y: i32, m: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, day)
}

/// key, key2, events, fatal events, fatalities, serious injuries, destroyed.
type Row = (String, Option<String>, u64, u64, u64, u64, u64);

fn rows(s: &dyn Backend, by: Breakdown) -> Vec<Row> {
    s.breakdown(by, &EventFilter::default(), 1, 100)
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.key2, r.events, r.fatal_events, r.fatalities, r.serious_injuries, r.destroyed))
        .collect()
}

fn k(key: &str, events: u64, fatal_events: u64, fatalities: u64, serious: u64, destroyed: u64) -> Row {
    (key.to_string(), None, events, fatal_events, fatalities, serious, destroyed)
}

conformance! {
fn every_filter_alone_and_combined(kind) {
    let s = fixture(kind, "every_filter_alone_and_combined");
    let f = EventFilter::default;
    assert_eq!(list(&*s, f()), [E4, E3, E2, E1, E5], "newest first by default");
    assert_eq!(list(&*s, EventFilter { from: d(2010, 6, 20), ..f() }), [E4, E3, E2]);
    assert_eq!(list(&*s, EventFilter { to: d(2010, 6, 20), ..f() }), [E2, E1, E5]);
    assert_eq!(list(&*s, EventFilter { from: d(2010, 1, 16), to: d(2011, 3, 10), ..f() }), [E3, E2]);
    assert_eq!(list(&*s, EventFilter { year: Some(2010), ..f() }), [E2, E1]);
    assert_eq!(list(&*s, EventFilter { state: Some("tx".into()), ..f() }), [E4, E3]);
    assert_eq!(list(&*s, EventFilter { country: Some("canada".into()), ..f() }), [E5]);
    assert_eq!(list(&*s, EventFilter { highest_injury: Some(InjuryLevel::Fatal), ..f() }), [E3, E1]);
    assert_eq!(list(&*s, EventFilter { damage: Some(Damage::Destroyed), ..f() }), [E3, E1]);
    assert_eq!(list(&*s, EventFilter { damage: Some(Damage::Minor), ..f() }), [E3]);
    assert_eq!(list(&*s, EventFilter { make: Some("Cessna Aircraft Co".into()), ..f() }), [E4, E3, E1]);
    assert_eq!(list(&*s, EventFilter { make: Some("boeing".into()), ..f() }), [E3]);
    assert_eq!(list(&*s, EventFilter { model: Some("172".into()), ..f() }), [E4, E1]);
    assert_eq!(list(&*s, EventFilter { model: Some("pa-28".into()), ..f() }), [E2]);
    assert_eq!(list(&*s, EventFilter { model: Some("%".into()), ..f() }), Vec::<String>::new(), "LIKE escaped");
    assert_eq!(list(&*s, EventFilter { category: Some("air".into()), ..f() }), [E4, E3, E2, E1]);
    assert_eq!(list(&*s, EventFilter { far_part: Some("91".into()), ..f() }), [E3, E2, E1]);
    assert_eq!(list(&*s, EventFilter { far_part: Some("121".into()), ..f() }), [E3]);
    assert_eq!(list(&*s, EventFilter { phase: Some(Phase::Landing), ..f() }), [E2, E5]);
    assert_eq!(list(&*s, EventFilter { weather: Some(Weather::Imc), ..f() }), [E4, E1]);
    assert_eq!(list(&*s, EventFilter { event_type: Some(EventType::Incident), ..f() }), [E2]);
    assert_eq!(list(&*s, EventFilter { has_narrative: Some(true), ..f() }), [E4, E3, E1]);
    assert_eq!(list(&*s, EventFilter { has_narrative: Some(false), ..f() }), [E2, E5]);
    let texas = BBox { min_lon: -100.0, min_lat: 30.0, max_lon: -95.0, max_lat: 35.0 };
    assert_eq!(list(&*s, EventFilter { bbox: Some(texas), ..f() }), [E4, E3]);
    let all = list(&*s, f());
    let e1_id = s
        .list_events(&EventQuery::default())
        .unwrap()
        .items
        .iter()
        .find(|e| e.ev_id.as_deref() == Some(E1))
        .unwrap()
        .event_id;
    assert_eq!(list(&*s, EventFilter { event_ids: Some(vec![e1_id, 9_999]), ..f() }), [E1]);
    assert_eq!(list(&*s, EventFilter { event_ids: Some(vec![]), ..f() }), Vec::<String>::new());
    assert_eq!(all.len(), 5);
    // Combinations: the same aircraft must match every aircraft condition.
    assert_eq!(list(&*s, EventFilter { make: Some("CESSNA".into()), damage: Some(Damage::Destroyed), ..f() }), [E3, E1]);
    assert_eq!(
        list(&*s, EventFilter { make: Some("BOEING".into()), damage: Some(Damage::Destroyed), ..f() }),
        Vec::<String>::new()
    );
    assert_eq!(
        list(
            &*s,
            EventFilter { state: Some("CA".into()), weather: Some(Weather::Imc), has_narrative: Some(true), ..f() }
        ),
        [E1]
    );
    assert_eq!(
        list(&*s, EventFilter { year: Some(2011), make: Some("CESSNA".into()), far_part: Some("091".into()), ..f() }),
        [E3]
    );
}

fn sorting_and_cursor_paging_walk_every_event_once(kind) {
    let s = fixture(kind, "sorting_and_cursor_paging_walk_every_event_once");
    for field in [SortField::Date, SortField::Fatalities, SortField::State, SortField::Make] {
        for descending in [true, false] {
            let sort = Sort { field, descending };
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = s.list_events(&EventQuery { sort, limit: 2, cursor, ..Default::default() }).unwrap();
                assert_eq!(page.total, 5);
                assert!(page.items.len() <= 2);
                seen.extend(page.items.iter().map(|e| e.ev_id.clone().unwrap()));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            let unique: HashSet<_> = seen.iter().collect();
            assert_eq!((seen.len(), unique.len()), (5, 5), "{sort:?}: {seen:?}");
            let full = s.list_events(&EventQuery { sort, limit: 10, ..Default::default() }).unwrap();
            assert_eq!(ids(&full.items), seen.iter().map(String::as_str).collect::<Vec<_>>(), "{sort:?}");
        }
    }
    let by_fatal = s
        .list_events(&EventQuery {
            sort: Sort { field: SortField::Fatalities, descending: true },
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ids(&by_fatal.items)[..2], [E3, E1]);
    let by_state = s
        .list_events(&EventQuery { sort: Sort { field: SortField::State, descending: false }, ..Default::default() })
        .unwrap();
    assert_eq!(ids(&by_state.items), [E5, E1, E2, E3, E4], "missing state first ascending, ties by id");
}

fn malformed_cursors_and_ranges_name_the_parameter(kind) {
    let s = fixture(kind, "malformed_cursors_and_ranges_name_the_parameter");
    let param = |e: Error| match e {
        Error::InvalidQuery { parameter, .. } => parameter,
        other => panic!("{other}"),
    };
    for bad in ["nonsense", "00", "7b7d", ""] {
        let q = EventQuery { cursor: Some(bad.into()), ..Default::default() };
        assert_eq!(param(s.list_events(&q).unwrap_err()), "cursor", "{bad:?}");
    }
    let first = s.list_events(&EventQuery { limit: 1, ..Default::default() }).unwrap();
    let other_sort = EventQuery {
        cursor: first.next_cursor,
        sort: Sort { field: SortField::Date, descending: false },
        ..Default::default()
    };
    assert_eq!(param(s.list_events(&other_sort).unwrap_err()), "cursor");
    let inverted = EventFilter { from: d(2012, 1, 1), to: d(2011, 1, 1), ..Default::default() };
    assert_eq!(param(s.summary(&inverted).unwrap_err()), "to");
    assert_eq!(param(s.radius(&EventFilter::default(), 95.0, 0.0, 10.0, 10).unwrap_err()), "lat");
    assert_eq!(param(s.radius(&EventFilter::default(), 0.0, 0.0, -1.0, 10).unwrap_err()), "km");
    assert_eq!(param(s.grid_density(&EventFilter::default(), 0.0).unwrap_err()), "cell");
    assert_eq!(param(s.clusters(&EventFilter::default(), 10.0, 0, 10).unwrap_err()), "min_points");
}

fn event_detail_has_everything_and_counts_injuries_once(kind) {
    let s = fixture(kind, "event_detail_has_everything_and_counts_injuries_once");
    let d = s.event_detail(E3).unwrap().expect("known event");
    assert_eq!(d.summary.ev_id.as_deref(), Some(E3));
    assert_eq!(d.summary.event_date.as_deref(), Some("2011-03-10"));
    assert_eq!((d.summary.injuries.fatal, d.summary.injuries.serious, d.summary.injuries.none), (3, 1, 1));
    assert_eq!(d.summary.make.as_deref(), Some("CESSNA"), "first aircraft");
    assert_eq!(d.aircraft.iter().map(|a| a.make.as_deref().unwrap()).collect::<Vec<_>>(), ["CESSNA", "BOEING"]);
    assert_eq!(d.injury_rows.len(), 2);
    assert_eq!(
        d.findings.iter().map(|f| (f.aircraft_key, f.code.as_deref().unwrap())).collect::<Vec<_>>(),
        [(1, "F100"), (2, "F300")]
    );
    assert_eq!(
        d.occurrences
            .iter()
            .map(|o| (o.aircraft_key, o.code.as_deref().unwrap(), o.defining_event))
            .collect::<Vec<_>>(),
        [(1, "O1", Some(false)), (2, "O2", Some(true))]
    );
    assert_eq!(d.narrative.as_deref(), Some("Runway incursion."));
    assert_eq!(d.probable_cause, None);
    assert!(d.summary.has_narrative);
    assert_eq!(d.sources.len(), 1);
    assert_eq!(d.sources[0].path, "fixture.csv");
    // By case number too; unknown ids are None.
    let by_no = s.event_detail("NO0004").unwrap().expect("by ntsb_no");
    assert_eq!(by_no.summary.ev_id.as_deref(), Some(E4));
    assert_eq!(by_no.probable_cause.as_deref(), Some("Encounter with turbulence."));
    assert!(s.event_detail("20990101X99999").unwrap().is_none());
    // The two-aircraft event is one listing row with its own totals.
    let page = s
        .list_events(&EventQuery {
            filter: EventFilter { year: Some(2011), ..Default::default() },
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].injuries.fatal, 3);
    // The internal id is not serialised.
    let json = serde_json::to_value(&page.items[0]).unwrap();
    assert!(json.get("event_id").is_none() && json["injuries"]["fatal"] == 3, "{json}");
}

fn summary_counts_events_people_and_aircraft(kind) {
    let s = fixture(kind, "summary_counts_events_people_and_aircraft");
    let all = s.summary(&EventFilter::default()).unwrap();
    assert_eq!((all.events, all.accidents, all.incidents, all.fatal_events), (5, 4, 1, 2));
    assert_eq!((all.fatalities, all.serious_injuries, all.minor_injuries), (5, 3, 2));
    assert_eq!((all.aircraft, all.destroyed), (5, 2));
    assert_eq!((all.first_event.as_deref(), all.last_event.as_deref()), (Some("2000-07-04"), Some("2012-12-01")));
    assert!((all.fatal_rate - 0.4).abs() < 1e-12);
    let (lo, hi) = wilson_interval(2, 5);
    assert_eq!(all.fatal_rate_ci95, [lo, hi]);
    let cessna = s.summary(&EventFilter { make: Some("CESSNA".into()), ..Default::default() }).unwrap();
    assert_eq!((cessna.events, cessna.fatalities, cessna.aircraft), (3, 5, 4), "aircraft of matching events");
    let none = s.summary(&EventFilter { year: Some(1990), ..Default::default() }).unwrap();
    assert_eq!((none.events, none.fatal_rate, none.fatal_rate_ci95), (0, 0.0, [0.0, 0.0]));
}

fn every_breakdown(kind) {
    let s = fixture(kind, "every_breakdown");
    assert_eq!(
        rows(&*s, Breakdown::Year),
        [k("2000", 1, 0, 0, 0, 0), k("2010", 2, 1, 2, 0, 1), k("2011", 1, 1, 3, 1, 1), k("2012", 1, 0, 0, 2, 0)]
    );
    assert_eq!(
        rows(&*s, Breakdown::Month),
        [
            k("01", 1, 1, 2, 0, 1),
            k("03", 1, 1, 3, 1, 1),
            k("06", 1, 0, 0, 0, 0),
            k("07", 1, 0, 0, 0, 0),
            k("12", 1, 0, 0, 2, 0)
        ]
    );
    assert_eq!(
        rows(&*s, Breakdown::Season),
        [k("winter", 2, 1, 2, 2, 1), k("spring", 1, 1, 3, 1, 1), k("summer", 2, 0, 0, 0, 0)]
    );
    let dow: Vec<(String, Option<String>, u64)> =
        rows(&*s, Breakdown::DayOfWeek).into_iter().map(|r| (r.0, r.1, r.2)).collect();
    let day = |n: &str, name: &str| (n.to_string(), Some(name.to_string()), 1);
    assert_eq!(
        dow,
        [day("0", "Sunday"), day("2", "Tuesday"), day("4", "Thursday"), day("5", "Friday"), day("6", "Saturday")]
    );
    assert_eq!(rows(&*s, Breakdown::Decade), [k("2000", 1, 0, 0, 0, 0), k("2010", 4, 2, 5, 3, 2)]);
    assert_eq!(
        rows(&*s, Breakdown::State),
        [k("CA", 2, 1, 2, 0, 1), k("TX", 2, 1, 3, 3, 1), k("unknown", 1, 0, 0, 0, 0)]
    );
    // An event with two makes counts once under each make, with its own totals.
    assert_eq!(
        rows(&*s, Breakdown::Make),
        [k("CESSNA", 3, 2, 5, 3, 2), k("BOEING", 1, 1, 3, 1, 1), k("PIPER", 1, 0, 0, 0, 0)]
    );
    let mm: Vec<(String, Option<String>, u64)> =
        rows(&*s, Breakdown::MakeModel).into_iter().map(|r| (r.0, r.1, r.2)).collect();
    assert_eq!(mm.len(), 5);
    assert!(mm.contains(&("CESSNA".into(), Some("172N".into()), 1)));
    assert_eq!(rows(&*s, Breakdown::Phase)[0], k("landing", 2, 0, 0, 0, 0));
    assert_eq!(rows(&*s, Breakdown::Weather), [k("VMC", 3, 1, 3, 1, 1), k("IMC", 2, 1, 2, 2, 1)]);
    assert_eq!(
        rows(&*s, Breakdown::FarPart),
        [k("091", 3, 2, 5, 1, 2), k("121", 1, 1, 3, 1, 1), k("135", 1, 0, 0, 2, 0)]
    );
    assert_eq!(rows(&*s, Breakdown::Country), [k("United States", 4, 2, 5, 3, 2), k("Canada", 1, 0, 0, 0, 0)]);
    // The event without aircraft (E5) has no category, engines or build.
    assert_eq!(rows(&*s, Breakdown::Category), [k("AIR", 4, 2, 5, 3, 2)]);
    assert_eq!(rows(&*s, Breakdown::Engines), [k("1", 4, 2, 5, 3, 2), k("2", 1, 1, 3, 1, 1)]);
    assert_eq!(rows(&*s, Breakdown::AmateurBuilt), [k("no", 3, 2, 5, 3, 2), k("yes", 1, 0, 0, 0, 0)]);
    // min_count and limit; rates carry the Wilson interval.
    let big = s.breakdown(Breakdown::Make, &EventFilter::default(), 2, 10).unwrap();
    assert_eq!(big.len(), 1);
    assert_eq!(big[0].fatal_rate_ci95, {
        let (a, b) = wilson_interval(2, 3);
        [a, b]
    });
    assert_eq!(s.breakdown(Breakdown::Year, &EventFilter::default(), 1, 2).unwrap().len(), 2);
    let tx =
        s.breakdown(Breakdown::Year, &EventFilter { state: Some("TX".into()), ..Default::default() }, 1, 10).unwrap();
    assert_eq!(tx.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["2011", "2012"]);
}

fn top_findings_and_occurrences(kind) {
    let s = fixture(kind, "top_findings_and_occurrences");
    let f = s.top_findings(&EventFilter::default(), 10).unwrap();
    let got: Vec<(&str, u64, u64)> = f.iter().map(|r| (r.code.as_str(), r.events, r.cited_as_cause)).collect();
    assert_eq!(got, [("F100", 3, 2), ("F200", 1, 0), ("F300", 1, 1)]);
    assert!((f[0].cause_share - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(f[0].description.as_deref(), Some("finding F100"));
    assert_eq!(s.top_findings(&EventFilter::default(), 1).unwrap().len(), 1);
    let ca = s.top_findings(&EventFilter { state: Some("CA".into()), ..Default::default() }, 10).unwrap();
    assert_eq!((ca[0].code.as_str(), ca[0].events, ca[0].cited_as_cause), ("F100", 2, 1));
    let o = s.top_occurrences(&EventFilter::default(), 10).unwrap();
    let got: Vec<(&str, u64, u64)> = o.iter().map(|r| (r.code.as_str(), r.events, r.defining)).collect();
    assert_eq!(got, [("O1", 3, 1), ("O2", 1, 1)]);
    // The heat map: occurrences by meaning, counted per phase (none recorded here: unknown).
    let heat = s.phase_occurrences(&EventFilter::default(), 10).unwrap();
    let totals: Vec<(&str, u64)> = heat.occurrences.iter().map(|t| (t.occurrence.as_str(), t.events)).collect();
    assert_eq!(totals, [("occurrence O1", 3), ("occurrence O2", 1)]);
    let cells: Vec<(&str, &str, u64)> =
        heat.cells.iter().map(|c| (c.phase.as_str(), c.occurrence.as_str(), c.events)).collect();
    assert_eq!(cells, [("unknown", "occurrence O1", 3), ("unknown", "occurrence O2", 1)]);
    assert_eq!(s.phase_occurrences(&EventFilter::default(), 1).unwrap().occurrences.len(), 1);
    let ca = s.phase_occurrences(&EventFilter { state: Some("CA".into()), ..Default::default() }, 10).unwrap();
    let ca_o1 = ca.occurrences.iter().find(|t| t.occurrence == "occurrence O1").map_or(0, |t| t.events);
    let ca_list = list(&*s, EventFilter { state: Some("CA".into()), ..Default::default() });
    assert!(ca_o1 <= ca_list.len() as u64 && ca_o1 < 3, "the filter applies: {ca:?}");
    let none = s.phase_occurrences(&EventFilter { state: Some("ZZ".into()), ..Default::default() }, 10).unwrap();
    assert_eq!(none, Default::default());
}

fn geo_radius_grid_and_clusters(kind) {
    let s = fixture(kind, "geo_radius_grid_and_clusters");
    let f = EventFilter::default();
    assert_eq!(ids(&s.geo_events(&f, 10).unwrap()), [E4, E3, E2, E1], "only events with coordinates");
    assert_eq!(s.geo_events(&f, 2).unwrap().len(), 2);
    // Los Angeles to Dallas is about 1,990 km.
    let near = s.radius(&f, DALLAS.0, DALLAS.1, 2_100.0, 10).unwrap();
    let got: Vec<(&str, f64)> = near.iter().map(|(e, d)| (e.ev_id.as_deref().unwrap(), *d)).collect();
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [E3, E4, E1, E2]);
    assert!(got[0].1 < 1e-6);
    assert!((got[1].1 - 26.5).abs() < 1.0, "Dallas to DFW {}", got[1].1);
    assert!((got[2].1 - 1_990.0).abs() < 10.0, "Dallas to Los Angeles {}", got[2].1);
    assert_eq!(s.radius(&f, DALLAS.0, DALLAS.1, 100.0, 10).unwrap().len(), 2);
    assert_eq!(s.radius(&f, DALLAS.0, DALLAS.1, 2_100.0, 1).unwrap().len(), 1);
    let grid = s.grid_density(&f, 1.0).unwrap();
    let cells: Vec<(f64, f64, u64, u64)> = grid.iter().map(|c| (c.lat, c.lon, c.events, c.fatal_events)).collect();
    assert_eq!(cells, [(34.5, -118.5, 2, 1), (32.5, -97.5, 1, 0), (32.5, -96.5, 1, 1)], "busiest first");
    let big = s.grid_density(&f, 10.0).unwrap();
    assert_eq!(big.iter().map(|c| c.events).sum::<u64>(), 4);
    let clusters = s.clusters(&f, 30.0, 2, 10).unwrap();
    assert_eq!(clusters.len(), 2);
    for c in &clusters {
        assert_eq!(c.events, 2);
        assert_eq!(c.fatal_events, 1);
        assert!(c.radius_km < 15.0, "{c:?}");
    }
    let la = clusters.iter().find(|c| c.ev_ids.contains(&E1.to_string())).expect("LA cluster");
    assert!(la.ev_ids.contains(&E2.to_string()));
    assert!(haversine_km(la.lat, la.lon, LA.0, LA.1) < 10.0);
    assert!(s.clusters(&f, 30.0, 3, 10).unwrap().is_empty(), "no point has three neighbours");
    assert!(
        matches!(s.clusters(&f, 2_000.0, 4, 10), Err(Error::InvalidQuery { parameter, .. }) if parameter == "eps_km")
    );
}

fn export_streams_every_filtered_event_in_date_order(kind) {
    let s = fixture(kind, "export_streams_every_filtered_event_in_date_order");
    let mut got = Vec::new();
    let n = s
        .export_events(&EventFilter { state: Some("TX".into()), ..Default::default() }, &mut |e| {
            got.push(e.ev_id.clone().unwrap());
            Ok(())
        })
        .unwrap();
    assert_eq!((n, got), (2, vec![E3.to_string(), E4.to_string()]));
    let mut all = Vec::new();
    assert_eq!(
        s.export_events(&EventFilter::default(), &mut |e| {
            all.push(e.ev_id.clone().unwrap());
            Ok(())
        })
        .unwrap(),
        5
    );
    assert_eq!(all, [E5, E1, E2, E3, E4]);
    // A failing sink stops the export with its error.
    let mut calls = 0;
    let err = s
        .export_events(&EventFilter::default(), &mut |_| {
            calls += 1;
            Err(Error::NotFound("client went away".into()))
        })
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)) && calls == 1);
}

/// Loads the real AviationData export and cross-checks statistics against listings.
fn real_aviation_data_statistics_agree_with_listings(kind) {
    let Some(shared) = ntsb_test_support::shared_data("real_aviation_data_statistics_agree_with_listings") else {
        return;
    };
    let path = shared.join("ntsb/aviationdata/AviationData_20170328.csv");
    let s = kind.store("real_aviation_data_statistics_agree_with_listings");
    let load = s
        .begin_load(&LoadSource {
            path: path.display().to_string(),
            format: "aviation-data".into(),
            checksum: "-".into(),
            bytes: 0,
        })
        .unwrap();
    let detected = ntsb_ingest::Detected { path: path.clone(), format: ntsb_ingest::Format::AviationData };
    let stream = ntsb_ingest::open(&detected).unwrap();
    let kind = stream.kind();
    let mut batch = Vec::new();
    for item in stream {
        if let ntsb_ingest::Item::Record(r) = item.unwrap() {
            batch.push(r);
            if batch.len() == 10_000 {
                s.write_batch(load, kind, "AviationData_20170328.csv", std::mem::take(&mut batch)).unwrap();
            }
        }
    }
    s.write_batch(load, kind, "AviationData_20170328.csv", batch).unwrap();

    let all = s.summary(&EventFilter::default()).unwrap();
    assert_eq!(all.events, 78_405);
    assert_eq!(all.fatalities, 43_969, "per-event sum; 45,743 would count multi-aircraft events twice");
    let years = s.breakdown(Breakdown::Year, &EventFilter::default(), 0, 1000).unwrap();
    assert_eq!(years.iter().map(|r| r.events).sum::<u64>(), all.events);
    assert_eq!(years.iter().map(|r| r.fatalities).sum::<u64>(), all.fatalities);
    let y2010 = years.iter().find(|r| r.key == "2010").expect("2010");
    let listed = s
        .list_events(&EventQuery {
            filter: EventFilter { year: Some(2010), ..Default::default() },
            limit: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed.total, y2010.events);
    let summary_2010 = s.summary(&EventFilter { year: Some(2010), ..Default::default() }).unwrap();
    assert_eq!((summary_2010.fatal_events, summary_2010.fatalities), (y2010.fatal_events, y2010.fatalities));
}
}

/// Timing over a fully loaded store: `NTSB_QUERY_DB=/tmp/q-data/ntsb.sqlite cargo test --release -p ntsb-store
/// --test queries -- --ignored --nocapture` (a `postgres://` URL works too). Prints p50/p99 per query; asserts nothing about time.
#[test]
#[ignore = "needs a loaded store in NTSB_QUERY_DB; run by hand"]
fn bench_queries_on_a_loaded_store() {
    let Some(db) = std::env::var_os("NTSB_QUERY_DB") else {
        eprintln!("SKIPPED: set NTSB_QUERY_DB to a loaded store");
        return;
    };
    let db = db.to_string_lossy();
    let store = ntsb_store::open(&db).unwrap();
    store.migrate().unwrap();
    let s = store.as_ref();
    let some_ids: Vec<String> = s
        .list_events(&EventQuery { limit: 200, ..Default::default() })
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.ev_id)
        .collect();
    let all = EventFilter::default;
    let ca = || EventFilter { state: Some("CA".into()), ..Default::default() };
    let fatal_cessna =
        || EventFilter { make: Some("CESSNA".into()), highest_injury: Some(InjuryLevel::Fatal), ..Default::default() };
    let mut i = 0usize;
    type Case<'a> = (&'a str, Box<dyn FnMut() -> usize + 'a>);
    let mut cases: Vec<Case<'_>> = vec![
        (
            "event_detail",
            Box::new(|| {
                i += 1;
                s.event_detail(&some_ids[i % some_ids.len()]).unwrap().map_or(0, |d| d.aircraft.len())
            }),
        ),
        ("list all p1", Box::new(|| s.list_events(&EventQuery::default()).unwrap().items.len())),
        (
            "list CA",
            Box::new(|| s.list_events(&EventQuery { filter: ca(), ..Default::default() }).unwrap().items.len()),
        ),
        (
            "list year 2010",
            Box::new(|| {
                s.list_events(&EventQuery { filter: EventFilter { year: Some(2010), ..all() }, ..Default::default() })
                    .unwrap()
                    .items
                    .len()
            }),
        ),
        (
            "list fatal cessna",
            Box::new(|| {
                s.list_events(&EventQuery { filter: fatal_cessna(), ..Default::default() }).unwrap().items.len()
            }),
        ),
        (
            "list has_narrative",
            Box::new(|| {
                s.list_events(&EventQuery {
                    filter: EventFilter { has_narrative: Some(true), ..all() },
                    ..Default::default()
                })
                .unwrap()
                .items
                .len()
            }),
        ),
        (
            "list by fatalities",
            Box::new(|| {
                s.list_events(&EventQuery {
                    sort: Sort { field: SortField::Fatalities, descending: true },
                    ..Default::default()
                })
                .unwrap()
                .items
                .len()
            }),
        ),
        (
            "list by make",
            Box::new(|| {
                s.list_events(&EventQuery {
                    sort: Sort { field: SortField::Make, descending: false },
                    ..Default::default()
                })
                .unwrap()
                .items
                .len()
            }),
        ),
        ("summary all", Box::new(|| s.summary(&all()).unwrap().events as usize)),
        ("summary CA", Box::new(|| s.summary(&ca()).unwrap().events as usize)),
        ("summary fatal cessna", Box::new(|| s.summary(&fatal_cessna()).unwrap().events as usize)),
    ];
    for by in Breakdown::ALL {
        cases.push((
            Box::leak(format!("breakdown {by:?}").into_boxed_str()),
            Box::new(move || s.breakdown(*by, &all(), 1, 100).unwrap().len()),
        ));
    }
    cases.push(("breakdown Year CA", Box::new(|| s.breakdown(Breakdown::Year, &ca(), 1, 100).unwrap().len())));
    cases.push(("top_findings", Box::new(|| s.top_findings(&all(), 20).unwrap().len())));
    cases.push(("top_occurrences", Box::new(|| s.top_occurrences(&all(), 20).unwrap().len())));
    cases.push(("geo_events 1000", Box::new(|| s.geo_events(&all(), 1000).unwrap().len())));
    cases.push(("radius 50km LA", Box::new(|| s.radius(&all(), LA.0, LA.1, 50.0, 100).unwrap().len())));
    cases.push(("grid 1deg", Box::new(|| s.grid_density(&all(), 1.0).unwrap().len())));
    cases.push(("clusters CA 10km", Box::new(|| s.clusters(&ca(), 10.0, 5, 50).unwrap().len())));
    cases.push(("clusters all 25km", Box::new(|| s.clusters(&all(), 25.0, 10, 50).unwrap().len())));
    cases.push(("export all", Box::new(|| s.export_events(&all(), &mut |_| Ok(())).unwrap() as usize)));
    for (name, run) in &mut cases {
        let n = if name.starts_with("export") || name.starts_with("clusters all") { 5 } else { 40 };
        let mut times = Vec::with_capacity(n);
        let mut out = 0;
        for _ in 0..n {
            let t = std::time::Instant::now();
            out = run();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        eprintln!("{name:<24} p50 {:>8.2} ms  p99 {:>8.2} ms  ({out} rows)", p(0.5), p(0.99));
    }
}
