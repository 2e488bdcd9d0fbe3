//! [`Model`]: a trained model with its encoders, calibration and provenance;
//! scoring with explanations; and the versioned model file.
//!
//! A model file is one header line, `NTSB-ML-MODEL <format> sha256=<hex>`, then
//! the model as JSON. The checksum covers the JSON bytes; a file whose checksum
//! does not match, or of another format version, is refused. The model's version
//! is its name and the first 12 hex digits of the checksum, so the same training
//! (same seed, same data) gives the same version, byte for byte.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calibrate::Calibration;
use crate::encode::Encoder;
use crate::error::{Error, Result};
use crate::features::{Facts, Feature, ModelKind, Raw, STATED_UNKNOWN};
use crate::gbdt::{Booster, Params};
use crate::metrics::{CalibrationBin, Metrics, argmax};

/// Format of model files this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// First word of a model file.
const MAGIC: &str = "NTSB-ML-MODEL";
/// Extension of model files.
pub const MODEL_EXTENSION: &str = "model";

/// Where a model's training data came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// Events trained on.
    pub rows: usize,
    /// Events per class, in [`ModelKind::classes`] order.
    pub class_counts: Vec<usize>,
    /// Earliest event date.
    pub first_event: Option<String>,
    /// Latest event date.
    pub last_event: Option<String>,
    /// `--train-until`, when given.
    pub train_until: Option<String>,
    /// Seed of splits and feature sampling.
    pub seed: u64,
    /// sha256 of the training events and labels: the data snapshot.
    pub data_checksum: String,
    /// Share of rows held out for early stopping and calibration.
    pub valid_fraction: f64,
    /// Boosting rounds kept (early stopping).
    pub rounds: usize,
    /// Class weights used, in class order.
    pub class_weights: Vec<f64>,
}

/// Held-out metrics of the model's configuration, stored with it so a server can
/// list them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// How the data was split.
    pub split: String,
    /// Test rows.
    pub test_rows: usize,
    /// Gradient-boosted trees on the test rows.
    pub gbdt: Metrics,
    /// The logistic-regression baseline on the same rows.
    pub baseline: Metrics,
    /// Calibration of the positive (binary) or fatal (severity) class.
    pub calibration: Vec<CalibrationBin>,
}

/// A trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Which model.
    pub kind: ModelKind,
    /// File format version.
    pub format_version: u32,
    /// Features, in encoder order.
    pub features: Vec<Feature>,
    /// One encoder per feature.
    pub encoders: Vec<Encoder>,
    /// The trees.
    pub booster: Booster,
    /// Probability calibration.
    pub calibration: Calibration,
    /// Training settings.
    pub params: Params,
    /// Data provenance.
    pub training: TrainingInfo,
    /// Held-out evaluation.
    pub held_out: Option<HeldOut>,
    /// Binary models: the class is `fatal` when the calibrated probability is at
    /// least this (0.5 unless chosen otherwise on validation years; see
    /// [`crate::pipeline::Options::decision_threshold`]). Not written when 0.5,
    /// so such model files are those of earlier builds, byte for byte.
    #[serde(default = "half", skip_serializing_if = "is_half")]
    pub decision_threshold: f64,
    /// sha256 of the model's JSON (set when saved or loaded).
    #[serde(skip)]
    pub checksum: String,
}

/// One feature's share of a prediction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// The feature (serialised as its name).
    #[serde(serialize_with = "feature_name")]
    pub feature: Feature,
    /// The value the model saw (`unknown` when missing, `other` for rare categories).
    pub value: Cow<'static, str>,
    /// Change of the raw score (log-odds or class logit) due to this feature.
    pub contribution: f64,
}

/// A scored event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Calibrated probability per class, in [`ModelKind::classes`] order.
    pub probabilities: Vec<f64>,
    /// Predicted class index.
    pub class: usize,
    /// Raw score explained: log-odds of `fatal` (binary) or the predicted class's logit.
    pub raw_score: f64,
    /// The part of the raw score that is the same for every event.
    pub bias: f64,
    /// Every feature's contribution, largest magnitude first, or only the
    /// largest when fewer were asked for ([`Model::predict_top`]);
    /// `bias + sum(contribution) + unlisted == raw_score`.
    pub contributions: Vec<Contribution>,
    /// The sum of the contributions left out of `contributions` (0 when every
    /// feature's is listed).
    pub unlisted: f64,
    /// Features whose category the model does not know (scored as "other").
    pub unknown_categories: Vec<String>,
}

impl Prediction {
    /// Keeps the first `listed` contributions and adds the others to
    /// [`Prediction::unlisted`], so `bias + sum(contribution) + unlisted` is
    /// still the raw score: for a caller that needed more contributions
    /// described than it lists (say, the five explained in words).
    pub fn keep_listed(&mut self, listed: usize) {
        if listed < self.contributions.len() {
            self.unlisted = self.contributions.drain(listed..).fold(self.unlisted, |sum, c| sum + c.contribution);
        }
    }
}

impl Model {
    /// Name and checksum prefix, e.g. `fatal-3f9a0c1d2e4b`.
    pub fn version(&self) -> String {
        format!("{}-{}", self.kind.name(), self.checksum.get(..12).unwrap_or("unsaved"))
    }

    /// Bins of an event's facts, and the features whose category was unknown.
    pub fn encode(&self, facts: &Facts) -> (Vec<u8>, Vec<String>) {
        let mut unknown = Vec::new();
        let bins = self
            .features
            .iter()
            .zip(&self.encoders)
            .map(|(f, enc)| {
                let e = f.encode(facts, enc);
                if e.unknown_category {
                    unknown.push(f.name().to_string());
                }
                e.bin
            })
            .collect();
        (bins, unknown)
    }

    /// Bins of feature values already in the model's feature order (a
    /// [`crate::Dataset`] row, as training and evaluation hold them).
    pub fn encode_values(&self, values: &[Raw]) -> Vec<u8> {
        self.encoders.iter().zip(values).map(|(e, v)| e.encode(v).bin).collect()
    }

    /// Writes the bins of an event's facts into `bins` (one per feature), without
    /// allocating. `bins` shorter than the features takes the first ones.
    pub fn encode_into(&self, facts: &Facts, bins: &mut [u8]) {
        for ((b, f), enc) in bins.iter_mut().zip(&self.features).zip(&self.encoders) {
            *b = f.encode(facts, enc).bin;
        }
    }

    /// Calibrated probabilities of encoded bins (the fast path, no explanation).
    pub fn probabilities_of_bins(&self, bins: &[u8], raw: &mut [f64]) -> Vec<f64> {
        self.booster.raw(bins, raw);
        self.calibration.probabilities(raw, self.kind.classes().len())
    }

    /// Probability of the positive class (binary) or of `fatal` (severity) for
    /// encoded bins, allocation-free for binary models.
    pub fn fatal_probability_of_bins(&self, bins: &[u8]) -> f64 {
        if self.booster.n_scores == 1 {
            let mut raw = [0.0];
            self.booster.raw(bins, &mut raw);
            let z = self.calibration.scale * raw[0] + self.calibration.bias[0];
            1.0 / (1.0 + (-z).exp())
        } else {
            let mut raw = vec![0.0; self.booster.n_scores];
            let p = self.probabilities_of_bins(bins, &mut raw);
            p[p.len() - 1]
        }
    }

    /// Probability of the positive class (binary) or of `fatal` (severity) of an
    /// event's facts, without an explanation: the fast path for bulk scoring
    /// (allocation-free for binary models of up to 64 features).
    pub fn fatal_probability(&self, facts: &Facts) -> f64 {
        let mut stack = [0u8; 64];
        if self.features.len() <= stack.len() {
            let bins = &mut stack[..self.features.len()];
            self.encode_into(facts, bins);
            self.fatal_probability_of_bins(bins)
        } else {
            let mut bins = vec![0u8; self.features.len()];
            self.encode_into(facts, &mut bins);
            self.fatal_probability_of_bins(&bins)
        }
    }

    /// Scores an event and explains the score with every feature's contribution.
    pub fn predict(&self, facts: &Facts) -> Prediction {
        self.predict_top(facts, usize::MAX)
    }

    /// [`Model::predict`] listing only the `top` largest contributions (the
    /// others summed in [`Prediction::unlisted`]): the same scores, with the
    /// values of fewer features described.
    pub fn predict_top(&self, facts: &Facts, top: usize) -> Prediction {
        let (bins, unknown_categories) = self.encode(facts);
        // One walk of the trees gives the raw scores and their attributions.
        let (raw, bias, contrib) = self.booster.explain(&bins);
        self.prediction(facts, &bins, unknown_categories, top, (&raw, &bias, |output| &contrib[output]))
    }

    /// [`Model::predict`] of many events, in order: the same predictions, with
    /// the trees walked tree by tree over all of them
    /// ([`Booster::explain_rows`]), which is faster for a batch.
    pub fn predict_many(&self, events: &[&Facts]) -> Vec<Prediction> {
        self.predict_many_top(events, usize::MAX)
    }

    /// [`Model::predict_many`] listing only the `top` largest contributions of
    /// each event, as [`Model::predict_top`] does.
    pub fn predict_many_top(&self, events: &[&Facts], top: usize) -> Vec<Prediction> {
        let (bins, unknown): (Vec<Vec<u8>>, Vec<Vec<String>>) = events.iter().map(|f| self.encode(f)).unzip();
        let all = self.booster.explain_rows(&bins);
        events
            .iter()
            .zip(bins.iter().zip(unknown))
            .enumerate()
            .map(|(i, (facts, (bins, unknown)))| {
                let scores = (all.raw(i), all.bias(i), |output| all.contributions(i, output));
                self.prediction(facts, bins, unknown, top, scores)
            })
            .collect()
    }

    /// The prediction of an event from its bins, the features whose category was
    /// unknown, how many contributions to list, and the trees' raw scores, bias
    /// and contributions per output ([`Booster::explain`]).
    fn prediction<'c>(
        &self,
        facts: &Facts,
        bins: &[u8],
        unknown_categories: Vec<String>,
        top: usize,
        (raw, bias, contributions_to): (&[f64], &[f64], impl Fn(usize) -> &'c [f64]),
    ) -> Prediction {
        let probabilities = self.calibration.probabilities(raw, self.kind.classes().len());
        let class = if self.kind.is_binary() {
            usize::from(probabilities[1] >= self.decision_threshold)
        } else {
            argmax(&probabilities)
        };
        let explained = if self.booster.n_scores == 1 { 0 } else { class };
        let contrib = contributions_to(explained);
        // Largest magnitude first (a stable sort: ties keep feature order); only
        // the listed ones have their values described.
        let mut order: Vec<usize> = (0..contrib.len()).collect();
        order.sort_by(|&a, &b| contrib[b].abs().total_cmp(&contrib[a].abs()));
        let listed = top.min(order.len());
        let contributions = order[..listed]
            .iter()
            .map(|&i| {
                let f = self.features[i];
                Contribution {
                    feature: f,
                    value: describe_value(f, facts, bins[i], unknown_categories.iter().any(|u| u == f.name())),
                    contribution: contrib[i],
                }
            })
            .collect();
        Prediction {
            probabilities,
            class,
            raw_score: raw[explained],
            bias: bias[explained],
            contributions,
            unlisted: order[listed..].iter().fold(0.0, |sum, &i| sum + contrib[i]),
            unknown_categories,
        }
    }

    /// One sentence per contribution, for the `top` largest.
    pub fn explain(&self, prediction: &Prediction, top: usize) -> Vec<String> {
        let target: Cow<'_, str> = if self.kind.is_binary() {
            "a fatal outcome".into()
        } else {
            format!("the predicted level ({})", self.kind.classes()[prediction.class]).into()
        };
        prediction
            .contributions
            .iter()
            .filter(|c| c.contribution.abs() > 1e-6)
            .take(top)
            .map(|c| {
                let dir = if c.contribution > 0.0 { "raised" } else { "lowered" };
                let strength = match c.contribution.abs() {
                    x if x >= 1.0 => "strongly ",
                    x if x >= 0.3 => "",
                    _ => "slightly ",
                };
                let mut sentence = String::with_capacity(128);
                push_capitalised(&mut sentence, c.feature.words());
                for part in [" (", &c.value, ") ", strength, dir, " the odds of ", &target, " ("] {
                    sentence.push_str(part);
                }
                push_hundredths(&mut sentence, c.contribution);
                sentence.push_str(" log-odds)");
                sentence
            })
            .collect()
    }

    /// The model file's bytes: header line and JSON.
    pub fn to_bytes(&self) -> Result<(Vec<u8>, String)> {
        let body = serde_json::to_vec(self).map_err(|e| Error::invalid("model", format!("cannot serialise: {e}")))?;
        let checksum = hex::encode(Sha256::digest(&body));
        let mut out = format!("{MAGIC} {FORMAT_VERSION} sha256={checksum}\n").into_bytes();
        out.extend_from_slice(&body);
        Ok((out, checksum))
    }

    /// Writes the model file atomically (temporary file, then rename); sets the checksum.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let (bytes, checksum) = self.to_bytes()?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let tmp = path.with_extension("model.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&bytes).and_then(|()| f.sync_all()).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        self.checksum = checksum;
        Ok(())
    }

    /// Reads a model file, refusing a wrong checksum or format.
    pub fn load(path: &Path) -> Result<Model> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Model::from_bytes(&bytes).map_err(|reason| Error::BadModelFile { path: path.to_path_buf(), reason })
    }

    /// Parses model file bytes; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Model, String> {
        let nl = bytes.iter().position(|b| *b == b'\n').ok_or("not a model file (no header line)")?;
        let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| "not a model file (header is not text)")?;
        let mut words = header.split(' ');
        if words.next() != Some(MAGIC) {
            return Err("not a model file (no NTSB-ML-MODEL header)".into());
        }
        let format: u32 = words.next().and_then(|w| w.parse().ok()).ok_or("model file header has no format version")?;
        if format != FORMAT_VERSION {
            return Err(format!("model file format {format} is not supported (this build reads {FORMAT_VERSION})"));
        }
        let stated = words.next().and_then(|w| w.strip_prefix("sha256=")).ok_or("model file header has no checksum")?;
        let body = &bytes[nl + 1..];
        let actual = hex::encode(Sha256::digest(body));
        if stated != actual {
            return Err(format!(
                "checksum mismatch: the header says {stated}, the content is {actual}; refusing the file"
            ));
        }
        let mut model: Model = serde_json::from_slice(body).map_err(|e| format!("model JSON is invalid: {e}"))?;
        if model.format_version != FORMAT_VERSION || model.features.len() != model.encoders.len() {
            return Err("model content is inconsistent with its format".into());
        }
        if model.features.len() != model.booster.n_features
            || model.booster.base.len() != model.booster.n_scores
            || model.calibration.bias.len() != model.booster.n_scores
        {
            return Err("model content is inconsistent (feature or score counts)".into());
        }
        if !(0.0 < model.decision_threshold && model.decision_threshold < 1.0) {
            return Err("model decision threshold is not between 0 and 1".into());
        }
        if model.encoders.iter().any(|e| e.n_bins() > 256) {
            return Err("model encoders have more than 256 bins".into());
        }
        for tree in &model.booster.trees {
            let n = tree.nodes.len() as u32;
            let ok = !tree.nodes.is_empty()
                && tree.nodes.iter().enumerate().all(|(i, node)| {
                    node.kind == crate::gbdt::LEAF
                        || (usize::from(node.feature) < model.features.len()
                            && node.left > i as u32
                            && node.right > i as u32
                            && node.left < n
                            && node.right < n
                            && (node.kind != crate::gbdt::CATEGORICAL || (node.cats as usize) < tree.cat_sets.len()))
                });
            // A tree: no node has two parents (children are numbered after their parent).
            let mut parents = vec![0u8; tree.nodes.len()];
            for node in tree.nodes.iter().filter(|n| n.kind != crate::gbdt::LEAF) {
                for child in [node.left, node.right] {
                    if let Some(p) = parents.get_mut(child as usize) {
                        *p = p.saturating_add(1);
                    }
                }
            }
            if !ok || parents.iter().any(|p| *p > 1) {
                return Err("model trees are malformed".into());
            }
        }
        for enc in &mut model.encoders {
            enc.rebuild();
        }
        model.checksum = actual;
        Ok(model)
    }
}

fn half() -> f64 {
    0.5
}

fn is_half(t: &f64) -> bool {
    *t == 0.5
}

/// Appends `x` with its sign and two decimals, exactly as `{:+.2}` writes it.
///
/// Most numbers are rounded here directly, much faster than the exact formatting
/// machinery (a batch of 100 writes 500 of them); a number within a millionth
/// of a hundredth of a tie, where the product `100 * x` could round the other way,
/// or too large, or not finite, goes through `{:+.2}` itself.
fn push_hundredths(out: &mut String, x: f64) {
    let hundredths = x.abs() * 100.0;
    let whole = hundredths.floor();
    let fraction = hundredths - whole;
    // Below 1e9, the product is within 1e-7 of the true value: far from a tie
    // (over 1e-6 away) it rounds the same way as the exact decimal value.
    let fast = hundredths < 1e9 && (fraction - 0.5).abs() >= 1e-6;
    if !fast {
        // Writing to a String cannot fail.
        let _ = write!(out, "{x:+.2}");
        return;
    }
    let n = whole as u64 + u64::from(fraction > 0.5);
    out.push(if x.is_sign_negative() { '-' } else { '+' });
    let _ = write!(out, "{}.{:02}", n / 100, n % 100);
}

/// Appends `s` with its first letter in upper case.
fn push_capitalised(out: &mut String, s: &str) {
    let mut chars = s.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.push_str(chars.as_str());
    }
}

/// A contribution's feature as the API names it ([`Feature::name`]; the serde
/// name of [`Feature::AircraftModel`], used in model files, differs).
fn feature_name<S: serde::Serializer>(feature: &Feature, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(feature.name())
}

fn describe_value(f: Feature, facts: &Facts, bin: u8, unknown_category: bool) -> Cow<'static, str> {
    match f.value(facts) {
        Raw::Missing => "unknown".into(),
        Raw::Cat(s) if unknown_category => format!("{s}, scored as other").into(),
        _ if bin == 0 => "unknown".into(),
        Raw::Cat(s) if s == STATED_UNKNOWN => "recorded as unknown".into(),
        // The category as the model saw it (its display is itself): no second copy.
        Raw::Cat(s) => s.into(),
        number => number.to_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_odds_are_written_as_the_exact_formatting_writes_them() {
        let mut x: u64 = 88172645463325252;
        let mut samples =
            vec![0.0, -0.0, 0.125, -0.125, 0.005, -0.005, 0.015, 2.675, -1.005, 1e12, f64::NAN, f64::INFINITY];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Values like contributions (mostly |x| < 5), and exact hundredths and ties.
            let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
            samples.push((unit - 0.5) * 10.0);
            samples.push(((x % 2000) as f64 - 1000.0) / 200.0);
        }
        for v in samples {
            let mut fast = String::new();
            push_hundredths(&mut fast, v);
            assert_eq!(fast, format!("{v:+.2}"), "{v:e}");
        }
    }

    #[test]
    fn a_stated_unknown_reads_apart_from_a_missing_value() {
        let phase = |text: Option<&str>| Facts { phase: text.map(str::to_string), ..Facts::default() };
        // Bin 2 is the kept UNKNOWN category; bin 0 is missing.
        assert_eq!(describe_value(Feature::Phase, &phase(Some("Unknown")), 2, false), "recorded as unknown");
        assert_eq!(describe_value(Feature::Phase, &phase(Some("UNK")), 0, false), "unknown");
        assert_eq!(describe_value(Feature::Phase, &phase(None), 0, false), "unknown");
        assert_eq!(describe_value(Feature::Phase, &phase(Some("landing")), 1, false), "LANDING");
    }
}
