//! Model cards: what a model predicts, from which data, with which features,
//! how well (against the baseline, on held-out rows), and what it cannot do. One
//! JSON document for programs and the same content as Markdown for people.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::features::{FeatureType, ModelKind};
use crate::gbdt::Params;
use crate::model::{HeldOut, Model, TrainingInfo};

/// One feature on a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardFeature {
    /// Feature name.
    pub name: String,
    /// `numeric` or `categorical`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Raw fields read.
    pub sources: Vec<String>,
}

/// A model card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: String,
    /// sha256 of the model file's content.
    pub checksum: String,
    /// What it predicts.
    pub description: String,
    /// Classes, in score order.
    pub classes: Vec<String>,
    /// When it was trained (UTC, RFC 3339).
    pub trained_at: String,
    /// Wall-clock seconds of training (evaluation split and final fit).
    pub training_seconds: f64,
    /// Training data snapshot.
    pub data: TrainingInfo,
    /// Features read.
    pub features: Vec<CardFeature>,
    /// What the model may not read, and why.
    pub leakage_rule: String,
    /// Held-out metrics against the baseline.
    pub held_out: Option<HeldOut>,
    /// Training settings.
    pub params: Params,
    /// Binary models: `fatal` is predicted at a calibrated probability of at least this.
    #[serde(default)]
    pub decision_threshold: Option<f64>,
    /// Known limits.
    pub known_limits: Vec<String>,
}

fn leakage_rule(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Fatal => {
            "Never reads injury counts, the highest-injury field, narrative or probable-cause text, findings, or \
             anything derived from them; it does read aircraft damage and the number of aircraft involved."
        }
        ModelKind::Risk => {
            "Reads facts known before the flight only: no damage, no injuries, no number of aircraft involved, \
             no narrative, no findings. A unit test fails if an outcome field is added to its features."
        }
        ModelKind::Severity => {
            "Never reads injury counts, narrative or findings; it does read aircraft damage and the number of \
             aircraft involved."
        }
    }
}

fn known_limits(kind: ModelKind) -> Vec<String> {
    let mut limits = vec![
        "Trained on accidents only (events classified as incidents are excluded).".to_string(),
        "Latitude/longitude, aircraft category, FAR part and pilot data are missing for many older events; the \
         model learns a direction for missing values, so its scores lean on what is present."
            .to_string(),
        "One held-out slice (the valid fraction) serves both early stopping and calibration.".to_string(),
        "Probabilities describe NTSB-investigated accidents, not the risk of a flight: there is no exposure \
         (flights or hours flown) in the data."
            .to_string(),
        "Multi-aircraft events are described by their first aircraft (damage is the worst of any aircraft)."
            .to_string(),
        "A value the record states as unknown (phase, weather, purpose, ...) is read as a category: it is \
         partly a fact about the investigation (an unknown phase of flight mostly means nobody could tell). \
         To score an event before the investigation, leave unknown facts out rather than sending `unknown`."
            .to_string(),
    ];
    if kind == ModelKind::Fatal || kind == ModelKind::Severity {
        limits.push(
            "Aircraft damage is an outcome known only after the event: these scores are not forecasts.".to_string(),
        );
    }
    limits
}

impl Card {
    /// The card of a saved model.
    pub fn new(model: &Model, trained_at: String, training_seconds: f64) -> Card {
        Card {
            model: model.kind.name().to_string(),
            version: model.version(),
            checksum: model.checksum.clone(),
            description: model.kind.description().to_string(),
            classes: model.kind.classes().iter().map(|c| c.to_string()).collect(),
            trained_at,
            training_seconds,
            data: model.training.clone(),
            features: model
                .features
                .iter()
                .map(|f| CardFeature {
                    name: f.name().to_string(),
                    type_: match f.kind() {
                        FeatureType::Numeric => "numeric".into(),
                        FeatureType::Categorical => "categorical".into(),
                    },
                    sources: f.sources().iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            leakage_rule: leakage_rule(model.kind).to_string(),
            held_out: model.held_out.clone(),
            params: model.params.clone(),
            decision_threshold: model.kind.is_binary().then_some(model.decision_threshold),
            known_limits: known_limits(model.kind),
        }
    }

    /// The card as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Model card: `{}` ({})\n", self.model, self.version);
        let _ = writeln!(s, "{}.\n", capital(&self.description));
        let _ = writeln!(s, "- Classes: {}", self.classes.join(", "));
        let _ = writeln!(s, "- Trained: {} in {:.1} s", self.trained_at, self.training_seconds);
        let _ = writeln!(s, "- Checksum (sha256 of the model content): `{}`\n", self.checksum);
        let _ = writeln!(s, "## Data\n");
        let d = &self.data;
        let _ = writeln!(s, "- Events: {} accidents with a known outcome", d.rows);
        let counts: Vec<String> = self.classes.iter().zip(&d.class_counts).map(|(c, n)| format!("{c} {n}")).collect();
        let _ = writeln!(s, "- Per class: {}", counts.join(", "));
        let _ = writeln!(
            s,
            "- Dates: {} to {}{}",
            d.first_event.as_deref().unwrap_or("?"),
            d.last_event.as_deref().unwrap_or("?"),
            d.train_until.as_deref().map(|u| format!(" (trained on events up to {u})")).unwrap_or_default()
        );
        let _ = writeln!(s, "- Snapshot (sha256 of event ids and labels): `{}`", d.data_checksum);
        let _ = writeln!(
            s,
            "- Seed {}; {:.0}% held out for early stopping and calibration; {} boosting rounds kept",
            d.seed,
            d.valid_fraction * 100.0,
            d.rounds
        );
        let weights: Vec<String> = d.class_weights.iter().map(|w| format!("{w:.3}")).collect();
        let _ = writeln!(s, "- Class weights: {}", weights.join(", "));
        if let Some(t) = self.decision_threshold {
            let _ = writeln!(s, "- Decision threshold: `fatal` when the calibrated probability is at least {t}");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "## Features\n\n{}\n", self.leakage_rule);
        let _ = writeln!(s, "| feature | type | reads |\n| --- | --- | --- |");
        for f in &self.features {
            let _ = writeln!(s, "| `{}` | {} | {} |", f.name, f.type_, f.sources.join(", "));
        }
        if let Some(h) = &self.held_out {
            let _ = writeln!(s, "\n## Held-out evaluation ({}, {} test events)\n", h.split, h.test_rows);
            let _ = writeln!(s, "| metric | gradient-boosted trees | logistic baseline |\n| --- | --- | --- |");
            for (k, v) in &h.gbdt {
                if k == "rows" {
                    continue;
                }
                let b = h.baseline.get(k).map(|b| format!("{b:.4}")).unwrap_or_else(|| "–".into());
                let _ = writeln!(s, "| {k} | {v:.4} | {b} |");
            }
            let _ = writeln!(s, "\nCalibration of the fatal probability on the test events:\n");
            let _ = writeln!(s, "| predicted | events | mean predicted | observed |\n| --- | --- | --- | --- |");
            for b in h.calibration.iter().filter(|b| b.count > 0) {
                let _ = writeln!(
                    s,
                    "| {:.1}–{:.1} | {} | {:.3} | {:.3} |",
                    b.from, b.to, b.count, b.mean_predicted, b.observed
                );
            }
        }
        let _ = writeln!(s, "\n## Known limits\n");
        for l in &self.known_limits {
            let _ = writeln!(s, "- {l}");
        }
        s
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
