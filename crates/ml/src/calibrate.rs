//! Probability calibration on a held-out slice: Platt scaling for binary models
//! (`sigmoid(a * score + b)`) and its multiclass form, one temperature plus a bias
//! per class (`softmax(a * scores + b)`). Both are monotone in the score, so
//! ranking metrics (ROC-AUC, PR-AUC) are unchanged by calibration.

use serde::{Deserialize, Serialize};

use crate::gbdt::softmax;

/// Fitted calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Scale of the raw scores.
    pub scale: f64,
    /// Offset per score.
    pub bias: Vec<f64>,
}

impl Calibration {
    /// The identity (no calibration).
    pub fn identity(n_scores: usize) -> Calibration {
        Calibration { scale: 1.0, bias: vec![0.0; n_scores] }
    }

    /// Fits on raw scores (`scores[row]`, each of `n_scores`) and class labels by
    /// minimising the log-loss (Adam, fixed iterations: deterministic).
    pub fn fit(scores: &[Vec<f64>], labels: &[usize]) -> Calibration {
        Calibration::fit_weighted(scores, labels, None)
    }

    /// [`Calibration::fit`] with a weight per row (`None`: every row weighs 1,
    /// exactly as [`Calibration::fit`]): minimises the weighted log-loss.
    pub fn fit_weighted(scores: &[Vec<f64>], labels: &[usize], weights: Option<&[f64]>) -> Calibration {
        let Some(k) = scores.first().map(Vec::len) else { return Calibration::identity(1) };
        let mut cal = Calibration::identity(k);
        if scores.len() < 20 {
            return cal;
        }
        let n = weights.map_or(scores.len() as f64, |w| w.iter().sum());
        if n.is_nan() || n <= 0.0 {
            return cal;
        }
        let weight = |row: usize| weights.map_or(1.0, |w| w[row]);
        let n_params = 1 + k;
        let (mut m, mut v) = (vec![0.0; n_params], vec![0.0; n_params]);
        let mut probs = vec![0.0; k.max(2)];
        let mut z = vec![0.0; k];
        for it in 1..=400 {
            let mut grad = vec![0.0; n_params];
            for (row, (s, &y)) in scores.iter().zip(labels).enumerate() {
                for c in 0..k {
                    z[c] = cal.scale * s[c] + cal.bias[c];
                }
                // Unweighted rows skip the multiplication (bit-identical to before).
                let w = weight(row);
                if k == 1 {
                    let p = 1.0 / (1.0 + (-z[0]).exp());
                    let mut e = p - if y == 1 { 1.0 } else { 0.0 };
                    if weights.is_some() {
                        e *= w;
                    }
                    grad[0] += e * s[0] / n;
                    grad[1] += e / n;
                } else {
                    softmax(&z, &mut probs[..k]);
                    for c in 0..k {
                        let mut e = probs[c] - if y == c { 1.0 } else { 0.0 };
                        if weights.is_some() {
                            e *= w;
                        }
                        grad[0] += e * s[c] / n;
                        grad[1 + c] += e / n;
                    }
                }
            }
            let (b1, b2, step) = (0.9f64, 0.999f64, 0.05);
            let (c1, c2) = (1.0 - b1.powi(it), 1.0 - b2.powi(it));
            for i in 0..n_params {
                m[i] = b1 * m[i] + (1.0 - b1) * grad[i];
                v[i] = b2 * v[i] + (1.0 - b2) * grad[i] * grad[i];
                let d = step * (m[i] / c1) / ((v[i] / c2).sqrt() + 1e-8);
                if i == 0 {
                    cal.scale -= d;
                } else {
                    cal.bias[i - 1] -= d;
                }
            }
        }
        if !cal.scale.is_finite() || cal.scale <= 0.0 || cal.bias.iter().any(|b| !b.is_finite()) {
            return Calibration::identity(k);
        }
        cal
    }

    /// Calibrated class probabilities (`[1 - p, p]` for binary models).
    pub fn probabilities(&self, raw: &[f64], n_classes: usize) -> Vec<f64> {
        if raw.len() == 1 {
            let p = 1.0 / (1.0 + (-(self.scale * raw[0] + self.bias[0])).exp());
            vec![1.0 - p, p]
        } else {
            let z: Vec<f64> = raw.iter().zip(&self.bias).map(|(s, b)| self.scale * s + b).collect();
            let mut out = vec![0.0; n_classes];
            softmax(&z, &mut out);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_scaling_corrects_a_shifted_score() {
        // True log-odds are s - 2; the model says s.
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        for i in 0..2000 {
            let s = (i % 100) as f64 / 10.0 - 3.0;
            let p = 1.0 / (1.0 + (-(s - 2.0)).exp());
            scores.push(vec![s]);
            labels.push(usize::from(((i * 7919) % 1000) as f64 / 1000.0 < p));
        }
        let cal = Calibration::fit(&scores, &labels);
        let p = cal.probabilities(&[2.0], 2)[1];
        assert!((p - 0.5).abs() < 0.1, "{p} {cal:?}");
    }

    #[test]
    fn unit_weights_calibrate_exactly_as_unweighted_and_weights_shift_the_fit() {
        let scores: Vec<Vec<f64>> = (0..500).map(|i| vec![(i % 50) as f64 / 10.0 - 2.5]).collect();
        let labels: Vec<usize> = (0..500).map(|i| usize::from((i * 7919) % 100 < 30 + (i % 50))).collect();
        let plain = Calibration::fit(&scores, &labels);
        assert_eq!(Calibration::fit_weighted(&scores, &labels, Some(&vec![1.0; 500])), plain);
        // Weighing the positives up raises every probability.
        let w: Vec<f64> = labels.iter().map(|&y| if y == 1 { 3.0 } else { 1.0 }).collect();
        let heavy = Calibration::fit_weighted(&scores, &labels, Some(&w));
        assert!(heavy.probabilities(&[0.0], 2)[1] > plain.probabilities(&[0.0], 2)[1] + 0.05, "{heavy:?} {plain:?}");
    }
}
