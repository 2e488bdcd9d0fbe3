//! Evaluation metrics. Binary: accuracy, balanced accuracy, ROC-AUC, PR-AUC
//! (average precision), precision, recall, F1, Brier score, log-loss. Multiclass:
//! accuracy, balanced accuracy, macro-F1, macro one-vs-rest ROC-AUC, Brier score,
//! log-loss. And the calibration table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Named metric values (`accuracy`, `roc_auc`, …).
pub type Metrics = BTreeMap<String, f64>;

/// One row of a calibration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Lower bound of predicted probability.
    pub from: f64,
    /// Upper bound.
    pub to: f64,
    /// Predictions in the bin.
    pub count: usize,
    /// Mean predicted probability.
    pub mean_predicted: f64,
    /// Observed rate of the positive class.
    pub observed: f64,
}

/// ROC-AUC by the rank-sum (ties count one half). `None` without both classes.
pub fn roc_auc(y: &[bool], score: &[f64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let (mut rank_sum, mut i) = (0.0, 0);
    let pos = y.iter().filter(|v| **v).count();
    let neg = y.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| y[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64))
}

/// Average precision (area under the precision-recall curve, step-wise; tied
/// scores form one step).
pub fn pr_auc(y: &[bool], score: &[f64]) -> Option<f64> {
    let pos = y.iter().filter(|v| **v).count();
    if pos == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let (mut tp, mut seen, mut ap, mut i) = (0usize, 0usize, 0.0, 0);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let new_tp = idx[i..=j].iter().filter(|&&k| y[k]).count();
        tp += new_tp;
        seen += j - i + 1;
        ap += new_tp as f64 / pos as f64 * (tp as f64 / seen as f64);
        i = j + 1;
    }
    Some(ap)
}

fn f1(tp: f64, fp: f64, fn_: f64) -> f64 {
    if tp == 0.0 { 0.0 } else { 2.0 * tp / (2.0 * tp + fp + fn_) }
}

/// Metrics of a binary model: `labels` 0/1, `p` the predicted probability of 1,
/// class 1 predicted when `p >= 0.5`.
pub fn binary(labels: &[usize], p: &[f64]) -> Metrics {
    binary_at(labels, p, 0.5)
}

/// [`binary`] with the positive class predicted when `p >= threshold`.
pub fn binary_at(labels: &[usize], p: &[f64], threshold: f64) -> Metrics {
    let y: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
    let n = y.len().max(1) as f64;
    let (mut tp, mut fp, mut tn, mut fn_) = (0.0, 0.0, 0.0, 0.0);
    let (mut brier, mut ll) = (0.0, 0.0);
    for (&t, &q) in y.iter().zip(p) {
        match (t, q >= threshold) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (false, false) => tn += 1.0,
            (true, false) => fn_ += 1.0,
        }
        let o = if t { 1.0 } else { 0.0 };
        brier += (q - o).powi(2);
        ll -= if t { q.max(1e-15).ln() } else { (1.0 - q).max(1e-15).ln() };
    }
    let recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
    let specificity = if tn + fp > 0.0 { tn / (tn + fp) } else { 0.0 };
    let mut m = Metrics::new();
    m.insert("rows".into(), y.len() as f64);
    m.insert("positive_rate".into(), (tp + fn_) / n);
    m.insert("accuracy".into(), (tp + tn) / n);
    m.insert("balanced_accuracy".into(), (recall + specificity) / 2.0);
    m.insert("precision".into(), if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 });
    m.insert("recall".into(), recall);
    m.insert("f1".into(), f1(tp, fp, fn_));
    m.insert("brier".into(), brier / n);
    m.insert("log_loss".into(), ll / n);
    if let Some(auc) = roc_auc(&y, p) {
        m.insert("roc_auc".into(), auc);
    }
    if let Some(ap) = pr_auc(&y, p) {
        m.insert("pr_auc".into(), ap);
    }
    m
}

/// Metrics of a multiclass model: `probs[row][class]`, the predicted class is the
/// most probable one. `fatal_class` also gets binary fatal-vs-rest ROC-AUC.
pub fn multiclass(labels: &[usize], probs: &[Vec<f64>], n_classes: usize, fatal_class: usize) -> Metrics {
    let n = labels.len().max(1) as f64;
    let mut confusion = vec![vec![0.0; n_classes]; n_classes];
    let (mut brier, mut ll) = (0.0, 0.0);
    for (&y, p) in labels.iter().zip(probs) {
        let pred = argmax(p);
        confusion[y][pred] += 1.0;
        for (c, q) in p.iter().enumerate() {
            brier += (q - if c == y { 1.0 } else { 0.0 }).powi(2);
        }
        ll -= p[y].max(1e-15).ln();
    }
    let mut recalls = Vec::new();
    let mut f1s = Vec::new();
    let mut aucs = Vec::new();
    for c in 0..n_classes {
        let tp = confusion[c][c];
        let fn_: f64 = confusion[c].iter().sum::<f64>() - tp;
        let fp: f64 = (0..n_classes).map(|r| confusion[r][c]).sum::<f64>() - tp;
        if tp + fn_ > 0.0 {
            recalls.push(tp / (tp + fn_));
        }
        f1s.push(f1(tp, fp, fn_));
        let y: Vec<bool> = labels.iter().map(|&l| l == c).collect();
        let s: Vec<f64> = probs.iter().map(|p| p[c]).collect();
        if let Some(a) = roc_auc(&y, &s) {
            aucs.push(a);
        }
    }
    let mean = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    let mut m = Metrics::new();
    m.insert("rows".into(), labels.len() as f64);
    m.insert("accuracy".into(), (0..n_classes).map(|c| confusion[c][c]).sum::<f64>() / n);
    m.insert("balanced_accuracy".into(), mean(&recalls));
    m.insert("macro_f1".into(), mean(&f1s));
    m.insert("roc_auc".into(), mean(&aucs));
    m.insert("brier".into(), brier / n);
    m.insert("log_loss".into(), ll / n);
    let y: Vec<bool> = labels.iter().map(|&l| l == fatal_class).collect();
    let s: Vec<f64> = probs.iter().map(|p| p[fatal_class]).collect();
    if let Some(a) = roc_auc(&y, &s) {
        m.insert("fatal_roc_auc".into(), a);
    }
    m
}

/// Index of the largest value (first on ties).
pub fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

/// Calibration table in `bins` equal-width bins of predicted probability.
pub fn calibration_table(positive: &[bool], p: &[f64], bins: usize) -> Vec<CalibrationBin> {
    let mut out: Vec<CalibrationBin> = (0..bins)
        .map(|i| CalibrationBin {
            from: i as f64 / bins as f64,
            to: (i + 1) as f64 / bins as f64,
            count: 0,
            mean_predicted: 0.0,
            observed: 0.0,
        })
        .collect();
    for (&y, &q) in positive.iter().zip(p) {
        let b = ((q * bins as f64) as usize).min(bins - 1);
        out[b].count += 1;
        out[b].mean_predicted += q;
        out[b].observed += if y { 1.0 } else { 0.0 };
    }
    for b in &mut out {
        if b.count > 0 {
            b.mean_predicted /= b.count as f64;
            b.observed /= b.count as f64;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_moves_the_class_metrics_only() {
        let y = [0, 0, 1, 1];
        let p = [0.2, 0.55, 0.65, 0.9];
        let (a, b) = (binary(&y, &p), binary_at(&y, &p, 0.6));
        assert_eq!(a["accuracy"], 0.75);
        assert_eq!(b["accuracy"], 1.0);
        assert_eq!((a["roc_auc"], a["brier"], a["log_loss"]), (b["roc_auc"], b["brier"], b["log_loss"]));
        assert_eq!(binary_at(&y, &p, 0.5), a);
    }

    #[test]
    fn auc_and_average_precision_of_known_cases() {
        let y = [false, false, true, true];
        assert_eq!(roc_auc(&y, &[0.1, 0.4, 0.35, 0.8]), Some(0.75));
        assert_eq!(roc_auc(&y, &[0.5; 4]), Some(0.5));
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
        let ap = pr_auc(&y, &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!((ap - (0.5 * 1.0 + 0.5 * (2.0 / 3.0))).abs() < 1e-12, "{ap}");
    }

    #[test]
    fn binary_metrics_count_the_confusion_matrix() {
        let m = binary(&[1, 1, 0, 0], &[0.9, 0.2, 0.1, 0.6]);
        assert_eq!(m["accuracy"], 0.5);
        assert_eq!(m["balanced_accuracy"], 0.5);
        assert_eq!(m["f1"], 0.5);
        let mc = multiclass(&[0, 1, 2], &[vec![0.8, 0.1, 0.1], vec![0.2, 0.7, 0.1], vec![0.5, 0.2, 0.3]], 3, 2);
        assert!((mc["accuracy"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((mc["macro_f1"] - (2.0 / 3.0 + 1.0 + 0.0) / 3.0).abs() < 1e-12, "{mc:?}");
    }

    #[test]
    fn calibration_table_bins_by_predicted_probability() {
        let t = calibration_table(&[true, false, true], &[0.95, 0.05, 1.0], 10);
        assert_eq!(t[9].count, 2);
        assert_eq!(t[9].observed, 1.0);
        assert_eq!(t[0].count, 1);
    }
}
