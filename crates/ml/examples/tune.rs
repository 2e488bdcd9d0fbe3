//! Honest model selection: compares settings of a model on a validation split that
//! never touches the issue's test years.
//!
//! Only events up to `--until` (default 2013-12-31, the end of the time split's
//! training years) are read; of those, the model is trained up to `--valid-from`
//! minus one day (default 2010-12-31) and scored on the rest (2011–2013). A
//! stratified 80/20 split of the same pre-2014 events is reported too. Settings
//! are chosen here; the test years (2014–2017) are scored once, by
//! `ntsb ml evaluate`, with the chosen settings.
//!
//! ```sh
//! cargo run --release -p ntsb-ml --example tune -- STORE.sqlite risk
//! ```
//!
//! `TUNE_ROLLING=1` validates instead on three rolling origins inside the
//! training years (train up to 2004, 2007, 2010; validate on the next three
//! years each) and scans the decision threshold; `TUNE_ONLY="a;b"` keeps the
//! named settings. `TUNE_FEATURES="+model_family;+model_family,-model"` compares
//! feature sets too: each `;`-separated entry adds (`+name`) or drops (`-name`)
//! features of the model's own list, or replaces one in place (`old=new`, so
//! that feature sampling sees the same order), and every setting is run on each
//! set (the model's own list first). `TUNE_SEEDS=N` (rolling only) averages every fold
//! over N seeds (42, 43, …), so that a difference between settings is not the
//! luck of one seed's feature sampling and hold-out.

use chrono::NaiveDate;
use ntsb_ml::pipeline::{self, ClassWeight, HoldOut, Options};
use ntsb_ml::{Dataset, Feature, ModelKind};
use ntsb_store::sqlite::SqliteStore;
use ntsb_store::{TrainingData, TrainingFilter};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(db), Some(model)) = (args.get(1), args.get(2).and_then(|m| ModelKind::parse(m))) else {
        eprintln!("usage: tune STORE.sqlite fatal|risk|severity [UNTIL] [VALID_UNTIL]");
        std::process::exit(2);
    };
    let date = |i: usize, default: &str| {
        NaiveDate::parse_from_str(args.get(i).map_or(default, String::as_str), "%Y-%m-%d").expect("a date YYYY-MM-DD")
    };
    let until = date(3, "2013-12-31");
    let valid_until = date(4, "2010-12-31");
    let store = SqliteStore::open(std::path::Path::new(db)).expect("opening the store");
    let rows = store.training_rows(&TrainingFilter { accidents_only: true }).expect("reading training rows");
    let sets = feature_sets(model);
    // The grid varies the generic defaults (as `fatal` and `severity` use them);
    // "shipped" is what `Options::for_model` ships for this model.
    let shipped = Options::for_model(model, 42);
    let base = Options {
        params: ntsb_ml::gbdt::Params { seed: 42, ..Default::default() },
        decision_threshold: 0.5,
        ..shipped.clone()
    };

    let mut grid: Vec<(String, Options)> = vec![("defaults".into(), base.clone()), ("shipped".into(), shipped)];
    let edits = edits();
    let edit = |name: &str| edits.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no edit {name:?}")).1;
    // Each change on its own, then the combinations.
    for names in edits.iter().map(|(n, _)| vec![*n]).chain(COMBINATIONS.iter().map(|c| c.to_vec())) {
        let mut o = base.clone();
        for name in &names {
            edit(name)(&mut o);
        }
        grid.push((names.join(", "), o));
    }
    if let Some(only) = std::env::var("TUNE_ONLY").ok().filter(|s| !s.is_empty()) {
        grid.retain(|(name, _)| only.split(';').any(|o| o.trim() == name));
    }
    for (label, features) in sets {
        let ds = Dataset::from_rows_with(model, &features, &rows, Some(until));
        eprintln!("{}: {} events up to {until}; validation split at {valid_until}", model.name(), ds.len());
        println!("## features: {label}");
        if std::env::var_os("TUNE_ROLLING").is_some() {
            rolling(&ds, &grid);
        } else {
            single_split(&ds, &grid, valid_until);
        }
    }
}

/// One change to the defaults, by name.
type Edit = (&'static str, fn(&mut Options));

/// Settings that apply several of the changes above (named by joining theirs).
const COMBINATIONS: &[&[&str]] = &[
    &["leaves 31", "min child 50"],
    &["leaves 15", "features 0.6"],
    &["leaves 15", "min child 50"],
    &["features 0.6", "min child 50"],
    &["leaves 15", "features 0.6", "min child 50"],
    &["refit on all rows", "min child 50"],
    &["refit on all rows", "lr 0.03"],
    &["hold out latest", "leaves 31"],
    &["hold out latest", "min child 50"],
];

/// What each change does; each is also a setting of its own, in this order.
fn edits() -> Vec<Edit> {
    vec![
        ("leaves 31", |o| o.params.max_leaves = 31),
        ("leaves 15", |o| o.params.max_leaves = 15),
        ("min child 50", |o| o.params.min_child_samples = 50),
        ("min child 100", |o| o.params.min_child_samples = 100),
        ("lambda 5", |o| o.params.lambda = 5.0),
        ("lr 0.03", |o| o.params.learning_rate = 0.03),
        ("features 0.6", |o| o.params.feature_fraction = 0.6),
        ("cat smooth 30, min per cat 50", |o| {
            o.params.cat_smooth = 30.0;
            o.params.min_data_per_category = 50;
        }),
        ("cat l2 30", |o| o.params.cat_l2 = 30.0),
        ("class weight sqrt", |o| o.class_weight = ClassWeight::Sqrt),
        ("refit on all rows", |o| o.refit_all = true),
        ("recency half-life 5 y", |o| o.recency_half_life = Some(5.0)),
        ("recency half-life 10 y", |o| o.recency_half_life = Some(10.0)),
        ("recency half-life 20 y", |o| o.recency_half_life = Some(20.0)),
        ("recency half-life 40 y", |o| o.recency_half_life = Some(40.0)),
        ("hold out latest", |o| o.hold_out = HoldOut::Latest),
    ]
}

/// The feature sets to compare: the model's own, then each `TUNE_FEATURES` entry.
fn feature_sets(model: ModelKind) -> Vec<(String, Vec<Feature>)> {
    let mut sets = vec![("shipped".to_string(), model.features().to_vec())];
    let spec = std::env::var("TUNE_FEATURES").unwrap_or_default();
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut features = model.features().to_vec();
        for edit in entry.split(',').map(str::trim) {
            if let Some((old, new)) = edit.split_once('=') {
                let parse =
                    |name: &str| Feature::parse(name).unwrap_or_else(|| panic!("TUNE_FEATURES: no feature {name:?}"));
                let (old, new) = (parse(old), parse(new));
                let at = features.iter().position(|f| *f == old);
                let at = at.unwrap_or_else(|| panic!("TUNE_FEATURES: {old:?} is not in the model's list"));
                features[at] = new;
                continue;
            }
            let (add, name) = match edit.split_at_checked(1) {
                Some(("+", name)) => (true, name),
                Some(("-", name)) => (false, name),
                _ => panic!("TUNE_FEATURES: {edit:?} is neither +name nor -name"),
            };
            let feature = Feature::parse(name).unwrap_or_else(|| panic!("TUNE_FEATURES: no feature {name:?}"));
            features.retain(|f| *f != feature);
            if add {
                features.push(feature);
            }
        }
        sets.push((entry.to_string(), features));
    }
    sets
}

/// Train up to `valid_until`, score the rest of the data set; and a stratified split.
fn single_split(ds: &Dataset, grid: &[(String, Options)], valid_until: NaiveDate) {
    let model = ds.kind;
    println!("{:<32} {:>8} {:>8} {:>8} {:>8} {:>7}", "settings", "v acc", "v auc", "s acc", "s auc", "rounds");
    for (name, opts) in grid {
        let e = pipeline::evaluate(ds, opts, Some(valid_until), 0).expect("evaluating");
        let t = e.time.expect("a time split");
        let m = |m: &ntsb_ml::metrics::Metrics, k: &str| m.get(k).copied().unwrap_or(f64::NAN);
        let auc = if model.is_binary() { "roc_auc" } else { "macro_f1" };
        println!(
            "{name:<32} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>7}",
            m(&t.gbdt, "accuracy"),
            m(&t.gbdt, auc),
            m(&e.stratified.gbdt, "accuracy"),
            m(&e.stratified.gbdt, auc),
            t.rounds
        );
    }
}

/// Rolling-origin validation inside the training years only: for each origin,
/// fit on the events up to it and score the next three years. Prints, per
/// setting, the mean ROC-AUC over the folds and the mean accuracy at each
/// decision threshold; the threshold itself is part of what is chosen.
fn rolling(ds: &Dataset, grid: &[(String, Options)]) {
    if !ds.kind.is_binary() {
        return rolling_multiclass(ds, grid);
    }
    let thresholds: Vec<f64> = (0..=12).map(|i| 0.40 + 0.025 * i as f64).collect();
    print!("{:<32} {:>7}", "settings (3 rolling folds)", "auc");
    for t in &thresholds {
        print!(" {t:>6.3}");
    }
    println!("  best");
    for (name, opts) in grid {
        let fits = rolling_fits(ds, opts);
        let runs = fits.len() as f64;
        let mut acc = vec![0.0; thresholds.len()];
        let mut auc = 0.0;
        for (train, valid, opts) in &fits {
            let m = pipeline::fit(ds, train, opts, false).expect("fitting").model;
            let p: Vec<f64> = valid
                .iter()
                .map(|&i| {
                    let bins = m.encode_values(&ds.raw[i]);
                    m.fatal_probability_of_bins(&bins)
                })
                .collect();
            let y: Vec<usize> = valid.iter().map(|&i| ds.labels[i]).collect();
            auc += ntsb_ml::metrics::binary(&y, &p).get("roc_auc").copied().unwrap_or(f64::NAN) / runs;
            for (k, t) in thresholds.iter().enumerate() {
                let right = y.iter().zip(&p).filter(|(y, p)| (**p >= *t) == (**y == 1)).count();
                acc[k] += right as f64 / y.len() as f64 / runs;
            }
        }
        let best = (0..acc.len()).fold(0, |b, k| if acc[k] > acc[b] { k } else { b });
        print!("{name:<32} {auc:>7.4}");
        for a in &acc {
            print!(" {a:>6.4}");
        }
        println!("  {:.3}", thresholds[best]);
    }
}

/// The fits of [`rolling`]: each origin (train up to the first year, validate on
/// the next three) times `TUNE_SEEDS` seeds, as (training rows, validation rows, options).
fn rolling_fits(ds: &Dataset, opts: &Options) -> Vec<(Vec<usize>, Vec<usize>, Options)> {
    let origins = [(2004, 2007), (2007, 2010), (2010, 2013)];
    let seeds: u64 = std::env::var("TUNE_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let mut fits = Vec::new();
    for (from, to) in origins {
        let end = NaiveDate::from_ymd_opt(from, 12, 31).expect("a date");
        let stop = NaiveDate::from_ymd_opt(to, 12, 31).expect("a date");
        let train: Vec<usize> = (0..ds.len()).filter(|&i| ds.dates[i].is_some_and(|d| d <= end)).collect();
        let valid: Vec<usize> = (0..ds.len()).filter(|&i| ds.dates[i].is_some_and(|d| d > end && d <= stop)).collect();
        for seed in 0..seeds {
            let params = ntsb_ml::gbdt::Params { seed: opts.params.seed + seed, ..opts.params.clone() };
            fits.push((train.clone(), valid.clone(), Options { params, ..opts.clone() }));
        }
    }
    fits
}

/// [`rolling`] for `severity`: mean accuracy, macro-F1 and macro one-vs-rest
/// ROC-AUC of the most probable class (no threshold to scan).
fn rolling_multiclass(ds: &Dataset, grid: &[(String, Options)]) {
    let n_classes = ds.kind.classes().len();
    println!("{:<32} {:>8} {:>8} {:>8}", "settings (3 rolling folds)", "acc", "macro-f1", "auc");
    for (name, opts) in grid {
        let fits = rolling_fits(ds, opts);
        let runs = fits.len() as f64;
        let (mut acc, mut f1, mut auc) = (0.0, 0.0, 0.0);
        for (train, valid, opts) in &fits {
            let m = pipeline::fit(ds, train, opts, false).expect("fitting").model;
            let mut raw = vec![0.0; n_classes];
            let probs: Vec<Vec<f64>> = valid
                .iter()
                .map(|&i| {
                    let bins = m.encode_values(&ds.raw[i]);
                    m.probabilities_of_bins(&bins, &mut raw)
                })
                .collect();
            let y: Vec<usize> = valid.iter().map(|&i| ds.labels[i]).collect();
            let metrics = ntsb_ml::metrics::multiclass(&y, &probs, n_classes, n_classes - 1);
            let get = |k: &str| metrics.get(k).copied().unwrap_or(f64::NAN) / runs;
            acc += get("accuracy");
            f1 += get("macro_f1");
            auc += get("roc_auc");
        }
        println!("{name:<32} {acc:>8.4} {f1:>8.4} {auc:>8.4}");
    }
}
