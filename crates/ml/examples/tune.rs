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

use chrono::NaiveDate;
use ntsb_ml::pipeline::{self, ClassWeight, HoldOut, Options};
use ntsb_ml::{Dataset, ModelKind};
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
    let ds = Dataset::from_rows(model, &rows, Some(until));
    eprintln!("{}: {} events up to {until}; validation split at {valid_until}", model.name(), ds.len());
    let base = Options::for_model(model, 42);
    let mut grid: Vec<(String, Options)> = vec![("shipped".into(), base.clone())];
    let mut add = |name: &str, f: &dyn Fn(&mut Options)| {
        let mut o = base.clone();
        f(&mut o);
        grid.push((name.to_string(), o));
    };
    add("leaves 31", &|o| o.params.max_leaves = 31);
    add("leaves 15", &|o| o.params.max_leaves = 15);
    add("min child 50", &|o| o.params.min_child_samples = 50);
    add("min child 100", &|o| o.params.min_child_samples = 100);
    add("lambda 5", &|o| o.params.lambda = 5.0);
    add("lr 0.03", &|o| o.params.learning_rate = 0.03);
    add("features 0.6", &|o| o.params.feature_fraction = 0.6);
    add("cat smooth 30, min per cat 50", &|o| {
        o.params.cat_smooth = 30.0;
        o.params.min_data_per_category = 50;
    });
    add("cat l2 30", &|o| o.params.cat_l2 = 30.0);
    add("leaves 31, min child 50", &|o| {
        o.params.max_leaves = 31;
        o.params.min_child_samples = 50;
    });
    add("class weight sqrt", &|o| o.class_weight = ClassWeight::Sqrt);
    add("hold out latest", &|o| o.hold_out = HoldOut::Latest);
    add("hold out latest, leaves 31", &|o| {
        o.hold_out = HoldOut::Latest;
        o.params.max_leaves = 31;
    });
    add("hold out latest, min child 50", &|o| {
        o.hold_out = HoldOut::Latest;
        o.params.min_child_samples = 50;
    });
    if let Some(only) = std::env::var("TUNE_ONLY").ok().filter(|s| !s.is_empty()) {
        grid.retain(|(name, _)| only.split(',').any(|o| o.trim() == name));
    }
    println!("{:<32} {:>8} {:>8} {:>8} {:>8} {:>7}", "settings", "v acc", "v auc", "s acc", "s auc", "rounds");
    for (name, opts) in grid {
        let e = pipeline::evaluate(&ds, &opts, Some(valid_until), 0).expect("evaluating");
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
