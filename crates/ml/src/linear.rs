//! The logistic-regression baseline: one-hot categories (the same category bins
//! as the trees) and standardised numbers with a missing indicator, trained by
//! full-batch gradient descent (Adam) with L2 regularisation. Binary or softmax.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::encode::Encoder;
use crate::features::Raw;
use crate::gbdt::{Target, softmax};

/// Iterations of full-batch descent.
const ITERATIONS: usize = 300;
/// Adam step size.
const STEP: f64 = 0.05;
/// L2 penalty per weight.
const L2: f64 = 1e-4;
/// Rows per parallel gradient chunk (fixed, so results do not depend on threads).
const CHUNK: usize = 4096;

/// How one feature becomes columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Column {
    /// One-hot over the encoder's bins, starting at `offset`.
    OneHot { offset: usize },
    /// Standardised value at `offset`, missing indicator at `offset + 1`.
    Numeric { offset: usize, mean: f64, std: f64 },
}

/// A trained logistic (or softmax) regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    n_scores: usize,
    dim: usize,
    columns: Vec<Column>,
    weights: Vec<f64>,
    bias: Vec<f64>,
}

impl Logistic {
    /// Fits the baseline on raw rows (`raw[row][feature]`).
    pub fn fit(encoders: &[Encoder], raw: &[Vec<Raw>], target: Target<'_>, n_classes: usize) -> Logistic {
        let k = if n_classes <= 2 { 1 } else { n_classes };
        let mut columns = Vec::with_capacity(encoders.len());
        let mut dim = 0;
        for (j, enc) in encoders.iter().enumerate() {
            if enc.is_categorical() {
                columns.push(Column::OneHot { offset: dim });
                dim += enc.n_bins();
            } else {
                let vals: Vec<f64> =
                    raw.iter().filter_map(|r| if let Raw::Num(x) = r[j] { Some(x) } else { None }).collect();
                let n = vals.len().max(1) as f64;
                let mean = vals.iter().sum::<f64>() / n;
                let var = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                columns.push(Column::Numeric { offset: dim, mean, std: var.sqrt().max(1e-9) });
                dim += 2;
            }
        }
        let mut model = Logistic { n_scores: k, dim, columns, weights: vec![0.0; k * dim], bias: vec![0.0; k] };
        let rows: Vec<Vec<(usize, f64)>> = raw.iter().map(|r| model.sparse(encoders, r)).collect();
        let wsum: f64 = target.weights.iter().sum::<f64>().max(1e-12);
        let n_params = k * dim + k;
        let (mut m, mut v) = (vec![0.0; n_params], vec![0.0; n_params]);
        let mut grad = vec![0.0; n_params];
        for it in 1..=ITERATIONS {
            // Gradient over fixed chunks of rows, in parallel; the partial sums are
            // added in chunk order, so the result does not depend on the threads.
            let partials: Vec<Vec<f64>> = rows
                .par_chunks(CHUNK)
                .enumerate()
                .map(|(ci, chunk)| {
                    let mut part = vec![0.0; n_params];
                    let mut scores = vec![0.0; k];
                    let mut probs = vec![0.0; k.max(2)];
                    for (j, row) in chunk.iter().enumerate() {
                        let i = ci * CHUNK + j;
                        model.scores(row, &mut scores);
                        let w = target.weights[i] / wsum;
                        let y = target.labels[i];
                        if k > 1 {
                            softmax(&scores, &mut probs[..k]);
                        }
                        for c in 0..k {
                            let err = if k == 1 {
                                1.0 / (1.0 + (-scores[0]).exp()) - if y == 1 { 1.0 } else { 0.0 }
                            } else {
                                probs[c] - if y == c { 1.0 } else { 0.0 }
                            };
                            let e = err * w;
                            for &(col, x) in row {
                                part[c * dim + col] += e * x;
                            }
                            part[k * dim + c] += e;
                        }
                    }
                    part
                })
                .collect();
            grad.iter_mut().for_each(|g| *g = 0.0);
            for part in &partials {
                for (g, p) in grad.iter_mut().zip(part) {
                    *g += p;
                }
            }
            for (i, g) in grad.iter_mut().enumerate().take(k * dim) {
                *g += L2 * model.weights[i];
            }
            // Adam.
            let (b1, b2) = (0.9f64, 0.999f64);
            let (c1, c2) = (1.0 - b1.powi(it as i32), 1.0 - b2.powi(it as i32));
            for i in 0..n_params {
                m[i] = b1 * m[i] + (1.0 - b1) * grad[i];
                v[i] = b2 * v[i] + (1.0 - b2) * grad[i] * grad[i];
                let step = STEP * (m[i] / c1) / ((v[i] / c2).sqrt() + 1e-8);
                if i < k * dim {
                    model.weights[i] -= step;
                } else {
                    model.bias[i - k * dim] -= step;
                }
            }
        }
        model
    }

    fn sparse(&self, encoders: &[Encoder], row: &[Raw]) -> Vec<(usize, f64)> {
        let mut out = Vec::with_capacity(row.len() + 4);
        for ((col, enc), value) in self.columns.iter().zip(encoders).zip(row) {
            match col {
                Column::OneHot { offset } => out.push((offset + usize::from(enc.encode(value).bin), 1.0)),
                Column::Numeric { offset, mean, std } => match value {
                    Raw::Num(x) if x.is_finite() => out.push((*offset, ((x - mean) / std).clamp(-10.0, 10.0))),
                    _ => out.push((offset + 1, 1.0)),
                },
            }
        }
        out
    }

    fn scores(&self, row: &[(usize, f64)], out: &mut [f64]) {
        for (c, o) in out.iter_mut().enumerate() {
            let w = &self.weights[c * self.dim..(c + 1) * self.dim];
            *o = self.bias[c] + row.iter().map(|&(col, x)| w[col] * x).sum::<f64>();
        }
    }

    /// Raw scores (log-odds or logits) of one raw row.
    pub fn raw(&self, encoders: &[Encoder], row: &[Raw]) -> Vec<f64> {
        let mut out = vec![0.0; self.n_scores];
        self.scores(&self.sparse(encoders, row), &mut out);
        out
    }
}
