//! In-process inference speed: predictions per second of a `fatal`-shaped model
//! (the shipped settings) trained on synthetic rows, from encoded bins (the hot
//! path) and from raw facts with explanations (what the API does).
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

fn inference(c: &mut Criterion) {
    let rows = rows(30_000);
    let ds = Dataset::from_rows(ModelKind::Fatal, &rows, None);
    let model =
        pipeline::fit(&ds, &(0..ds.len()).collect::<Vec<_>>(), &Options::for_model(ModelKind::Fatal, 42), false)
            .expect("training the bench model")
            .model;
    let facts: Vec<Facts> = rows.iter().take(1000).map(Facts::from).collect();
    let bins: Vec<Vec<u8>> = facts.iter().map(|f| model.encode(f).0).collect();
    eprintln!("bench model: {} trees", model.booster.trees.len());
    let mut group = c.benchmark_group("fatal");
    group.throughput(Throughput::Elements(bins.len() as u64));
    group.bench_function("probability_from_bins_x1000", |b| {
        b.iter(|| bins.iter().map(|x| model.fatal_probability_of_bins(x)).sum::<f64>())
    });
    group.bench_function("probability_from_facts_x1000", |b| {
        b.iter(|| facts.iter().map(|f| model.fatal_probability_of_bins(&model.encode(f).0)).sum::<f64>())
    });
    group.bench_function("predict_with_explanation_x1000", |b| {
        b.iter(|| facts.iter().map(|f| model.predict(f).raw_score).sum::<f64>())
    });
    group.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
