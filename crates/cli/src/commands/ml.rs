//! `ntsb ml train | evaluate | models`: train the models from the store, evaluate
//! them honestly, list what is in the models directory (DATA_DIR/models, or
//! DATA_DIR/demo/models for the demo store), where `ntsb serve` loads them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use ntsb_ml::card::Card;
use ntsb_ml::metrics::Metrics;
use ntsb_ml::pipeline::{self, Evaluation, SplitReport};
use ntsb_ml::{Dataset, ModelKind, Options, Registry};
use ntsb_store::{TrainingFilter, TrainingRow};

use crate::cli::{MlCommand, MlEvaluateArgs, MlTrainArgs, MlTuning};
use crate::config::{Config, Database};
use crate::output::out;

/// The default date of the time split: train up to it, test after it.
const DEFAULT_TIME_SPLIT: &str = "2013-12-31";

/// Where models, cards and evaluations are written.
pub fn models_dir(config: &Config) -> PathBuf {
    config.store_dir().join("models")
}

pub fn run(config: &Config, cmd: MlCommand) -> Result<ExitCode> {
    match cmd {
        MlCommand::Train(args) => train(config, args),
        MlCommand::Evaluate(args) => evaluate(config, args),
        MlCommand::Models { json } => models(config, json),
    }
}

fn kinds(name: &str) -> Result<Vec<ModelKind>> {
    if name == "all" {
        return Ok(ModelKind::ALL.to_vec());
    }
    match ModelKind::parse(name) {
        Some(k) => Ok(vec![k]),
        None => bail!("--model: {name:?} is not a model; use fatal, risk, severity or all"),
    }
}

fn parse_date(flag: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").with_context(|| format!("{flag}: expected a date YYYY-MM-DD, got {s:?}"))
}

/// Every accident's training row, read once.
fn training_rows(config: &Config) -> Result<Vec<TrainingRow>> {
    if let Database::Sqlite(path) = &config.database
        && !path.exists()
    {
        bail!("{}: no database; load data first with `ntsb ingest`", path.display());
    }
    let store = super::open_store(config, super::Schema::RequireLatest)?;
    Ok(store.training_rows(&TrainingFilter { accidents_only: true })?)
}

fn train(config: &Config, args: MlTrainArgs) -> Result<ExitCode> {
    let kinds = kinds(&args.model)?;
    let until = args.train_until.as_deref().map(|s| parse_date("--train-until", s)).transpose()?;
    let rows = training_rows(config)?;
    let dir = models_dir(config);
    for kind in kinds {
        let started = Instant::now();
        let ds = Dataset::from_rows(kind, &rows, until);
        if ds.is_empty() {
            bail!("{}: no accidents with a known outcome in the store{}", kind.name(), until_note(until));
        }
        let opts = options(kind, args.seed, &args.tuning)?;
        let mut model =
            pipeline::train_model(&ds, &opts, until).with_context(|| format!("training {}", kind.name()))?;
        let path = Registry::model_path(&dir, kind);
        model.save(&path)?;
        let seconds = started.elapsed().as_secs_f64();
        let card = Card::new(&model, chrono::Utc::now().to_rfc3339(), seconds);
        let card_json = dir.join(format!("{}.card.json", kind.name()));
        let card_md = dir.join(format!("{}.card.md", kind.name()));
        std::fs::write(&card_json, serde_json::to_vec_pretty(&card)?)
            .with_context(|| format!("{}", card_json.display()))?;
        std::fs::write(&card_md, card.markdown()).with_context(|| format!("{}", card_md.display()))?;
        out!(
            "{}: {} trained on {} events in {seconds:.1} s ({} rounds); wrote {}",
            kind.name(),
            model.version(),
            ds.len(),
            model.training.rounds,
            path.display()
        )?;
        if let Some(h) = &model.held_out {
            out!("  held out ({}, {} events): {}", h.split, h.test_rows, summary(&h.gbdt))?;
            out!("  logistic baseline:                      {}", summary(&h.baseline))?;
        }
        out!("  card: {}", card_md.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The shipped settings of a model with the command line's overrides.
fn options(kind: ModelKind, seed: u64, t: &MlTuning) -> Result<Options> {
    let mut o = Options::for_model(kind, seed);
    if let Some(v) = t.learning_rate {
        if !(v > 0.0 && v <= 1.0) {
            bail!("--learning-rate: must be in (0, 1], got {v}");
        }
        o.params.learning_rate = v;
    }
    if let Some(v) = t.max_rounds {
        o.params.max_rounds = v.clamp(1, 10_000);
    }
    if let Some(v) = t.max_leaves {
        o.params.max_leaves = v.clamp(2, 1024);
    }
    if let Some(v) = t.min_child_samples {
        o.params.min_child_samples = v.max(1);
    }
    if let Some(w) = &t.class_weight {
        o.class_weight = match w.as_str() {
            "none" => ntsb_ml::pipeline::ClassWeight::None,
            "balanced" => ntsb_ml::pipeline::ClassWeight::Balanced,
            "sqrt" => ntsb_ml::pipeline::ClassWeight::Sqrt,
            other => bail!("--class-weight: {other:?} is not none, balanced or sqrt"),
        };
    }
    Ok(o)
}

fn until_note(until: Option<NaiveDate>) -> String {
    until.map(|d| format!(" up to {d}")).unwrap_or_default()
}

/// The headline metrics on one line.
fn summary(m: &Metrics) -> String {
    let keys = ["accuracy", "balanced_accuracy", "roc_auc", "pr_auc", "f1", "macro_f1", "brier"];
    keys.iter().filter_map(|k| m.get(*k).map(|v| format!("{k} {v:.4}"))).collect::<Vec<_>>().join(", ")
}

fn evaluate(config: &Config, args: MlEvaluateArgs) -> Result<ExitCode> {
    let kinds = kinds(&args.model)?;
    let split_date = parse_date("--train-until", args.train_until.as_deref().unwrap_or(DEFAULT_TIME_SPLIT))?;
    let rows = training_rows(config)?;
    let mut all = Vec::new();
    for kind in kinds {
        let started = Instant::now();
        let ds = Dataset::from_rows(kind, &rows, None);
        if ds.is_empty() {
            bail!("{}: no accidents with a known outcome in the store", kind.name());
        }
        let opts = options(kind, args.seed, &args.tuning)?;
        let eval = pipeline::evaluate(&ds, &opts, Some(split_date), args.folds as usize)
            .with_context(|| format!("evaluating {}", kind.name()))?;
        if !args.json {
            print_evaluation(&eval, started.elapsed().as_secs_f64())?;
        }
        all.push(eval);
    }
    if args.json {
        out!("{}", serde_json::to_string_pretty(&all)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_evaluation(e: &Evaluation, seconds: f64) -> std::io::Result<()> {
    let counts: Vec<String> = e.model.classes().iter().zip(&e.class_counts).map(|(c, n)| format!("{c} {n}")).collect();
    out!("{}: {} accidents ({}); evaluated in {seconds:.1} s", e.model.name(), e.rows, counts.join(", "))?;
    let print_split = |r: &SplitReport| {
        out!("  {} (train {}, test {}, {} rounds)", r.split, r.train_rows, r.test_rows, r.rounds)?;
        out!("    trees:    {}", summary(&r.gbdt))?;
        out!("    baseline: {}", summary(&r.baseline))
    };
    print_split(&e.stratified)?;
    if let Some(t) = &e.time {
        print_split(t)?;
    }
    if let Some(cv) = &e.cross_validation {
        let line = |mean: &Metrics, std: &Metrics| {
            ["accuracy", "roc_auc", "balanced_accuracy", "macro_f1", "brier"]
                .iter()
                .filter_map(|k| Some(format!("{k} {:.4} ± {:.4}", mean.get(*k)?, std.get(*k)?)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out!("  {}-fold cross-validation (mean ± standard deviation)", cv.folds)?;
        out!("    trees:    {}", line(&cv.mean, &cv.std))?;
        out!("    baseline: {}", line(&cv.baseline_mean, &cv.baseline_std))?;
    }
    out!("  calibration (stratified test, fatal probability): predicted → observed (events)")?;
    for b in e.stratified.calibration.iter().filter(|b| b.count > 0) {
        out!("    {:.1}–{:.1}: {:.3} → {:.3} ({})", b.from, b.to, b.mean_predicted, b.observed, b.count)?;
    }
    Ok(())
}

fn models(config: &Config, json: bool) -> Result<ExitCode> {
    let dir = models_dir(config);
    let (registry, report) = Registry::open(&dir);
    let models = registry.list();
    if json {
        let list: Vec<serde_json::Value> = models
            .iter()
            .map(|m| {
                serde_json::json!({
                    "model": m.kind.name(),
                    "version": m.version(),
                    "rows": m.training.rows,
                    "held_out": m.held_out.as_ref().map(|h| &h.gbdt),
                })
            })
            .collect();
        out!("{}", serde_json::to_string_pretty(&list)?)?;
    } else {
        if models.is_empty() {
            out!("no models in {}; train them with `ntsb ml train --model all`", dir.display())?;
        }
        for m in &models {
            let held = m.held_out.as_ref().map(|h| summary(&h.gbdt)).unwrap_or_default();
            out!("{:<9} {}  {} events  {held}", m.kind.name(), m.version(), m.training.rows)?;
        }
    }
    for (path, reason) in &report.refused {
        let _ = path;
        eprintln!("ntsb: model file refused: {reason}");
    }
    Ok(if report.refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// How often `ntsb serve` looks for changed model files.
const MODEL_POLL: std::time::Duration = std::time::Duration::from_secs(10);

fn log_reload(report: &ntsb_ml::registry::ReloadReport) {
    for version in &report.loaded {
        tracing::info!(%version, "model loaded");
    }
    for version in &report.removed {
        tracing::warn!(%version, "model file removed; model no longer served");
    }
    for (path, reason) in &report.refused {
        tracing::error!(path = %path.display(), %reason, "model file refused; the previous model (if any) stays");
    }
}

/// The registry `ntsb serve` starts with: every model file in the models directory.
pub fn open_registry(config: &Config) -> std::sync::Arc<Registry> {
    let (registry, report) = Registry::open(&models_dir(config));
    log_reload(&report);
    if registry.list().is_empty() {
        tracing::info!(
            dir = %models_dir(config).display(),
            "no models yet: /api/v1/ml/models lists none, and /api/v1/ml/predict and /api/v1/ml/predict/batch answer \
             503 until `ntsb ml train --model all` has trained them"
        );
    }
    std::sync::Arc::new(registry)
}

/// Reloads changed model files every [`MODEL_POLL`] and on SIGHUP, so a newly
/// trained model is served without a restart.
pub async fn watch_models(registry: std::sync::Arc<Registry>) {
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(MODEL_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        {
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => {},
                () = hup => tracing::info!("SIGHUP: reloading models"),
            }
        }
        #[cfg(not(unix))]
        tick.tick().await;
        let reg = registry.clone();
        if let Ok(report) = tokio::task::spawn_blocking(move || reg.reload()).await {
            log_reload(&report);
        }
    }
}
