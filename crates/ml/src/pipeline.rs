//! Training and evaluation from store rows: the data set of one model, fitting
//! (encoders, trees with early stopping, calibration, baseline) on chosen rows,
//! and the honest evaluation (stratified split, time split, k-fold CV).

use chrono::NaiveDate;
use ntsb_store::TrainingRow;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calibrate::Calibration;
use crate::encode::{Binned, Encoder};
use crate::error::{Error, Result};
use crate::features::{Facts, Feature, ModelKind, Raw};
use crate::gbdt::{self, Params, Target, TrainLog};
use crate::linear::Logistic;
use crate::metrics::{self, CalibrationBin, Metrics};
use crate::model::{FORMAT_VERSION, HeldOut, Model, TrainingInfo};
use crate::split;

/// Fewest rows of each class needed to train.
const MIN_PER_CLASS: usize = 5;

/// The rows one model learns from: accidents whose outcome is known.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Which model.
    pub kind: ModelKind,
    /// Event ids.
    pub ev_ids: Vec<String>,
    /// Class per row.
    pub labels: Vec<usize>,
    /// Event date per row.
    pub dates: Vec<Option<NaiveDate>>,
    /// The features read, [`ModelKind::features`] unless chosen otherwise
    /// ([`Dataset::from_rows_with`], for comparing feature sets).
    pub features: Vec<Feature>,
    /// Feature values per row, in [`Dataset::features`] order.
    pub raw: Vec<Vec<Raw>>,
}

impl Dataset {
    /// Builds the data set: accidents only, outcome known, dated up to `until` when given.
    pub fn from_rows(kind: ModelKind, rows: &[TrainingRow], until: Option<NaiveDate>) -> Dataset {
        Dataset::from_rows_with(kind, kind.features(), rows, until)
    }

    /// [`Dataset::from_rows`] reading `features` instead of the model's own: how a
    /// candidate feature set is compared on validation data before it becomes
    /// [`ModelKind::features`]. Leakage rules are the caller's to keep; the shipped
    /// lists are the ones the tests check.
    pub fn from_rows_with(
        kind: ModelKind,
        features: &[Feature],
        rows: &[TrainingRow],
        until: Option<NaiveDate>,
    ) -> Dataset {
        let mut ds = Dataset {
            kind,
            ev_ids: Vec::new(),
            labels: Vec::new(),
            dates: Vec::new(),
            features: features.to_vec(),
            raw: Vec::new(),
        };
        for row in rows {
            if row.event_type.as_deref() != Some("accident") {
                continue;
            }
            let Some(label) = kind.label(row) else { continue };
            let facts = Facts::from(row);
            if let Some(until) = until
                && facts.event_date.is_none_or(|d| d > until)
            {
                continue;
            }
            ds.ev_ids.push(row.ev_id.clone());
            ds.labels.push(label);
            ds.dates.push(facts.event_date);
            ds.raw.push(features.iter().map(|f| f.value(&facts)).collect());
        }
        ds
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Classes of the model.
    pub fn n_classes(&self) -> usize {
        self.kind.classes().len()
    }

    fn class_counts(&self, idx: &[usize]) -> Vec<usize> {
        let mut c = vec![0; self.n_classes()];
        for &i in idx {
            c[self.labels[i]] += 1;
        }
        c
    }

    /// sha256 over the event ids and labels of `idx`: identifies the data snapshot.
    fn checksum(&self, idx: &[usize]) -> String {
        let mut h = Sha256::new();
        for &i in idx {
            h.update(self.ev_ids[i].as_bytes());
            h.update([b':', self.labels[i] as u8, b'\n']);
        }
        hex::encode(h.finalize())
    }
}

/// How classes are weighted in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every row counts the same.
    None,
    /// Each class weighs `n / (k * n_class)`.
    Balanced,
    /// The square root of balanced weights (a milder correction).
    Sqrt,
}

/// Which training rows are held out for early stopping and calibration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldOut {
    /// A stratified random slice.
    #[default]
    Stratified,
    /// The most recent events (by date), so early stopping and calibration see
    /// the years closest to those the model will score.
    Latest,
}

/// Settings of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Tree settings (the seed included).
    pub params: Params,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Share of the training rows held out for early stopping and calibration.
    pub valid_fraction: f64,
    /// How those rows are chosen.
    #[serde(default)]
    pub hold_out: HoldOut,
    /// Weigh recent events more: a row's weight (times its class weight) halves
    /// for every this many years it lies before the latest training event, in
    /// the trees, the early-stopping loss, the calibration and the baseline
    /// alike. `None`: every year counts the same. Meant for a model that scores
    /// events after its training data (`risk`); chosen on a validation split
    /// inside the training years (tried for `risk`, not adopted: see
    /// docs/MODELS.md).
    #[serde(default)]
    pub recency_half_life: Option<f64>,
    /// Binary models: predict `fatal` when the calibrated probability is at
    /// least this. 0.5 minimises the expected error when the probabilities are
    /// right; a model scoring later years than it learnt from might do better
    /// with another, chosen on validation years inside the training period
    /// (tried for `risk`, not adopted: see docs/MODELS.md). Affects the class
    /// and the threshold metrics (accuracy, balanced accuracy, precision,
    /// recall, F1), not the probabilities.
    #[serde(default = "half")]
    pub decision_threshold: f64,
    /// After early stopping, fit the trees again on every row (the held-out
    /// slice included) for the rounds early stopping chose; the calibration
    /// stays the one fitted on the held-out slice with the first fit's scores.
    /// (Tried for `risk`, not adopted: see docs/MODELS.md.)
    #[serde(default)]
    pub refit_all: bool,
}

fn half() -> f64 {
    0.5
}

impl Options {
    /// Default settings of a model with a seed.
    pub fn for_model(kind: ModelKind, seed: u64) -> Options {
        Options {
            params: Params { seed, ..Params::default() },
            class_weight: match kind {
                ModelKind::Fatal | ModelKind::Risk => ClassWeight::None,
                ModelKind::Severity => ClassWeight::Sqrt,
            },
            valid_fraction: 0.15,
            hold_out: HoldOut::Stratified,
            recency_half_life: None,
            decision_threshold: 0.5,
            refit_all: false,
        }
    }

    /// Smaller settings for fast tests.
    pub fn quick(kind: ModelKind, seed: u64) -> Options {
        let mut o = Options::for_model(kind, seed);
        o.params.max_rounds = 40;
        o.params.learning_rate = 0.2;
        o.params.max_leaves = 15;
        o
    }
}

/// A model fitted on some rows, with its baseline.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The model.
    pub model: Model,
    /// The logistic baseline and its calibration.
    pub baseline: Option<(Logistic, Calibration)>,
    /// Training log.
    pub log: TrainLog,
}

fn class_weights(counts: &[usize], how: ClassWeight) -> Vec<f64> {
    let n: usize = counts.iter().sum();
    let k = counts.iter().filter(|c| **c > 0).count().max(1);
    counts
        .iter()
        .map(|&c| {
            let balanced = if c == 0 { 1.0 } else { n as f64 / (k as f64 * c as f64) };
            match how {
                ClassWeight::None => 1.0,
                ClassWeight::Balanced => balanced,
                ClassWeight::Sqrt => balanced.sqrt(),
            }
        })
        .collect()
}

/// Fits a model (and optionally the baseline) on the rows `idx` of `ds`. A
/// stratified `valid_fraction` of them is held out for early stopping and
/// calibration; encoders see only the rest.
pub fn fit(ds: &Dataset, idx: &[usize], opts: &Options, with_baseline: bool) -> Result<Fitted> {
    let counts = ds.class_counts(idx);
    if let Some((c, n)) = counts.iter().enumerate().find(|(_, n)| **n < MIN_PER_CLASS) {
        return Err(Error::NotEnoughData(format!(
            "{} rows of class {:?} to train {} (need at least {MIN_PER_CLASS})",
            n,
            ds.kind.classes()[c],
            ds.kind.name()
        )));
    }
    let seed = opts.params.seed;
    let (train, valid) = match opts.hold_out {
        HoldOut::Stratified => split::stratified(idx, &ds.labels, opts.valid_fraction, seed.wrapping_add(1)),
        HoldOut::Latest => split::latest(idx, &ds.dates, opts.valid_fraction),
    };
    let features = &ds.features;
    let encoders: Vec<Encoder> = features
        .iter()
        .enumerate()
        .map(|(j, f)| {
            let col: Vec<Raw> = train.iter().map(|&i| ds.raw[i][j].clone()).collect();
            Encoder::fit(*f, &col)
        })
        .collect();
    let weights_by_class = class_weights(&ds.class_counts(&train), opts.class_weight);
    let recency = recency_weights(ds, idx, opts.recency_half_life);
    let rows = |ix: &[usize]| -> (Vec<Vec<Raw>>, Vec<usize>, Vec<f64>) {
        let raw = ix.iter().map(|&i| ds.raw[i].clone()).collect();
        let labels: Vec<usize> = ix.iter().map(|&i| ds.labels[i]).collect();
        let w = ix
            .iter()
            .zip(&labels)
            .map(|(&i, &y)| match &recency {
                Some(r) => weights_by_class[y] * r(i),
                None => weights_by_class[y],
            })
            .collect();
        (raw, labels, w)
    };
    let (train_raw, train_y, train_w) = rows(&train);
    let (valid_raw, valid_y, valid_w) = rows(&valid);
    // The calibration weighs the held-out rows by recency only (not by class).
    let valid_recency: Option<Vec<f64>> = recency.as_ref().map(|r| valid.iter().map(|&i| r(i)).collect());
    let train_bins = Binned::new(&encoders, &train_raw);
    let valid_bins = Binned::new(&encoders, &valid_raw);
    // The trees and the baseline are independent: fit them side by side.
    let ((booster, log), baseline) = rayon::join(
        || {
            gbdt::train(
                &train_bins,
                Target { labels: &train_y, weights: &train_w },
                (!valid.is_empty()).then_some((&valid_bins, Target { labels: &valid_y, weights: &valid_w })),
                ds.n_classes(),
                &opts.params,
            )
        },
        || {
            with_baseline.then(|| {
                let lr = Logistic::fit(
                    &encoders,
                    &train_raw,
                    Target { labels: &train_y, weights: &train_w },
                    ds.n_classes(),
                );
                let scores: Vec<Vec<f64>> = valid_raw.iter().map(|r| lr.raw(&encoders, r)).collect();
                let cal = Calibration::fit_weighted(&scores, &valid_y, valid_recency.as_deref());
                (lr, cal)
            })
        },
    );
    let mut raw = vec![0.0; booster.n_scores];
    let valid_scores: Vec<Vec<f64>> = (0..valid_bins.n_rows)
        .map(|i| {
            booster.raw(&valid_bins.row(i), &mut raw);
            raw.clone()
        })
        .collect();
    let calibration = Calibration::fit_weighted(&valid_scores, &valid_y, valid_recency.as_deref());
    let booster = if opts.refit_all && !valid.is_empty() && log.rounds > 0 {
        let all_raw: Vec<Vec<Raw>> = train_raw.iter().chain(&valid_raw).cloned().collect();
        let all_y: Vec<usize> = train_y.iter().chain(&valid_y).copied().collect();
        let all_w: Vec<f64> = train_w.iter().chain(&valid_w).copied().collect();
        let params = Params { max_rounds: log.rounds, ..opts.params.clone() };
        let all_bins = Binned::new(&encoders, &all_raw);
        gbdt::train(&all_bins, Target { labels: &all_y, weights: &all_w }, None, ds.n_classes(), &params).0
    } else {
        booster
    };
    let dates: Vec<NaiveDate> = idx.iter().filter_map(|&i| ds.dates[i]).collect();
    let training = TrainingInfo {
        rows: idx.len(),
        class_counts: counts,
        first_event: dates.iter().min().map(|d| d.to_string()),
        last_event: dates.iter().max().map(|d| d.to_string()),
        train_until: None,
        seed,
        data_checksum: ds.checksum(idx),
        valid_fraction: opts.valid_fraction,
        rounds: log.rounds,
        class_weights: weights_by_class,
    };
    let model = Model {
        kind: ds.kind,
        format_version: FORMAT_VERSION,
        features: features.to_vec(),
        encoders,
        booster,
        calibration,
        params: opts.params.clone(),
        training,
        held_out: None,
        decision_threshold: if ds.kind.is_binary() { opts.decision_threshold } else { 0.5 },
        checksum: String::new(),
    };
    Ok(Fitted { model, baseline, log })
}

/// The recency weight of each row of `idx` (`None` without a half-life): 0.5 to
/// the power of the years between the row's date and the latest date of `idx`,
/// divided by the half-life. Undated rows weigh as the oldest dated row.
fn recency_weights<'a>(ds: &'a Dataset, idx: &[usize], half_life: Option<f64>) -> Option<impl Fn(usize) -> f64 + 'a> {
    let half_life = half_life.filter(|h| h.is_finite() && *h > 0.0)?;
    let latest = idx.iter().filter_map(|&i| ds.dates[i]).max()?;
    let oldest = idx.iter().filter_map(|&i| ds.dates[i]).min()?;
    let weight = move |d: NaiveDate| 0.5f64.powf((latest - d).num_days() as f64 / 365.25 / half_life);
    Some(move |i: usize| weight(ds.dates[i].unwrap_or(oldest)))
}

/// Probabilities of the rows `idx` by the fitted model and its baseline.
fn score(f: &Fitted, ds: &Dataset, idx: &[usize]) -> (Vec<Vec<f64>>, Option<Vec<Vec<f64>>>) {
    let k = ds.n_classes();
    let m = &f.model;
    let mut raw = vec![0.0; m.booster.n_scores];
    let model_p = idx
        .iter()
        .map(|&i| {
            let bins = m.encode_values(&ds.raw[i]);
            m.probabilities_of_bins(&bins, &mut raw)
        })
        .collect();
    let base_p = f
        .baseline
        .as_ref()
        .map(|(lr, cal)| idx.iter().map(|&i| cal.probabilities(&lr.raw(&m.encoders, &ds.raw[i]), k)).collect());
    (model_p, base_p)
}

fn metrics_of(kind: ModelKind, labels: &[usize], probs: &[Vec<f64>], threshold: f64) -> Metrics {
    if kind.is_binary() {
        let p: Vec<f64> = probs.iter().map(|p| p[1]).collect();
        metrics::binary_at(labels, &p, threshold)
    } else {
        metrics::multiclass(labels, probs, kind.classes().len(), kind.classes().len() - 1)
    }
}

/// The evaluation of one train/test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitReport {
    /// How the data was split.
    pub split: String,
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Boosting rounds kept.
    pub rounds: usize,
    /// Gradient-boosted trees on the test rows.
    pub gbdt: Metrics,
    /// Logistic baseline on the test rows.
    pub baseline: Metrics,
    /// Calibration of the fatal probability on the test rows.
    pub calibration: Vec<CalibrationBin>,
}

/// Fits on `train` and scores `test`.
pub fn evaluate_split(
    ds: &Dataset,
    name: &str,
    train: &[usize],
    test: &[usize],
    opts: &Options,
) -> Result<SplitReport> {
    if test.is_empty() {
        return Err(Error::NotEnoughData(format!("the {name} split has no test rows")));
    }
    let fitted = fit(ds, train, opts, true)?;
    let labels: Vec<usize> = test.iter().map(|&i| ds.labels[i]).collect();
    let (model_p, base_p) = score(&fitted, ds, test);
    let fatal = ds.n_classes() - 1;
    let positive: Vec<bool> = labels.iter().map(|&y| y == fatal).collect();
    let p_fatal: Vec<f64> = model_p.iter().map(|p| p[fatal]).collect();
    Ok(SplitReport {
        split: name.to_string(),
        train_rows: train.len(),
        test_rows: test.len(),
        rounds: fitted.log.rounds,
        gbdt: metrics_of(ds.kind, &labels, &model_p, fitted.model.decision_threshold),
        // The baseline keeps 0.5: the threshold was chosen for the trees.
        baseline: base_p.map(|p| metrics_of(ds.kind, &labels, &p, 0.5)).unwrap_or_default(),
        calibration: metrics::calibration_table(&positive, &p_fatal, 10),
    })
}

/// Mean and standard deviation of metrics over folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossValidation {
    /// Folds.
    pub folds: usize,
    /// Mean per metric (trees).
    pub mean: Metrics,
    /// Standard deviation per metric (trees).
    pub std: Metrics,
    /// Mean per metric (baseline).
    pub baseline_mean: Metrics,
    /// Standard deviation per metric (baseline).
    pub baseline_std: Metrics,
}

/// The full evaluation of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Which model.
    pub model: ModelKind,
    /// Rows in the data set.
    pub rows: usize,
    /// Rows per class.
    pub class_counts: Vec<usize>,
    /// Stratified 80/20 split.
    pub stratified: SplitReport,
    /// Train up to a date, test after it.
    pub time: Option<SplitReport>,
    /// Stratified k-fold cross-validation.
    pub cross_validation: Option<CrossValidation>,
}

fn mean_std(all: &[Metrics]) -> (Metrics, Metrics) {
    let mut mean = Metrics::new();
    let mut std = Metrics::new();
    let Some(first) = all.first() else { return (mean, std) };
    for key in first.keys() {
        let vals: Vec<f64> = all.iter().filter_map(|m| m.get(key).copied()).collect();
        let n = vals.len().max(1) as f64;
        let mu = vals.iter().sum::<f64>() / n;
        let var = vals.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        mean.insert(key.clone(), mu);
        std.insert(key.clone(), var.sqrt());
    }
    (mean, std)
}

/// Stratified 80/20 split, time split at `until` (when given), and `folds`-fold CV (when > 1).
pub fn evaluate(ds: &Dataset, opts: &Options, until: Option<NaiveDate>, folds: usize) -> Result<Evaluation> {
    use rayon::prelude::*;
    let all: Vec<usize> = (0..ds.len()).collect();
    let seed = opts.params.seed;
    let (train, test) = split::stratified(&all, &ds.labels, 0.2, seed);
    // Every split is fitted independently (and deterministically): run them side by side.
    let ((stratified, time), folds_reports) = rayon::join(
        || {
            rayon::join(
                || evaluate_split(ds, "stratified 80/20", &train, &test, opts),
                || {
                    until
                        .map(|d| {
                            let (train, test) = split::by_time(&ds.dates, d);
                            evaluate_split(ds, &format!("train <= {d}, test after"), &train, &test, opts)
                        })
                        .transpose()
                },
            )
        },
        || {
            if folds > 1 {
                split::folds(&ds.labels, folds, seed)
                    .par_iter()
                    .enumerate()
                    .map(|(k, test)| {
                        let train = split::complement(ds.len(), test);
                        evaluate_split(ds, &format!("fold {}", k + 1), &train, test, opts)
                    })
                    .collect::<Result<Vec<_>>>()
            } else {
                Ok(Vec::new())
            }
        },
    );
    let (stratified, time, folds_reports) = (stratified?, time?, folds_reports?);
    let cross_validation = if folds > 1 {
        let mut gbdt = Vec::new();
        let mut base = Vec::new();
        for r in folds_reports {
            gbdt.push(r.gbdt);
            base.push(r.baseline);
        }
        let (mean, std) = mean_std(&gbdt);
        let (baseline_mean, baseline_std) = mean_std(&base);
        Some(CrossValidation { folds, mean, std, baseline_mean, baseline_std })
    } else {
        None
    };
    Ok(Evaluation {
        model: ds.kind,
        rows: ds.len(),
        class_counts: ds.class_counts(&all),
        stratified,
        time,
        cross_validation,
    })
}

/// Trains the model to ship: its held-out metrics from a stratified 80/20 split,
/// then the model itself fitted on every row.
pub fn train_model(ds: &Dataset, opts: &Options, train_until: Option<NaiveDate>) -> Result<Model> {
    let all: Vec<usize> = (0..ds.len()).collect();
    let (train, test) = split::stratified(&all, &ds.labels, 0.2, opts.params.seed);
    // The held-out evaluation and the final fit are independent: run them side by side.
    let (report, fitted) =
        rayon::join(|| evaluate_split(ds, "stratified 80/20", &train, &test, opts), || fit(ds, &all, opts, false));
    let (report, mut model) = (report?, fitted?.model);
    model.training.train_until = train_until.map(|d| d.to_string());
    model.held_out = Some(HeldOut {
        split: report.split,
        test_rows: report.test_rows,
        gbdt: report.gbdt,
        baseline: report.baseline,
        calibration: report.calibration,
    });
    Ok(model)
}
