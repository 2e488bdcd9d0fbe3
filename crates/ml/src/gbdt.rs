//! Histogram-based gradient-boosted decision trees, written for this data.
//!
//! * Leaf-wise growth on binned features (see [`crate::encode`]); the smaller
//!   child's histogram is built, the larger one's is the parent's minus it.
//! * Numeric splits are `bin <= t`; categorical splits send a set of categories
//!   left, found by ordering the categories by their gradient statistics
//!   (`sum g / (sum h + cat_smooth)`) and scanning prefixes.
//! * Missing values (bin 0) go the way learned at each split (both tried).
//! * Binary log-loss or multiclass softmax (one tree per class and round), sample
//!   weights for class weighting, early stopping on a validation slice.
//! * Deterministic: the only randomness is the per-tree feature sample, drawn from
//!   a seeded generator; sums run in a fixed order.
//!
//! Every node keeps its value (what the tree would answer if it stopped there), so
//! [`Booster::contributions`] gives exact path attributions (Saabas): per tree the
//! root value plus the value changes along the path add up to the leaf.

use serde::{Deserialize, Serialize};

use crate::encode::Binned;
use crate::forest::Forest;
use crate::rng::Rng;

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Shrinkage of each tree.
    pub learning_rate: f64,
    /// Most leaves per tree.
    pub max_leaves: usize,
    /// Deepest split.
    pub max_depth: usize,
    /// Fewest rows in a leaf.
    pub min_child_samples: usize,
    /// Smallest hessian sum in a leaf.
    pub min_child_hessian: f64,
    /// L2 regularisation of leaf values.
    pub lambda: f64,
    /// Extra L2 regularisation of categorical splits.
    pub cat_l2: f64,
    /// Smoothing of the category ordering.
    pub cat_smooth: f64,
    /// Fewest rows for a category to be ordered individually.
    pub min_data_per_category: usize,
    /// Most categories sent left by one split.
    pub max_cat_threshold: usize,
    /// Most boosting rounds.
    pub max_rounds: usize,
    /// Stop after this many rounds without improvement on the validation slice.
    pub early_stopping_rounds: usize,
    /// Share of features sampled per tree.
    pub feature_fraction: f64,
    /// Seed of the feature sampling.
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            learning_rate: 0.05,
            max_leaves: 63,
            max_depth: 10,
            min_child_samples: 20,
            min_child_hessian: 1e-3,
            lambda: 1.0,
            cat_l2: 10.0,
            cat_smooth: 10.0,
            min_data_per_category: 20,
            max_cat_threshold: 64,
            max_rounds: 800,
            early_stopping_rounds: 30,
            feature_fraction: 0.8,
            seed: 42,
        }
    }
}

/// One node. Leaves have `kind == LEAF`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature tested.
    #[serde(rename = "f")]
    pub feature: u16,
    /// [`LEAF`], [`NUMERIC`] or [`CATEGORICAL`].
    #[serde(rename = "k")]
    pub kind: u8,
    /// Numeric splits: bins `<= threshold` go left.
    #[serde(rename = "t")]
    pub threshold: u8,
    /// Where missing values (bin 0) go.
    #[serde(rename = "d")]
    pub default_left: bool,
    /// Left child.
    #[serde(rename = "l")]
    pub left: u32,
    /// Right child.
    #[serde(rename = "r")]
    pub right: u32,
    /// Categorical splits: index of the left set in [`Tree::cat_sets`].
    #[serde(rename = "c")]
    pub cats: u32,
    /// Value of the node (the leaf value for leaves), already shrunk.
    #[serde(rename = "v")]
    pub value: f64,
}

/// A leaf.
pub const LEAF: u8 = 0;
/// A numeric split.
pub const NUMERIC: u8 = 1;
/// A categorical split.
pub const CATEGORICAL: u8 = 2;

/// One tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Left category sets of categorical splits, as 256-bit sets.
    pub cat_sets: Vec<[u64; 4]>,
}

impl Tree {
    #[inline]
    fn goes_left(&self, n: &Node, bins: &[u8]) -> bool {
        let b = bins[usize::from(n.feature)];
        if b == 0 {
            n.default_left
        } else if n.kind == NUMERIC {
            b <= n.threshold
        } else {
            let set = &self.cat_sets[n.cats as usize];
            (set[usize::from(b >> 6)] >> (b & 63)) & 1 == 1
        }
    }

    /// Index of the leaf a row reaches.
    #[inline]
    pub fn leaf(&self, bins: &[u8]) -> usize {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.kind == LEAF {
                return i;
            }
            i = if self.goes_left(n, bins) { n.left } else { n.right } as usize;
        }
    }

    /// Adds the path attribution of a row to `contrib` (per feature) and returns
    /// the root value.
    fn attribute(&self, bins: &[u8], contrib: &mut [f64]) -> f64 {
        let mut i = 0usize;
        loop {
            let n = &self.nodes[i];
            if n.kind == LEAF {
                return self.nodes[0].value;
            }
            let next = if self.goes_left(n, bins) { n.left } else { n.right } as usize;
            contrib[usize::from(n.feature)] += self.nodes[next].value - n.value;
            i = next;
        }
    }
}

/// A trained ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booster {
    /// Scores per row: 1 for binary models, one per class otherwise.
    pub n_scores: usize,
    /// Initial score per output.
    pub base: Vec<f64>,
    /// Trees, round by round (`n_scores` per round).
    pub trees: Vec<Tree>,
    /// Number of features.
    pub n_features: usize,
    /// The trees flattened for scoring, built on first use (derived data: not
    /// saved, not compared).
    #[serde(skip)]
    pub(crate) compiled: Compiled,
}

/// A lazily built [`Forest`] (`None`: the model cannot be flattened and is
/// scored by walking its trees); equal to any other, since it is derived from
/// the trees.
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled(std::sync::OnceLock<Option<Forest>>);

impl PartialEq for Compiled {
    fn eq(&self, _: &Compiled) -> bool {
        true
    }
}

/// A row's raw scores, bias and contributions, one of each per output
/// (`contributions[output][feature]`): what [`Booster::explain`] gives.
pub type Explained = (Vec<f64>, Vec<f64>, Vec<Vec<f64>>);

/// What [`Booster::explain_rows`] gives: [`Explained`] of many rows, flat.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainedRows {
    raw: Vec<f64>,
    bias: Vec<f64>,
    contrib: Vec<f64>,
    n_scores: usize,
    n_features: usize,
}

impl ExplainedRows {
    /// Row `i`'s raw scores, one per output.
    pub fn raw(&self, i: usize) -> &[f64] {
        &self.raw[i * self.n_scores..][..self.n_scores]
    }

    /// Row `i`'s bias, one per output.
    pub fn bias(&self, i: usize) -> &[f64] {
        &self.bias[i * self.n_scores..][..self.n_scores]
    }

    /// Row `i`'s contributions to `output`, one per feature.
    pub fn contributions(&self, i: usize, output: usize) -> &[f64] {
        &self.contrib[(i * self.n_scores + output) * self.n_features..][..self.n_features]
    }
}

impl Booster {
    /// A booster from its parts.
    pub fn new(n_scores: usize, base: Vec<f64>, trees: Vec<Tree>, n_features: usize) -> Booster {
        Booster { n_scores, base, trees, n_features, compiled: Compiled::default() }
    }

    /// The trees flattened for fast scoring (built once, on first use); `None`
    /// for models the flat layout cannot hold.
    pub fn forest(&self) -> Option<&Forest> {
        self.compiled.0.get_or_init(|| Forest::compile(self)).as_ref()
    }

    /// Raw scores (log-odds, or per-class logits) of one row of bins; `out` has
    /// one slot per output ([`Booster::n_scores`]). Allocation-free.
    pub fn raw(&self, bins: &[u8], out: &mut [f64]) {
        match self.forest() {
            Some(forest) => {
                out.copy_from_slice(&self.base);
                forest.add_raw(bins, out);
            }
            None => self.raw_by_walking(bins, out),
        }
    }

    /// Raw scores by walking the trained trees node by node: the reference the
    /// flattened [`Forest`] is tested against.
    pub fn raw_by_walking(&self, bins: &[u8], out: &mut [f64]) {
        out.copy_from_slice(&self.base);
        for (t, tree) in self.trees.iter().enumerate() {
            out[t % self.n_scores] += tree.nodes[tree.leaf(bins)].value;
        }
    }

    /// Exact path attributions: `(bias, contributions)` per output, where
    /// `bias[k] + sum(contributions[k]) == raw[k]` up to float rounding.
    pub fn contributions(&self, bins: &[u8]) -> (Vec<f64>, Vec<Vec<f64>>) {
        let (_, bias, contrib) = self.explain(bins);
        (bias, contrib)
    }

    /// Raw scores and their exact path attributions from one walk of the trees:
    /// `(raw, bias, contributions)`, the raw scores bit for bit those of
    /// [`Booster::raw`] and the attributions those of [`Booster::contributions`].
    pub fn explain(&self, bins: &[u8]) -> Explained {
        let mut raw = self.base.clone();
        let mut bias = self.base.clone();
        let mut contrib = vec![vec![0.0; self.n_features]; self.n_scores];
        match self.forest() {
            Some(forest) => forest.add_explained(bins, &mut raw, &mut bias, &mut contrib),
            None => {
                self.raw_by_walking(bins, &mut raw);
                (bias, contrib) = self.contributions_by_walking(bins);
            }
        }
        (raw, bias, contrib)
    }

    /// [`Booster::explain`] of many rows, in order: the same results bit for
    /// bit (see [`Booster::explain_rows`]), one allocation per row and output.
    pub fn explain_many(&self, rows: &[Vec<u8>]) -> Vec<Explained> {
        let all = self.explain_rows(rows);
        (0..rows.len())
            .map(|i| {
                let per_output = |o: usize| all.contributions(i, o).to_vec();
                (all.raw(i).to_vec(), all.bias(i).to_vec(), (0..self.n_scores).map(per_output).collect())
            })
            .collect()
    }

    /// [`Booster::explain`] of many rows, in order, in three flat arrays: the
    /// same results bit for bit, made tree by tree over all the rows
    /// ([`Forest::add_explained_many`]), which keeps each tree's nodes in cache
    /// while the rows pass through it.
    pub fn explain_rows(&self, rows: &[Vec<u8>]) -> ExplainedRows {
        let (k, n, width) = (self.n_scores, rows.len(), self.n_features);
        let mut all = ExplainedRows {
            raw: self.base.iter().copied().cycle().take(n * k).collect(),
            bias: Vec::with_capacity(n * k),
            contrib: vec![0.0; n * k * width],
            n_scores: k,
            n_features: width,
        };
        match self.forest() {
            Some(forest) => {
                // Every row's bias is the same sum, made once.
                let mut bias = self.base.clone();
                forest.add_bias(&mut bias);
                for _ in 0..n {
                    all.bias.extend_from_slice(&bias);
                }
                forest.add_explained_many(rows, &mut all.raw, &mut all.contrib);
            }
            None => {
                for (i, bins) in rows.iter().enumerate() {
                    let (raw, bias, contrib) = self.explain(bins);
                    all.raw[i * k..][..k].copy_from_slice(&raw);
                    all.bias.extend_from_slice(&bias);
                    for (o, c) in contrib.iter().enumerate() {
                        all.contrib[(i * k + o) * width..][..width].copy_from_slice(c);
                    }
                }
            }
        }
        all
    }

    /// [`Booster::contributions`] by walking the trained trees: the reference
    /// the flattened forest is tested against, and the path for models it
    /// cannot hold.
    pub(crate) fn contributions_by_walking(&self, bins: &[u8]) -> (Vec<f64>, Vec<Vec<f64>>) {
        let mut bias = self.base.clone();
        let mut contrib = vec![vec![0.0; self.n_features]; self.n_scores];
        for (t, tree) in self.trees.iter().enumerate() {
            let k = t % self.n_scores;
            bias[k] += tree.attribute(bins, &mut contrib[k]);
        }
        (bias, contrib)
    }

    /// Boosting rounds.
    pub fn rounds(&self) -> usize {
        self.trees.len() / self.n_scores.max(1)
    }
}

/// Labels and weights of a data set.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Class index per row.
    pub labels: &'a [usize],
    /// Weight per row.
    pub weights: &'a [f64],
}

/// What happened during training.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainLog {
    /// Rounds kept (the best on the validation slice).
    pub rounds: usize,
    /// Validation loss per round.
    pub valid_loss: Vec<f64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    c: f64,
}

impl Bin {
    fn add(&mut self, o: &Bin) {
        self.g += o.g;
        self.h += o.h;
        self.c += o.c;
    }
    fn sub(&self, o: &Bin) -> Bin {
        Bin { g: self.g - o.g, h: self.h - o.h, c: self.c - o.c }
    }
}

#[derive(Debug, Clone)]
struct Split {
    feature: usize,
    gain: f64,
    categorical: bool,
    threshold: u8,
    set: [u64; 4],
    default_left: bool,
    left: Bin,
    right: Bin,
}

struct Leaf {
    node: usize,
    rows: Vec<u32>,
    hist: Vec<Bin>,
    depth: usize,
    best: Option<Split>,
}

struct Grower<'a> {
    data: &'a Binned,
    g: &'a [f64],
    h: &'a [f64],
    p: &'a Params,
    features: Vec<usize>,
    offsets: Vec<usize>,
    total_bins: usize,
}

fn leaf_value(s: &Bin, lambda: f64, lr: f64) -> f64 {
    -s.g / (s.h + lambda) * lr
}

fn score(s: &Bin, lambda: f64) -> f64 {
    s.g * s.g / (s.h + lambda)
}

/// Below this many (row, feature) updates a histogram is built on one thread:
/// handing out the work would cost more than it saves.
const PARALLEL_HISTOGRAM_WORK: usize = 64 * 1024;

impl Grower<'_> {
    /// The histogram of `rows` over the sampled features.
    ///
    /// Each feature's bins are summed over the rows in ascending row order,
    /// whatever thread does it, so the result (and the tree) does not depend on
    /// the number of threads. Gradients are first gathered in row order, so the
    /// per-feature passes read them sequentially.
    fn histogram(&self, rows: &[u32]) -> Vec<Bin> {
        use rayon::prelude::*;
        let mut hist = vec![Bin::default(); self.total_bins];
        let gh: Vec<[f64; 2]> = rows.iter().map(|&r| [self.g[r as usize], self.h[r as usize]]).collect();
        // Disjoint slices of `hist`, one per sampled feature (sorted, so offsets grow).
        let mut slices: Vec<(usize, &mut [Bin])> = Vec::with_capacity(self.features.len());
        let mut rest: &mut [Bin] = &mut hist;
        let mut pos = 0;
        for &f in &self.features {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(self.offsets[f] - pos);
            let (mine, tail) = tail.split_at_mut(self.data.n_bins[f]);
            slices.push((f, mine));
            rest = tail;
            pos = self.offsets[f] + self.data.n_bins[f];
        }
        let fill = |(f, hf): (usize, &mut [Bin])| {
            let col = &self.data.columns[f];
            for (&r, &[g, h]) in rows.iter().zip(&gh) {
                let b = &mut hf[usize::from(col[r as usize])];
                b.g += g;
                b.h += h;
                b.c += 1.0;
            }
        };
        if rows.len() * self.features.len() >= PARALLEL_HISTOGRAM_WORK {
            slices.into_par_iter().for_each(fill);
        } else {
            slices.into_iter().for_each(fill);
        }
        hist
    }

    fn ok(&self, s: &Bin) -> bool {
        s.c >= self.p.min_child_samples as f64 && s.h >= self.p.min_child_hessian
    }

    fn best_split(&self, hist: &[Bin], sum: &Bin) -> Option<Split> {
        let lambda = self.p.lambda;
        let mut best: Option<Split> = None;
        for &f in &self.features {
            let hf = &hist[self.offsets[f]..self.offsets[f] + self.data.n_bins[f]];
            let miss = hf[0];
            let nonmiss = sum.sub(&miss);
            let mut consider = |left: Bin, categorical: bool, threshold: u8, set: [u64; 4], default_left: bool| {
                let right = sum.sub(&left);
                if !self.ok(&left) || !self.ok(&right) {
                    return;
                }
                let l2 = if categorical { lambda + self.p.cat_l2 } else { lambda };
                let gain = score(&left, l2) + score(&right, l2) - score(sum, l2);
                if gain > 1e-9 && best.as_ref().is_none_or(|b| gain > b.gain) {
                    best = Some(Split { feature: f, gain, categorical, threshold, set, default_left, left, right });
                }
            };
            if !self.data.categorical[f] {
                let mut cum = Bin::default();
                for (b, bin) in hf.iter().enumerate().take(hf.len() - 1).skip(1) {
                    cum.add(bin);
                    if cum.c == 0.0 {
                        continue;
                    }
                    if cum.c >= nonmiss.c {
                        break;
                    }
                    let mut with_missing = cum;
                    with_missing.add(&miss);
                    consider(cum, false, b as u8, [0; 4], false);
                    if miss.c > 0.0 {
                        consider(with_missing, false, b as u8, [0; 4], true);
                    }
                }
            } else {
                let mut cats: Vec<(usize, f64)> = hf
                    .iter()
                    .enumerate()
                    .skip(1)
                    .filter(|(_, b)| b.c >= self.p.min_data_per_category as f64)
                    .map(|(i, b)| (i, b.g / (b.h + self.p.cat_smooth)))
                    .collect();
                if cats.len() < 2 && !(cats.len() == 1 && miss.c > 0.0) {
                    continue;
                }
                cats.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
                let mut cum = Bin::default();
                let mut set = [0u64; 4];
                let limit = cats.len().min(self.p.max_cat_threshold);
                for &(b, _) in cats.iter().take(limit) {
                    cum.add(&hf[b]);
                    set[b >> 6] |= 1 << (b & 63);
                    if cum.c >= nonmiss.c && miss.c == 0.0 {
                        break;
                    }
                    let mut with_missing = cum;
                    with_missing.add(&miss);
                    if cum.c < nonmiss.c {
                        consider(cum, true, 0, set, false);
                    }
                    if miss.c > 0.0 {
                        consider(with_missing, true, 0, set, true);
                    }
                }
            }
        }
        best
    }

    fn goes_left(&self, s: &Split, row: usize) -> bool {
        let b = self.data.columns[s.feature][row];
        if b == 0 {
            s.default_left
        } else if s.categorical {
            (s.set[usize::from(b >> 6)] >> (b & 63)) & 1 == 1
        } else {
            b <= s.threshold
        }
    }

    /// Grows one tree; returns it with the leaf of every training row's set.
    fn grow(&self, rows: Vec<u32>) -> (Tree, Vec<(Vec<u32>, f64)>) {
        let p = self.p;
        let hist = self.histogram(&rows);
        let sum = rows.iter().fold(Bin::default(), |mut s, &r| {
            s.g += self.g[r as usize];
            s.h += self.h[r as usize];
            s.c += 1.0;
            s
        });
        let mut tree = Tree { nodes: Vec::new(), cat_sets: Vec::new() };
        tree.nodes.push(Node {
            feature: 0,
            kind: LEAF,
            threshold: 0,
            default_left: false,
            left: 0,
            right: 0,
            cats: 0,
            value: leaf_value(&sum, p.lambda, p.learning_rate),
        });
        let best = if p.max_depth > 0 { self.best_split(&hist, &sum) } else { None };
        let mut open = vec![Leaf { node: 0, rows, hist, depth: 0, best }];
        let mut done: Vec<Leaf> = Vec::new();
        let mut n_leaves = 1;
        while n_leaves < p.max_leaves {
            let pick = open
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.best.as_ref().map(|b| (i, b.gain)))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            let Some((i, _)) = pick else { break };
            let leaf = open.swap_remove(i);
            let Some(split) = leaf.best.clone() else { break };
            let (left_rows, right_rows): (Vec<u32>, Vec<u32>) =
                leaf.rows.iter().partition(|&&r| self.goes_left(&split, r as usize));
            let (small_rows, small_is_left) =
                if left_rows.len() <= right_rows.len() { (&left_rows, true) } else { (&right_rows, false) };
            let small_hist = self.histogram(small_rows);
            let large_hist: Vec<Bin> = leaf.hist.iter().zip(&small_hist).map(|(a, b)| a.sub(b)).collect();
            let (left_hist, right_hist) =
                if small_is_left { (small_hist, large_hist) } else { (large_hist, small_hist) };
            let li = tree.nodes.len();
            for s in [&split.left, &split.right] {
                tree.nodes.push(Node {
                    feature: 0,
                    kind: LEAF,
                    threshold: 0,
                    default_left: false,
                    left: 0,
                    right: 0,
                    cats: 0,
                    value: leaf_value(s, p.lambda, p.learning_rate),
                });
            }
            let cats = if split.categorical {
                tree.cat_sets.push(split.set);
                (tree.cat_sets.len() - 1) as u32
            } else {
                0
            };
            let parent = &mut tree.nodes[leaf.node];
            parent.feature = split.feature as u16;
            parent.kind = if split.categorical { CATEGORICAL } else { NUMERIC };
            parent.threshold = split.threshold;
            parent.default_left = split.default_left;
            parent.left = li as u32;
            parent.right = (li + 1) as u32;
            parent.cats = cats;
            let depth = leaf.depth + 1;
            for (node, rows, hist, sum) in
                [(li, left_rows, left_hist, split.left), (li + 1, right_rows, right_hist, split.right)]
            {
                let best = if depth < p.max_depth && rows.len() >= 2 * p.min_child_samples {
                    self.best_split(&hist, &sum)
                } else {
                    None
                };
                let child = Leaf { node, rows, hist, depth, best };
                if child.best.is_some() { open.push(child) } else { done.push(child) }
            }
            n_leaves += 1;
        }
        done.extend(open);
        let leaves = done
            .into_iter()
            .map(|l| {
                let v = tree.nodes[l.node].value;
                (l.rows, v)
            })
            .collect();
        (tree, leaves)
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Softmax of `scores` into `out`.
pub fn softmax(scores: &[f64], out: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for (o, s) in out.iter_mut().zip(scores) {
        *o = (s - max).exp();
        total += *o;
    }
    for o in out.iter_mut() {
        *o /= total;
    }
}

/// Probabilities per class from raw scores (`[1 - p, p]` for binary models).
pub fn probabilities(raw: &[f64], n_classes: usize) -> Vec<f64> {
    if raw.len() == 1 {
        let p = sigmoid(raw[0]);
        vec![1.0 - p, p]
    } else {
        let mut out = vec![0.0; n_classes];
        softmax(raw, &mut out);
        out
    }
}

fn loss(scores: &[f64], n_scores: usize, t: Target<'_>) -> f64 {
    let mut total = 0.0;
    let mut wsum = 0.0;
    let mut probs = vec![0.0; n_scores.max(2)];
    for (i, (&y, &w)) in t.labels.iter().zip(t.weights).enumerate() {
        let p = if n_scores == 1 {
            let p = sigmoid(scores[i]);
            if y == 1 { p } else { 1.0 - p }
        } else {
            softmax(&scores[i * n_scores..(i + 1) * n_scores], &mut probs);
            probs[y]
        };
        total -= w * p.max(1e-15).ln();
        wsum += w;
    }
    if wsum > 0.0 { total / wsum } else { 0.0 }
}

/// Trains a booster. `n_classes` is 2 for binary models. With `valid`, stops when
/// the validation loss has not improved for `early_stopping_rounds` and keeps the
/// best round.
pub fn train(
    data: &Binned,
    target: Target<'_>,
    valid: Option<(&Binned, Target<'_>)>,
    n_classes: usize,
    p: &Params,
) -> (Booster, TrainLog) {
    let n = data.n_rows;
    let k = if n_classes <= 2 { 1 } else { n_classes };
    let n_features = data.columns.len();
    // Initial scores: weighted class priors.
    let mut class_w = vec![0.0; n_classes.max(2)];
    for (&y, &w) in target.labels.iter().zip(target.weights) {
        class_w[y] += w;
    }
    let wsum: f64 = class_w.iter().sum::<f64>().max(1e-12);
    let base: Vec<f64> = if k == 1 {
        let pos = (class_w[1] / wsum).clamp(1e-6, 1.0 - 1e-6);
        vec![(pos / (1.0 - pos)).ln()]
    } else {
        class_w.iter().map(|c| (c / wsum).max(1e-6).ln()).collect()
    };
    let mut scores: Vec<f64> = (0..n).flat_map(|_| base.iter().copied()).collect();
    let mut vscores: Vec<f64> =
        valid.map(|(v, _)| (0..v.n_rows).flat_map(|_| base.iter().copied()).collect()).unwrap_or_default();
    let mut offsets = Vec::with_capacity(n_features);
    let mut total_bins = 0;
    for nb in &data.n_bins {
        offsets.push(total_bins);
        total_bins += nb;
    }
    let mut rng = Rng::new(p.seed);
    let mut trees = Vec::new();
    let mut log = TrainLog::default();
    let mut best = (f64::INFINITY, 0usize);
    let mut g = vec![0.0; n];
    let mut h = vec![0.0; n];
    let mut probs = vec![0.0; k];
    let mut round_probs = if k > 1 { vec![0.0; n * k] } else { Vec::new() };
    let all_rows: Vec<u32> = (0..n as u32).collect();
    let vrows: Vec<Vec<u8>> = valid.map(|(v, _)| (0..v.n_rows).map(|i| v.row(i)).collect()).unwrap_or_default();
    for round in 0..p.max_rounds {
        let features = sample_features(&mut rng, n_features, p.feature_fraction);
        // Every class of a round takes its gradients from the scores before the round.
        if k > 1 {
            for i in 0..n {
                softmax(&scores[i * k..(i + 1) * k], &mut probs);
                round_probs[i * k..(i + 1) * k].copy_from_slice(&probs);
            }
        }
        for class in 0..k {
            for i in 0..n {
                let w = target.weights[i];
                let y = target.labels[i];
                let (gi, hi) = if k == 1 {
                    let pr = sigmoid(scores[i]);
                    (pr - if y == 1 { 1.0 } else { 0.0 }, pr * (1.0 - pr))
                } else {
                    let pr = round_probs[i * k + class];
                    (pr - if y == class { 1.0 } else { 0.0 }, (pr * (1.0 - pr)).max(1e-12))
                };
                g[i] = gi * w;
                h[i] = hi * w;
            }
            let grower =
                Grower { data, g: &g, h: &h, p, features: features.clone(), offsets: offsets.clone(), total_bins };
            let (tree, leaves) = grower.grow(all_rows.clone());
            for (rows, v) in leaves {
                for r in rows {
                    scores[r as usize * k + class] += v;
                }
            }
            match Forest::from_trees(std::slice::from_ref(&tree), 1, n_features) {
                Some(flat) => {
                    for (i, bins) in vrows.iter().enumerate() {
                        vscores[i * k + class] += flat.tree_value(0, bins);
                    }
                }
                None => {
                    for (i, bins) in vrows.iter().enumerate() {
                        vscores[i * k + class] += tree.nodes[tree.leaf(bins)].value;
                    }
                }
            }
            trees.push(tree);
        }
        if let Some((_, vt)) = valid {
            let l = loss(&vscores, k, vt);
            log.valid_loss.push(l);
            if l < best.0 - 1e-12 {
                best = (l, round);
            } else if round - best.1 >= p.early_stopping_rounds {
                break;
            }
        } else {
            best.1 = round;
        }
    }
    let rounds = if valid.is_some() { best.1 + 1 } else { trees.len() / k };
    trees.truncate(rounds * k);
    log.rounds = rounds;
    (Booster::new(k, base, trees, n_features), log)
}

/// A deterministic sample of `fraction` of the features (at least one), sorted.
fn sample_features(rng: &mut Rng, n: usize, fraction: f64) -> Vec<usize> {
    let want = ((n as f64 * fraction).round() as usize).clamp(1, n.max(1));
    let mut all: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut all);
    all.truncate(want);
    all.sort_unstable();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> (Binned, Vec<usize>) {
        // Feature 0 numeric (bins 1..=10), feature 1 categorical (bins 1..=4), with missing.
        let mut rng = Rng::new(7);
        let mut c0 = Vec::new();
        let mut c1 = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let a = (rng.next_u64() % 11) as u8;
            let b = (rng.next_u64() % 5) as u8;
            let logit = if a == 0 { 1.0 } else { f64::from(a) - 5.0 } + if b == 3 { 2.0 } else { -0.5 };
            let noise = (rng.next_u64() % 1000) as f64 / 1000.0;
            y.push(usize::from(sigmoid(logit) > noise));
            c0.push(a);
            c1.push(b);
        }
        (Binned { n_rows: n, columns: vec![c0, c1], n_bins: vec![12, 6], categorical: vec![false, true] }, y)
    }

    #[test]
    fn boosting_learns_and_attributions_sum_to_the_raw_score() {
        let (data, y) = toy(4000);
        let w = vec![1.0; y.len()];
        let p = Params { max_rounds: 60, min_data_per_category: 5, ..Params::default() };
        let (model, log) = train(&data, Target { labels: &y, weights: &w }, None, 2, &p);
        assert_eq!(log.rounds, 60);
        let mut correct = 0;
        let mut raw = [0.0];
        for (i, label) in y.iter().enumerate() {
            let bins = data.row(i);
            model.raw(&bins, &mut raw);
            correct += usize::from((raw[0] > 0.0) == (*label == 1));
            let (bias, contrib) = model.contributions(&bins);
            let total = bias[0] + contrib[0].iter().sum::<f64>();
            assert!((total - raw[0]).abs() < 1e-9, "{total} vs {}", raw[0]);
        }
        assert!(correct as f64 / data.n_rows as f64 > 0.75, "{correct}");
    }

    #[test]
    fn multiclass_training_is_deterministic() {
        let (data, y) = toy(1500);
        let y3: Vec<usize> = y.iter().enumerate().map(|(i, &v)| if data.columns[1][i] == 2 { 2 } else { v }).collect();
        let w = vec![1.0; y3.len()];
        let p = Params { max_rounds: 15, ..Params::default() };
        let a = train(&data, Target { labels: &y3, weights: &w }, None, 3, &p).0;
        let b = train(&data, Target { labels: &y3, weights: &w }, None, 3, &p).0;
        assert_eq!(a, b);
        assert_eq!(a.trees.len(), 45);
    }
}
