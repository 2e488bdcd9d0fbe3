//! Where the projection's time goes, per statistic, on a real store: builds the
//! projection of a SQLite store and answers random filter combinations (those
//! of `bench/analytics.sh`), printing the time per answer (the
//! least of three runs of each, so that other load on the machine counts less).
//!
//! `cargo run --release -p ntsb-analytics --example profile -- target/bench-api/ntsb.sqlite [ROUNDS]`

use std::sync::Arc;

use ntsb_analytics::Analytics;
use ntsb_model::query::{Breakdown, EventFilter, EventQuery, Sort, SortField};
use ntsb_model::vocab::{EventType, InjuryLevel, Phase, Weather};

/// Nanoseconds since the first call.
fn cpu_ns() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn chance(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize].clone()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: profile STORE.sqlite [ROUNDS]");
    let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(300);
    let store = Arc::new(ntsb_store::sqlite::SqliteStore::open(std::path::Path::new(path)).expect("open"));
    let engine = Analytics::new(store.clone(), store);
    let t = cpu_ns();
    engine.build().expect("build");
    let s = engine.status();
    println!("build: {} events, {:.2} s, {} MiB", s.events, (cpu_ns() - t) as f64 / 1e9, s.bytes >> 20);

    let everything = EventFilter::default();
    let states: Vec<String> = engine
        .breakdown(Breakdown::State, &everything, 1, 40)
        .expect("ready")
        .expect("states")
        .into_iter()
        .map(|r| r.key)
        .collect();
    let makes: Vec<String> = engine
        .breakdown(Breakdown::Make, &everything, 1, 40)
        .expect("ready")
        .expect("makes")
        .into_iter()
        .map(|r| r.key)
        .collect();
    let parts: Vec<String> = engine
        .breakdown(Breakdown::FarPart, &everything, 1, 12)
        .expect("ready")
        .expect("parts")
        .into_iter()
        .map(|r| r.key)
        .collect();
    let mut rng = Rng(25);
    let filters: Vec<EventFilter> = (0..rounds)
        .map(|_| {
            let mut f = EventFilter::default();
            if rng.chance(35) {
                f.state = Some(rng.pick(&states));
            }
            if rng.chance(35) {
                let (a, b) = (1982 + (rng.next() % 40) as i32, 1982 + (rng.next() % 40) as i32);
                f.from = chrono::NaiveDate::from_ymd_opt(a.min(b), 1, 1);
                f.to = chrono::NaiveDate::from_ymd_opt(a.max(b), 12, 31);
            }
            if rng.chance(25) {
                f.highest_injury =
                    Some(rng.pick(&[InjuryLevel::Fatal, InjuryLevel::Serious, InjuryLevel::Minor, InjuryLevel::None]));
            }
            if rng.chance(25) {
                f.make = Some(rng.pick(&makes));
            }
            if rng.chance(25) {
                f.phase = Some(rng.pick(&[Phase::Takeoff, Phase::Cruise, Phase::Approach, Phase::Landing]));
            }
            if rng.chance(25) {
                f.weather = Some(rng.pick(&[Weather::Vmc, Weather::Imc]));
            }
            if rng.chance(25) {
                f.far_part = Some(rng.pick(&parts));
            }
            if rng.chance(25) {
                f.event_type = Some(rng.pick(&[EventType::Accident, EventType::Incident]));
            }
            f
        })
        .collect();

    let report = |name: &str, mut times: Vec<u64>, bytes: usize| {
        times.sort_unstable();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)] as f64 / 1e3;
        let mean = times.iter().sum::<u64>() as f64 / times.len() as f64 / 1e3;
        println!(
            "{name:<24} mean {mean:8.1} µs  p50 {:8.1}  p99 {:8.1}  max {:8.1}  json {:>7} B/answer",
            at(0.5),
            at(0.99),
            at(1.0),
            bytes / times.len()
        );
    };
    let time = |f: &dyn Fn(&EventFilter) -> usize| -> (Vec<u64>, usize) {
        let mut bytes = 0;
        let times = filters
            .iter()
            .map(|filter| {
                (0..3)
                    .map(|i| {
                        let t = cpu_ns();
                        let n = f(filter);
                        if i == 0 {
                            bytes += n;
                        }
                        cpu_ns() - t
                    })
                    .min()
                    .unwrap_or(0)
            })
            .collect();
        (times, bytes)
    };
    let (t, b) = time(&|f| engine.total(f).expect("ready").expect("total") as usize);
    report("filter (total)", t, b);
    let (t, b) = time(&|f| serde_json::to_vec(&engine.summary(f).expect("ready").expect("summary")).unwrap().len());
    report("summary", t, b);
    for by in [Breakdown::Year, Breakdown::State, Breakdown::Make, Breakdown::MakeModel, Breakdown::FarPart] {
        let (t, b) = time(&|f| engine.breakdown(by, f, 1, 10_000).expect("ready").expect("rows").len());
        report(&format!("{by:?} (rows)"), t, b);
        let (t, b) = time(&|f| {
            serde_json::to_vec(&engine.breakdown(by, f, 1, 10_000).expect("ready").expect("rows")).unwrap().len()
        });
        report(&format!("{by:?} (+json)"), t, b);
    }
    let (t, b) = time(&|f| serde_json::to_vec(&engine.top_findings(f, 50).expect("ready").expect("f")).unwrap().len());
    report("findings 50", t, b);
    let (t, b) =
        time(&|f| serde_json::to_vec(&engine.top_occurrences(f, 50).expect("ready").expect("o")).unwrap().len());
    report("occurrences 50", t, b);
    for sort in [SortField::Date, SortField::Make] {
        let (t, b) = time(&|f| {
            let q = EventQuery {
                filter: f.clone(),
                sort: Sort { field: sort, descending: true },
                limit: 100,
                cursor: None,
            };
            engine.page(&q).expect("ready").expect("page").ids.len()
        });
        report(&format!("page 100 by {sort:?}"), t, b);
    }
}
