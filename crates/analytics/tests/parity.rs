//! The projection answers exactly what the store answers: after every kind of
//! write (a first load, revisions of event and aircraft values, added
//! aircraft, narratives, findings and occurrences, a CAROL placeholder created
//! and then merged into its event, i.e. deleted), every breakdown, the
//! summary, top findings and occurrences and the listing total are compared
//! with the SQL answer for hundreds of random filter combinations, on SQLite
//! and on PostgreSQL.

use std::sync::Arc;

use ntsb_analytics::Analytics;
use ntsb_model::SourceKind;
use ntsb_model::query::{BBox, Breakdown, EventFilter, EventQuery, Sort, SortField};
use ntsb_model::records::{
    AircraftRecord, EventRecord, EventRef, FindingRecord, NarrativeRecord, OccurrenceRecord, Record, SourcedRecord,
};
use ntsb_model::vocab::{Damage, EventType, InjuryLevel, Phase, Weather};
use ntsb_store::postgres::{PostgresConfig, PostgresStore};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{Backend, EventFacts, LoadSource};

/// splitmix64, so a failure names a seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { Some(&items[self.below(items.len())]) }
    }
}

fn write(store: &dyn Backend, name: &str, kind: SourceKind, records: Vec<Record>) {
    let load = store
        .begin_load(&LoadSource { path: name.into(), format: "test".into(), checksum: name.into(), bytes: 1 })
        .expect("begin");
    for chunk in records.chunks(5_000) {
        let sourced = chunk.iter().cloned().enumerate().map(|(i, record)| SourcedRecord { line: i as u64 + 2, record });
        store.write_batch(load, kind, name, sourced.collect()).expect("write");
    }
}

/// Values seen in the store, to draw filters from.
struct Seen {
    states: Vec<String>,
    countries: Vec<String>,
    makes: Vec<String>,
    models: Vec<String>,
    far_parts: Vec<String>,
    categories: Vec<String>,
    years: Vec<i32>,
    ids: Vec<i64>,
}

fn seen(facts: &[EventFacts]) -> Seen {
    let mut s = Seen {
        states: vec!["zz".into()],
        countries: vec!["usa".into(), "Nowhere".into()],
        makes: vec!["cessna aircraft co".into(), "NOBODY".into()],
        models: vec!["1".into(), "x".into()],
        far_parts: vec!["91".into(), "Part 135".into()],
        categories: vec!["air".into()],
        years: vec![1989],
        ids: vec![-1, 0, 1_000_000],
    };
    for f in facts {
        s.ids.push(f.id);
        s.states.extend(f.state.clone());
        s.countries.extend(f.country.clone());
        if let Some(y) = f.event_date.as_deref().and_then(|d| d.get(..4)).and_then(|y| y.parse().ok()) {
            s.years.push(y);
        }
        for a in &f.aircraft {
            s.makes.extend(a.make.clone());
            s.far_parts.extend(a.far_part.clone());
            s.categories.extend(a.category.clone());
            if let Some(m) = &a.model {
                s.models.push(m.chars().take(1 + m.len() % 3).collect::<String>().to_lowercase());
            }
        }
    }
    s
}

fn random_filter(rng: &mut Rng, s: &Seen) -> EventFilter {
    let mut f = EventFilter::default();
    let date = |y: i32, m: u32, d: u32| chrono::NaiveDate::from_ymd_opt(y, m, d);
    if rng.chance(25) {
        let y = *rng.pick(&s.years).unwrap_or(&2000);
        f.from = date(y, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32);
    }
    if rng.chance(25) {
        let y = *rng.pick(&s.years).unwrap_or(&2010);
        let to = date(y, if rng.chance(50) { 12 } else { 1 + rng.below(12) as u32 }, 1 + rng.below(28) as u32);
        if f.from.is_none_or(|from| to.is_some_and(|t| t >= from)) {
            f.to = to;
        }
    }
    if rng.chance(15) {
        f.year = rng.pick(&s.years).copied();
    }
    if rng.chance(25) {
        f.state = rng.pick(&s.states).map(|v| if rng.chance(50) { v.to_lowercase() } else { v.clone() });
    }
    if rng.chance(8) {
        f.country = rng.pick(&s.countries).map(|v| v.to_lowercase());
    }
    if rng.chance(20) {
        f.highest_injury = rng.pick(InjuryLevel::ALL).copied();
    }
    if rng.chance(20) {
        f.phase = rng.pick(Phase::ALL).copied();
    }
    if rng.chance(20) {
        f.weather = rng.pick(Weather::ALL).copied();
    }
    if rng.chance(20) {
        f.event_type = rng.pick(EventType::ALL).copied();
    }
    if rng.chance(20) {
        f.make = rng.pick(&s.makes).cloned();
    }
    if rng.chance(12) {
        f.model = rng.pick(&s.models).cloned();
    }
    if rng.chance(15) {
        f.far_part = rng.pick(&s.far_parts).cloned();
    }
    if rng.chance(8) {
        f.category = rng.pick(&s.categories).map(|c| c.to_lowercase());
    }
    if rng.chance(10) {
        f.damage = rng.pick(Damage::ALL).copied();
    }
    if rng.chance(10) {
        f.has_narrative = Some(rng.chance(50));
    }
    if rng.chance(8) {
        let lat = rng.below(60) as f64 + 10.0;
        let lon = -(rng.below(120) as f64) - 60.0;
        f.bbox = Some(BBox { min_lat: lat, max_lat: lat + 8.5, min_lon: lon, max_lon: lon + 12.25 });
    }
    if rng.chance(6) {
        f.event_ids = Some((0..rng.below(40)).filter_map(|_| rng.pick(&s.ids).copied()).collect());
    }
    f
}

/// Compares every answer of the projection with the store's for `rounds` random filters.
fn compare(store: &dyn Backend, engine: &Analytics, rng: &mut Rng, rounds: usize, stage: &str) {
    let facts = store.event_facts(None).expect("facts");
    let s = seen(&facts);
    for round in 0..rounds {
        let f = if round == 0 { EventFilter::default() } else { random_filter(rng, &s) };
        let ctx = || format!("{stage}, round {round}, filter {f:?}");
        let total = store.list_events(&EventQuery { filter: f.clone(), limit: 1, ..Default::default() });
        match (engine.total(&f).expect("ready"), total) {
            (Ok(mine), Ok(sql)) => assert_eq!(mine, sql.total, "total: {}", ctx()),
            (Err(mine), Err(sql)) => {
                assert_eq!(mine.to_string(), sql.to_string(), "{}", ctx());
                continue;
            }
            (mine, sql) => panic!("{}: projection {mine:?}, store {sql:?}", ctx()),
        }
        pages(store, engine, rng, &f, &ctx());
        assert_eq!(
            engine.summary(&f).expect("ready").expect("summary"),
            store.summary(&f).expect("summary"),
            "summary: {}",
            ctx()
        );
        for &by in Breakdown::ALL {
            let min = 1 + rng.below(3) as u64;
            let limit = if rng.chance(70) { 10_000 } else { 1 + rng.below(8) };
            let held =
                !matches!(by, Breakdown::Country | Breakdown::Category | Breakdown::Engines | Breakdown::AmateurBuilt);
            let Some(mine) = engine.breakdown(by, &f, min, limit) else {
                assert!(!held, "{by:?}: no answer from a ready projection: {}", ctx());
                continue;
            };
            assert!(held, "{by:?}: the projection answers a breakdown it holds no column for");
            let mine = mine.expect("breakdown");
            let sql = store.breakdown(by, &f, min, limit).expect("breakdown");
            assert_eq!(mine, sql, "{by:?} min {min} limit {limit}: {}", ctx());
        }
        let limit = 1 + rng.below(60);
        assert_eq!(
            engine.top_findings(&f, limit).expect("ready").expect("findings"),
            store.top_findings(&f, limit).expect("findings"),
            "findings: {}",
            ctx()
        );
        let cell = *rng.pick(&[0.5, 1.0, 2.5, 10.0, 0.01]).expect("cells");
        assert_eq!(
            engine.grid_density(&f, cell).expect("an answer").expect("density"),
            store.grid_density(&f, cell).expect("density"),
            "density, cell {cell}: {}",
            ctx()
        );
        assert!(engine.grid_density(&f, 0.0).is_none(), "a cell the store rejects is the store's to answer");
        assert_eq!(
            engine.top_occurrences(&f, limit).expect("ready").expect("occurrences"),
            store.top_occurrences(&f, limit).expect("occurrences"),
            "occurrences: {}",
            ctx()
        );
    }
}

/// Pages of the listing of `f` in a random sort order, followed by their
/// cursors for a few pages: the projection chooses the same events (read back
/// by id), the same total and the same cursors as the store's SQL listing.
fn pages(store: &dyn Backend, engine: &Analytics, rng: &mut Rng, f: &EventFilter, ctx: &str) {
    let fields = [SortField::Date, SortField::Fatalities, SortField::State, SortField::Make];
    let sort = Sort { field: *rng.pick(&fields).expect("fields"), descending: rng.chance(50) };
    let limit = if rng.chance(20) { 100 } else { 1 + rng.below(25) };
    let mut cursor = None;
    for page in 0..4 {
        let q = EventQuery { filter: f.clone(), sort, limit, cursor: cursor.clone() };
        let sql = store.list_events(&q).expect("list");
        let mine = engine.page(&q).expect("ready").expect("page");
        let items = store.event_summaries(&mine.ids).expect("summaries");
        assert_eq!(mine.total, sql.total, "total, page {page} {sort:?} limit {limit}: {ctx}");
        assert_eq!(items, sql.items, "items, page {page} {sort:?} limit {limit}: {ctx}");
        assert_eq!(mine.next_cursor, sql.next_cursor, "cursor, page {page} {sort:?} limit {limit}: {ctx}");
        cursor = sql.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    // A cursor that is not one, or was made for another sort: the same error.
    let other = Sort { descending: !sort.descending, ..sort };
    let made = store.list_events(&EventQuery { filter: f.clone(), sort: other, limit: 1, cursor: None }).expect("list");
    for bad in [Some("zz".to_string()), made.next_cursor] {
        let q = EventQuery { filter: f.clone(), sort, limit, cursor: bad };
        if q.cursor.is_none() {
            continue;
        }
        let sql = store.list_events(&q).expect_err("a bad cursor");
        let mine = engine.page(&q).expect("ready").expect_err("a bad cursor");
        assert_eq!(mine.to_string(), sql.to_string(), "bad cursor: {ctx}");
    }
}

/// Revisions of a sample of events: new values from a newer file for event
/// fields, a changed and an added aircraft, narratives, findings, occurrences.
fn revisions(rng: &mut Rng, facts: &[EventFacts], ev_ids: &[String]) -> Vec<Record> {
    let mut out = Vec::new();
    let states = ["CA", "TX", "", "AK", "FL"];
    let makes = ["CESSNA", "PIPER", "BOEING", "", "ROBINSON"];
    for (f, ev) in facts.iter().zip(ev_ids) {
        if !rng.chance(30) {
            continue;
        }
        let event = EventRef::EvId(ev.clone());
        let mut e = EventRecord { ev_id: Some(ev.clone()), ..Default::default() };
        match rng.below(6) {
            0 => e.state = Some(states[rng.below(states.len())].to_string()),
            1 => {
                e.event_date =
                    Some(format!("{}-{:02}-{:02}", 1985 + rng.below(40), 1 + rng.below(12), 1 + rng.below(28)))
            }
            2 => {
                e.inj_fatal = Some(rng.below(4) as i64);
                e.highest_injury = Some(if e.inj_fatal > Some(0) { "fatal" } else { "minor" }.into());
            }
            3 => e.phase = Some(Phase::ALL[rng.below(Phase::ALL.len())].as_str().to_string()),
            4 => e.weather = Some(Weather::ALL[rng.below(Weather::ALL.len())].as_str().to_string()),
            _ => {
                e.latitude = Some(20.0 + rng.below(40) as f64 + 0.25);
                e.longitude = Some(-70.0 - rng.below(80) as f64 - 0.5);
                e.event_type = Some(EventType::ALL[rng.below(EventType::ALL.len())].as_str().to_string());
            }
        }
        out.push(Record::Event(e));
        let key = if rng.chance(50) || f.aircraft.is_empty() { f.aircraft.len() as i64 + 1 } else { 1 };
        out.push(Record::Aircraft(AircraftRecord {
            event: event.clone(),
            aircraft_key: key,
            make: Some(makes[rng.below(makes.len())].to_string()),
            model: Some(format!("{}{}", ["172", "PA-28", "737", "R44"][rng.below(4)], rng.below(3))),
            far_part: Some(["091", "121", "135", ""][rng.below(4)].to_string()),
            category: Some(["AIR", "HELI"][rng.below(2)].to_string()),
            damage: Some(Damage::ALL[rng.below(Damage::ALL.len())].as_str().to_string()),
            ..Default::default()
        }));
        if rng.chance(40) {
            out.push(Record::Narrative(NarrativeRecord {
                event: event.clone(),
                aircraft_key: 1,
                probable_cause: Some("The pilot's failure to maintain control.".into()),
                ..Default::default()
            }));
        }
        if rng.chance(40) {
            out.push(Record::Finding(FindingRecord {
                event: event.clone(),
                aircraft_key: 1,
                finding_no: 90 + rng.below(3) as i64,
                finding_code: Some(format!("0{}", 100_000_000 + rng.below(5))),
                finding_description: Some(format!("Test finding {}", rng.below(3))),
                cause_factor: ["cause", "factor"].get(rng.below(3)).map(|s| s.to_string()),
                ..Default::default()
            }));
        }
        if rng.chance(40) {
            out.push(Record::Occurrence(OccurrenceRecord {
                event,
                aircraft_key: 1,
                code_system: "cictt".into(),
                occurrence_no: 90 + rng.below(3) as i64,
                occurrence_code: Some(format!("{}", 500_000 + rng.below(4))),
                occurrence_meaning: Some(format!("Test occurrence {}", rng.below(2))),
                defining_event: Some(rng.chance(50)),
                ..Default::default()
            }));
        }
    }
    out
}

fn run(store: Arc<dyn Backend>, seed: u64) {
    let mut rng = Rng(seed);
    let sample: Vec<Record> = ntsb_ingest::demo::generate(seed, 600).map(|r| r.record).collect();
    write(&*store, "first", SourceKind::Avall, sample);
    let engine = Analytics::new(store.clone(), store.clone());
    assert!(engine.total(&EventFilter::default()).is_none(), "not ready before the first build");
    engine.build().expect("build");
    compare(&*store, &engine, &mut rng, 150, "after the first load");

    // Revisions from newer files, twice, each followed by the change log.
    for round in 0..2 {
        let facts = store.event_facts(None).expect("facts");
        let ev_ids: Vec<String> = facts.iter().map(|f| store.summaries_for_test(f.id)).collect();
        let records = revisions(&mut rng, &facts, &ev_ids);
        assert!(!records.is_empty());
        write(&*store, &format!("revision {round}"), SourceKind::Avall, records);
        let changed = engine.catch_up().expect("catch up");
        assert!(changed > 0);
        compare(&*store, &engine, &mut rng, 120, &format!("after revision {round}"));
    }

    // A CAROL case known only by its number, then merged into its event (the placeholder is deleted).
    let facts = store.event_facts(None).expect("facts");
    let target = store.summaries_for_test(facts[3].id);
    let no = "DEMTEST001";
    let placeholder = EventRecord {
        ntsb_no: Some(no.into()),
        state: Some("WY".into()),
        event_date: Some("2001-07-04".into()),
        ..Default::default()
    };
    write(&*store, "carol", SourceKind::Carol, vec![Record::Event(placeholder)]);
    engine.catch_up().expect("catch up");
    compare(&*store, &engine, &mut rng, 40, "with a placeholder");
    let before = engine.status().events;
    let merge = EventRecord { ev_id: Some(target), ntsb_no: Some(no.into()), ..Default::default() };
    write(&*store, "merge", SourceKind::Avall, vec![Record::Event(merge)]);
    engine.catch_up().expect("catch up");
    assert_eq!(engine.status().events, before - 1, "the placeholder is gone");
    compare(&*store, &engine, &mut rng, 80, "after the merge");

    // A rebuild gives the same answers as the patched projection.
    let patched = engine.position();
    engine.build().expect("rebuild");
    assert_eq!(engine.position(), patched);
    compare(&*store, &engine, &mut rng, 40, "rebuilt");
}

/// The `ev_id` of an event, by its store id (what revisions are written against).
trait EvId {
    fn summaries_for_test(&self, id: i64) -> String;
}

impl EvId for Arc<dyn Backend> {
    fn summaries_for_test(&self, id: i64) -> String {
        let page = self
            .list_events(&EventQuery {
                filter: EventFilter { event_ids: Some(vec![id]), ..Default::default() },
                ..Default::default()
            })
            .expect("list");
        page.items[0].ev_id.clone().expect("ev_id")
    }
}

#[test]
fn the_projection_answers_what_sqlite_answers_after_every_kind_of_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("ntsb.sqlite")).expect("open");
    ntsb_store::Store::migrate(&store).expect("migrate");
    run(Arc::new(store), 11);
}

#[test]
fn the_projection_answers_what_postgres_answers_after_every_kind_of_write() {
    let Some(url) = ntsb_test_support::postgres_url("analytics parity on PostgreSQL") else { return };
    let schema = format!("analytics_parity_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).expect("schema");
    let mut config = PostgresConfig::new(&url);
    config.schema = Some(schema.clone());
    let store = PostgresStore::connect(config).expect("connect store");
    ntsb_store::Store::migrate(&store).expect("migrate");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(Arc::new(store), 12)));
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).expect("drop");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
