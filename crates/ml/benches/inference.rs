//! In-process inference speed: predictions per second of a `fatal`-shaped model
//! (the shipped settings) trained on synthetic rows, from encoded bins (the hot
//! path), from raw facts, by walking the trained trees (the layout before the
//! flattened forest), the attributions alone (from bins), and with explanations
//! (what the API does). Besides criterion's wall-clock figures it prints
//! predictions per CPU-second of the benchmark thread, which stays meaningful on
//! a machine shared with other work.
//!
//! Run with `cargo bench -p ntsb-ml --bench inference`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ntsb_ml::pipeline::{self, Options};
use ntsb_ml::{Dataset, Facts, ModelKind};
use ntsb_store::TrainingRow;

/// Synthetic accidents with a learnable outcome (no real data in benches).
fn rows(n: usize) -> Vec<TrainingRow> {
    let makes = ["CESSNA", "PIPER", "BEECH", "ROBINSON", "MOONEY", "BELL", "BOEING", "CIRRUS"];
    let phases = ["takeoff", "climb", "cruise", "approach", "landing", "maneuvering", "taxi"];
    let damages = ["destroyed", "substantial", "minor"];
    let mut x: u64 = 12345;
    let mut next = move |m: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % m
    };
    (0..n)
        .map(|i| {
            let damage = damages[next(3) as usize];
            let phase = phases[next(7) as usize];
            let imc = next(6) == 0;
            let risk = (damage == "destroyed") as u64 * 5 + imc as u64 * 2 + (phase == "maneuvering") as u64 * 2;
            let fatal = next(10) < risk;
            TrainingRow {
                ev_id: format!("2000{i:06}X0"),
                event_type: Some("accident".into()),
                event_date: Some(format!("{}-{:02}-{:02}", 1982 + next(35), 1 + next(12), 1 + next(28))),
                state: Some(format!("S{}", next(50))),
                latitude: (next(3) == 0).then(|| 25.0 + next(25) as f64),
                longitude: (next(3) == 0).then(|| -120.0 + next(50) as f64),
                weather: Some(if imc { "IMC" } else { "VMC" }.into()),
                phase: Some(phase.into()),
                make: Some(makes[next(8) as usize].into()),
                model: Some(format!("M{}", next(300))),
                num_engines: Some(1 + next(2) as i64),
                purpose: Some(["Personal", "Instructional", "Business"][next(3) as usize].into()),
                damage: Some(damage.into()),
                aircraft_count: 1,
                inj_fatal: Some(fatal as i64),
                highest_injury: Some(if fatal { "fatal" } else { "none" }.into()),
                ..TrainingRow::default()
            }
        })
        .collect()
}

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`), so a figure
/// per core can be given on a machine shared with other work.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// Runs `f` (which scores `n` events) for about two seconds; prints predictions
/// per second of wall time and per second of this thread's CPU time.
fn per_core(label: &str, n: usize, mut f: impl FnMut() -> f64) {
    let (wall, cpu) = (std::time::Instant::now(), thread_cpu_ns());
    let mut done = 0usize;
    let mut sink = 0.0;
    while wall.elapsed().as_secs_f64() < 2.0 {
        sink += f();
        done += n;
    }
    let secs = wall.elapsed().as_secs_f64();
    let cpu_secs = match (cpu, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e9),
        _ => None,
    };
    let per_cpu = cpu_secs.map_or_else(|| "n/a".to_string(), |c| format!("{:.0}", done as f64 / c));
    eprintln!(
        "{label}: {:.0} predictions/s wall, {per_cpu} per CPU-second ({:.2} µs each on CPU) [{sink:.1}]",
        done as f64 / secs,
        cpu_secs.map_or(f64::NAN, |c| c * 1e6 / done as f64),
    );
}

fn inference(c: &mut Criterion) {
    let rows = rows(30_000);
    let ds = Dataset::from_rows(ModelKind::Fatal, &rows, None);
    let model =
        pipeline::fit(&ds, &(0..ds.len()).collect::<Vec<_>>(), &Options::for_model(ModelKind::Fatal, 42), false)
            .expect("training the bench model")
            .model;
    let facts: Vec<Facts> = rows.iter().take(1000).map(Facts::from).collect();
    let bins: Vec<Vec<u8>> = facts.iter().map(|f| model.encode(f).0).collect();
    let nodes: usize = model.booster.trees.iter().map(|t| t.nodes.len()).sum();
    eprintln!("bench model: {} trees, {nodes} nodes", model.booster.trees.len());
    per_core("per core, from bins", bins.len(), || bins.iter().map(|x| model.fatal_probability_of_bins(x)).sum());
    per_core("per core, from facts", facts.len(), || facts.iter().map(|f| model.fatal_probability(f)).sum());
    per_core("per core, walking the trained trees (before)", bins.len(), || {
        let mut raw = [0.0];
        bins.iter()
            .map(|x| {
                model.booster.raw_by_walking(x, &mut raw);
                raw[0]
            })
            .sum()
    });
    per_core("per core, attributions from bins", bins.len(), || {
        bins.iter().map(|x| model.booster.explain(x).0[0]).sum()
    });
    per_core("per core, with explanation", facts.len(), || facts.iter().map(|f| model.predict(f).raw_score).sum());
    let mut group = c.benchmark_group("fatal");
    group.throughput(Throughput::Elements(bins.len() as u64));
    group.bench_function("probability_from_bins_x1000", |b| {
        b.iter(|| bins.iter().map(|x| model.fatal_probability_of_bins(x)).sum::<f64>())
    });
    group.bench_function("probability_from_facts_x1000", |b| {
        b.iter(|| facts.iter().map(|f| model.fatal_probability(f)).sum::<f64>())
    });
    group.bench_function("walking_trained_trees_x1000", |b| {
        b.iter(|| {
            let mut raw = [0.0];
            bins.iter()
                .map(|x| {
                    model.booster.raw_by_walking(x, &mut raw);
                    raw[0]
                })
                .sum::<f64>()
        })
    });
    group.bench_function("predict_with_explanation_x1000", |b| {
        b.iter(|| facts.iter().map(|f| model.predict(f).raw_score).sum::<f64>())
    });
    group.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
