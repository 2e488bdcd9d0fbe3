//! The inference layout of a [`Booster`]: every tree flattened into one array of
//! 8-byte nodes, walked without data-dependent branches, several trees at a time.
//!
//! The trees as trained ([`crate::gbdt::Tree`]) keep a value per node, needed for
//! explanations, in 32-byte nodes, one allocation per tree. Scoring needs far
//! less, and most of its time went to mispredicted branches (missing value?
//! numeric or categorical? left or right? leaf yet?). Here:
//!
//! * the children of a node are adjacent, so a step is `child + went_right`;
//! * every test is a bit of a 256-bit set of the bins that go left, bit 0 being
//!   where missing values go: a categorical split's set is its category set, a
//!   numeric split `bin <= t` is the set `{1..=t}` (shared by all splits with the
//!   same `t` and missing-value direction); one load and one shift, no
//!   numeric/categorical/missing branches;
//! * a leaf points to itself (its test sends everything "left", to its own
//!   index), so each tree is walked a fixed number of steps (its depth) with no
//!   "leaf yet?" branch, and [`LANES`] trees are walked side by side so their
//!   chains of dependent loads overlap in the CPU.
//!
//! Leaf values are the trained `f64` values, added in tree order, so the raw
//! scores are bit-for-bit those of walking the trained trees (tested).

use crate::gbdt::{Booster, CATEGORICAL, LEAF, Tree};

/// Trees walked side by side by [`Forest::add_raw`].
pub const LANES: usize = 8;

/// One node of the flattened forest, 8 bytes: its left child (the right one
/// follows it) and a packed word, bits 0–7 the feature tested (models of more
/// than 256 features are not flattened, see [`Forest::compile`]), bits 8–31 the
/// index of the node's left set in [`Forest::sets`]. A leaf tests feature 0
/// against the full set (always left) and its child is itself.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    child: u32,
    word: u32,
}

impl Node {
    fn new(feature: u8, set: u32, child: u32) -> Node {
        Node { child, word: u32::from(feature) | (set << 8) }
    }
}

/// What passing one split credits to an explanation: see [`Forest::credits`]
/// (per node) and [`Forest::paths`] (per leaf).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Credit {
    delta: f64,
    feature: u32,
}

/// Most distinct sets a flattened forest can index (24 bits).
const MAX_SETS: usize = 1 << 24;
/// Most path credits a flattened forest can index (24 bits).
const MAX_PATH_CREDITS: usize = 1 << 24;
/// Longest path from a root to a leaf (its length is kept in 8 bits).
const MAX_PATH: usize = u8::MAX as usize;
/// Set 0: every bin goes left (leaves).
const ALL_LEFT: u32 = 0;

/// A [`Booster`] compiled for scoring.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Forest {
    nodes: Vec<Node>,
    /// Value of each node (meaningful for leaves).
    values: Vec<f64>,
    /// What reaching each node adds to an explanation, worked out once here
    /// instead of per prediction: the feature its parent tests and the change
    /// of node value, `value - parent's value` (the same subtraction as walking
    /// the trained trees, so the same bits). Roots add nothing. Read node by
    /// node when one row is explained ([`Forest::add_explained`]): 16 bytes per
    /// node stay in the L2 cache across rows, where [`Forest::paths`] would not.
    credits: Vec<Credit>,
    /// The explanation of every leaf, for explaining a batch tree by tree
    /// ([`Forest::add_explained_many`]), worked out once here instead of per
    /// prediction: the credits of the splits on the way from the root to the
    /// leaf, root first, each the feature a split tests and the change of node
    /// value it makes, `child's value - split's value` (the same subtraction as
    /// walking the trained trees, so the same bits). Leaf by leaf, contiguous.
    paths: Vec<Credit>,
    /// Per node, where its leaf's path starts in [`Forest::paths`] (bits 8–31)
    /// and how long it is (bits 0–7); 0 for internal nodes.
    path_of: Vec<u32>,
    /// The bins that go left at each test, bit 0 (missing) included: a numeric
    /// test `bin <= t` with its missing-value direction is the set
    /// `{1..=t}` plus maybe 0 (shared by every test with the same `t` and
    /// direction), a categorical test its category set. Set 0 holds every bin.
    sets: Vec<[u64; 4]>,
    /// Root and depth (steps from the root to its deepest leaf) of each tree.
    trees: Vec<(u32, u32)>,
    /// Deepest tree of each full group of [`LANES`] trees.
    chunk_depth: Vec<u32>,
    /// Deepest tree.
    max_depth: u32,
    n_scores: usize,
    n_features: usize,
}

impl Forest {
    /// Flattens the trees of `booster`; `None` for models this layout cannot
    /// hold (more than 256 features, or more than 2^23 categorical splits),
    /// which are scored by walking their trees.
    pub fn compile(booster: &Booster) -> Option<Forest> {
        Forest::from_trees(&booster.trees, booster.n_scores, booster.n_features)
    }

    /// Flattens `trees` of a model with `n_scores` outputs and `n_features`
    /// features. Trees are laid out breadth first; a malformed tree (a node
    /// reachable twice) is cut at the repeated node.
    pub fn from_trees(trees: &[Tree], n_scores: usize, n_features: usize) -> Option<Forest> {
        if n_features > 256 {
            return None;
        }
        let mut f = Forest {
            nodes: Vec::new(),
            values: Vec::new(),
            credits: Vec::new(),
            paths: Vec::new(),
            path_of: Vec::new(),
            sets: vec![[u64::MAX; 4]],
            trees: Vec::with_capacity(trees.len()),
            chunk_depth: Vec::new(),
            max_depth: 0,
            n_scores: n_scores.max(1),
            n_features,
        };
        // What reaching each node credits: the feature its parent tests and
        // the change of node value (roots credit nothing).
        let mut credit_of: Vec<Credit> = Vec::new();
        // Numeric sets by (threshold, missing goes left), shared.
        let mut numeric_sets: std::collections::HashMap<(u8, bool), u32> = std::collections::HashMap::new();
        for tree in trees {
            let root = f.nodes.len() as u32;
            let mut seen = vec![false; tree.nodes.len()];
            // (original node, flat index, depth), breadth first.
            let mut queue = std::collections::VecDeque::new();
            f.push_leaf(0.0);
            credit_of.push(Credit::default());
            queue.push_back((0usize, root as usize, 0u32));
            let mut depth = 0;
            while let Some((orig, at, d)) = queue.pop_front() {
                let Some(n) = tree.nodes.get(orig) else { continue };
                f.values[at] = n.value;
                let (l, r) = (n.left as usize, n.right as usize);
                let internal = n.kind != LEAF
                    && !seen[orig]
                    && usize::from(n.feature) < n_features
                    && l < tree.nodes.len()
                    && r < tree.nodes.len()
                    && (n.kind != CATEGORICAL || (n.cats as usize) < tree.cat_sets.len());
                seen[orig] = true;
                if !internal {
                    depth = depth.max(d);
                    continue;
                }
                let child = f.nodes.len() as u32;
                f.push_leaf(0.0);
                f.push_leaf(0.0);
                credit_of.extend([Credit::default(); 2]);
                let set = if n.kind == CATEGORICAL {
                    let mut set = tree.cat_sets[n.cats as usize];
                    set[0] = (set[0] & !1) | u64::from(n.default_left);
                    f.sets.push(set);
                    (f.sets.len() - 1) as u32
                } else {
                    let key = (n.threshold, n.default_left);
                    match numeric_sets.get(&key) {
                        Some(&i) => i,
                        None => {
                            let mut set = [0u64; 4];
                            for b in 1..=n.threshold {
                                set[usize::from(b >> 6)] |= 1 << (b & 63);
                            }
                            set[0] |= u64::from(n.default_left);
                            f.sets.push(set);
                            let i = (f.sets.len() - 1) as u32;
                            numeric_sets.insert(key, i);
                            i
                        }
                    }
                };
                if f.sets.len() > MAX_SETS {
                    return None;
                }
                f.nodes[at] = Node::new(n.feature as u8, set, child);
                for (flat, orig_child) in [(child as usize, l), (child as usize + 1, r)] {
                    let delta = tree.nodes[orig_child].value - n.value;
                    credit_of[flat] = Credit { delta, feature: u32::from(n.feature) };
                }
                queue.push_back((l, child as usize, d + 1));
                queue.push_back((r, child as usize + 1, d + 1));
            }
            f.trees.push((root, depth));
        }
        f.credits = credit_of;
        if !f.lay_out_paths() {
            return None;
        }
        f.chunk_depth = f.trees.chunks_exact(LANES).map(|c| c.iter().map(|t| t.1).max().unwrap_or(0)).collect();
        f.max_depth = f.trees.iter().map(|t| t.1).max().unwrap_or(0);
        Some(f)
    }

    fn push_leaf(&mut self, value: f64) {
        let at = self.nodes.len() as u32;
        self.nodes.push(Node::new(0, ALL_LEFT, at));
        self.values.push(value);
    }

    /// Fills [`Forest::paths`] and [`Forest::path_of`] from [`Forest::credits`],
    /// depth first from every root; `false` when a path is longer, or the paths
    /// are more, than the layout can index.
    fn lay_out_paths(&mut self) -> bool {
        self.path_of = vec![0; self.nodes.len()];
        let mut path: Vec<Credit> = Vec::new();
        for &(root, _) in &self.trees {
            // (node, its depth): the path so far is `path[..depth]`.
            let mut stack = vec![(root as usize, 0usize)];
            while let Some((at, depth)) = stack.pop() {
                path.truncate(depth.saturating_sub(1));
                if depth > 0 {
                    path.push(self.credits[at]);
                }
                let child = self.nodes[at].child as usize;
                if child != at {
                    // Right pushed first so the left subtree is laid out first.
                    stack.push((child + 1, depth + 1));
                    stack.push((child, depth + 1));
                    continue;
                }
                if path.len() > MAX_PATH || self.paths.len() + path.len() > MAX_PATH_CREDITS {
                    return false;
                }
                self.path_of[at] = ((self.paths.len() as u32) << 8) | path.len() as u32;
                self.paths.extend_from_slice(&path);
            }
        }
        true
    }

    /// The leaf of tree `t` a row reaches.
    #[inline(always)]
    fn leaf(&self, t: usize, bins: &[u8; 256]) -> usize {
        let (root, depth) = self.trees[t];
        let mut i = root as usize;
        for _ in 0..depth {
            i = self.step(i, bins);
        }
        i
    }

    /// One step of a walk: the child of node `i` a row goes to (a leaf stays put).
    #[inline(always)]
    fn step(&self, i: usize, bins: &[u8; 256]) -> usize {
        let n = self.nodes[i];
        let b = bins[(n.word & 0xff) as usize];
        let set = &self.sets[(n.word >> 8) as usize];
        let left = (set[usize::from(b >> 6)] >> (b & 63)) & 1;
        n.child as usize + (1 - left) as usize
    }

    /// A row of bins as a 256-byte array (every feature index is then in
    /// bounds); features beyond the row read as missing.
    #[inline(always)]
    fn padded(&self, bins: &[u8]) -> [u8; 256] {
        let mut row = [0u8; 256];
        let n = bins.len().min(self.n_features);
        row[..n].copy_from_slice(&bins[..n]);
        row
    }

    /// The leaves one row reaches in the trees of full group `c` of [`LANES`]
    /// trees, walked in lockstep: each walk is a chain of dependent loads, and
    /// interleaving independent chains lets the CPU overlap their latencies.
    /// Leaves are fixed points of [`Forest::step`], so a lane whose tree is
    /// shallower just stays on its leaf.
    #[inline(always)]
    fn lane_leaves(&self, c: usize, bins: &[u8; 256]) -> [usize; LANES] {
        let mut at = [0usize; LANES];
        for (a, (root, _)) in at.iter_mut().zip(&self.trees[c * LANES..][..LANES]) {
            *a = *root as usize;
        }
        for _ in 0..self.chunk_depth[c] {
            for a in &mut at {
                *a = self.step(*a, bins);
            }
        }
        at
    }

    /// Adds the trees' scores of one row of bins to `out` (one per output;
    /// tree `t` adds to output `t % n_scores`). Rows shorter than the model's
    /// features read the missing ones as missing.
    ///
    /// Trees are walked [`LANES`] at a time in lockstep ([`Forest::lane_leaves`]);
    /// values are then added in tree order, so the sum is exactly that of one
    /// tree after another.
    pub fn add_raw(&self, bins: &[u8], out: &mut [f64]) {
        let bins = &self.padded(bins);
        let k = self.n_scores;
        let full = self.trees.len() / LANES;
        for c in 0..full {
            for (j, leaf) in self.lane_leaves(c, bins).into_iter().enumerate() {
                out[(c * LANES + j) % k] += self.values[leaf];
            }
        }
        for t in full * LANES..self.trees.len() {
            out[t % k] += self.values[self.leaf(t, bins)];
        }
    }

    /// Credits the path of `leaf` ([`Forest::paths`]) to `contrib`, one slot
    /// per feature, root first.
    #[inline(always)]
    fn credit_path(&self, leaf: usize, contrib: &mut [f64]) {
        let packed = self.path_of[leaf] as usize;
        for credit in &self.paths[packed >> 8..][..packed & 0xff] {
            // Every credited feature is below n_features (see from_trees).
            if let Some(c) = contrib.get_mut(credit.feature as usize) {
                *c += credit.delta;
            }
        }
    }

    /// Walks every tree for one row, [`LANES`] trees at a time in lockstep, and
    /// calls `f(tree, path)` in tree order with the nodes the row went through:
    /// `path[s * LANES]` is the node after `s` steps (`path[0]` the root); a
    /// path stays on its leaf once there.
    ///
    /// Each walk is a chain of dependent loads, and interleaving independent
    /// chains lets the CPU overlap their latencies. Leaves are fixed points of
    /// [`Forest::step`], so a lane whose tree is shallower just stays on its leaf.
    #[inline(always)]
    fn for_each_path(&self, bins: &[u8; 256], path: &mut Vec<u32>, mut f: impl FnMut(usize, &[u32], usize)) {
        path.clear();
        path.resize((self.max_depth as usize + 1) * LANES, 0);
        let full = self.trees.len() / LANES * LANES;
        for (c, chunk) in self.trees[..full].chunks_exact(LANES).enumerate() {
            let mut at = [0usize; LANES];
            for (a, (root, _)) in at.iter_mut().zip(chunk) {
                *a = *root as usize;
            }
            let depth = self.chunk_depth[c] as usize;
            for (j, a) in at.iter().enumerate() {
                path[j] = *a as u32;
            }
            for s in 1..=depth {
                for (j, a) in at.iter_mut().enumerate() {
                    *a = self.step(*a, bins);
                    path[s * LANES + j] = *a as u32;
                }
            }
            for j in 0..LANES {
                f(c * LANES + j, &path[j..], depth);
            }
        }
        for t in full..self.trees.len() {
            let (root, depth) = self.trees[t];
            let mut i = root as usize;
            path[0] = root;
            for s in 1..=depth as usize {
                i = self.step(i, bins);
                path[s * LANES] = i as u32;
            }
            f(t, &path[..], depth as usize);
        }
    }

    /// Exact path attributions (Saabas) of one row, added to `bias` (one per
    /// output) and `contrib` (`contrib[output][feature]`), and the raw scores
    /// added to `raw` (as [`Forest::add_raw`] does, from the same walk): per tree
    /// the root's value goes to the bias and each split's change of node value
    /// along the row's path to the split's feature, so per tree the parts add up
    /// to the leaf's value.
    ///
    /// The trees are walked [`LANES`] at a time as in [`Forest::add_raw`],
    /// keeping the nodes passed; each path is then credited root first (from
    /// [`Forest::credits`]), so the sums are the same, in the same order (tree
    /// by tree, root to leaf), as walking the trained trees: bit for bit (tested).
    pub fn add_explained(&self, bins: &[u8], raw: &mut [f64], bias: &mut [f64], contrib: &mut [Vec<f64>]) {
        let bins = &self.padded(bins);
        let k = self.n_scores;
        let mut path = Vec::new();
        self.for_each_path(bins, &mut path, |t, path, depth| {
            let out = &mut contrib[t % k];
            let mut at = path[0];
            bias[t % k] += self.values[at as usize];
            for s in 1..=depth {
                let next = path[s * LANES];
                if next == at {
                    break;
                }
                let credit = self.credits[next as usize];
                if let Some(c) = out.get_mut(credit.feature as usize) {
                    *c += credit.delta;
                }
                at = next;
            }
            raw[t % k] += self.values[at as usize];
        });
    }

    /// Adds every tree's root value to `bias` (one per output), in tree order:
    /// the bias of [`Forest::add_explained`], the same for every row.
    pub fn add_bias(&self, bias: &mut [f64]) {
        for (t, (root, _)) in self.trees.iter().enumerate() {
            bias[t % self.n_scores] += self.values[*root as usize];
        }
    }

    /// [`Forest::add_explained`] for many rows at once, tree by tree: every row
    /// goes through tree 0, then tree 1, and so on, [`LANES`] rows side by side.
    ///
    /// Row by row, each tree's nodes are fetched again for every row, and a
    /// model's nodes outgrow the caches that scoring a row and writing its answer
    /// also use; tree by tree, a tree's nodes stay in the nearest cache while the
    /// rows pass through it. Each row's sums are made in the same order as
    /// [`Forest::add_explained`] makes them (tree by tree, root to leaf), so the
    /// results are the same bit for bit (tested).
    ///
    /// The bias, the same for every row, is left to [`Forest::add_bias`]. `raw`
    /// holds `n_scores` values per row; `contrib` holds `n_scores * n_features`
    /// per row, output-major.
    pub fn add_explained_many(&self, rows: &[Vec<u8>], raw: &mut [f64], contrib: &mut [f64]) {
        let rows: Vec<[u8; 256]> = rows.iter().map(|bins| self.padded(bins)).collect();
        let full = rows.len() / LANES * LANES;
        for (t, &(root, depth)) in self.trees.iter().enumerate() {
            let output = t % self.n_scores;
            for (c, lanes) in rows[..full].chunks_exact(LANES).enumerate() {
                if let Ok(lanes) = <&[[u8; 256]; LANES]>::try_from(lanes) {
                    self.explain_lanes(lanes, c * LANES, (root, depth), output, raw, contrib);
                }
            }
            for (j, row) in rows[full..].iter().enumerate() {
                self.explain_lanes(std::array::from_ref(row), full + j, (root, depth), output, raw, contrib);
            }
        }
    }

    /// One tree of [`Forest::add_explained_many`] for `N` rows side by side,
    /// the first being row `first`.
    #[inline(always)]
    fn explain_lanes<const N: usize>(
        &self,
        lanes: &[[u8; 256]; N],
        first: usize,
        (root, depth): (u32, u32),
        output: usize,
        raw: &mut [f64],
        contrib: &mut [f64],
    ) {
        let (k, width) = (self.n_scores, self.n_features);
        let mut at = [root as usize; N];
        for _ in 0..depth {
            for (a, bins) in at.iter_mut().zip(lanes) {
                *a = self.step(*a, bins);
            }
        }
        for (j, leaf) in at.into_iter().enumerate() {
            let score = (first + j) * k + output;
            self.credit_path(leaf, &mut contrib[score * width..][..width]);
            raw[score] += self.values[leaf];
        }
    }

    /// The leaf value of tree `t` for a row (training: validation scores per tree).
    pub fn tree_value(&self, t: usize, bins: &[u8]) -> f64 {
        self.values[self.leaf(t, &self.padded(bins))]
    }

    /// Trees.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// Whether there are no trees.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use crate::encode::Binned;
    use crate::gbdt::{Params, Target, train};
    use crate::rng::Rng;

    /// Numeric and categorical features with missing values; labels in `classes`.
    fn data(n: usize, classes: usize) -> (Binned, Vec<usize>) {
        let mut rng = Rng::new(11);
        let mut cols = vec![Vec::new(), Vec::new(), Vec::new()];
        let mut y = Vec::new();
        for _ in 0..n {
            let a = (rng.next_u64() % 21) as u8; // numeric, 0 = missing
            let b = (rng.next_u64() % 9) as u8; // categorical, 0 = missing
            let c = (rng.next_u64() % 4) as u8; // numeric, often missing
            let score =
                if a == 0 { 3 } else { usize::from(a) / 5 } + usize::from(b == 4 || b == 7) * 2 + usize::from(c);
            let noise = (rng.next_u64() % 3) as usize;
            y.push((score + noise) % classes);
            cols[0].push(a);
            cols[1].push(b);
            cols[2].push(c);
        }
        (Binned { n_rows: n, columns: cols, n_bins: vec![22, 10, 5], categorical: vec![false, true, false] }, y)
    }

    fn check(classes: usize) {
        let (d, y) = data(3000, classes);
        let w = vec![1.0; y.len()];
        let p = Params {
            max_rounds: 25,
            max_leaves: 15,
            min_child_samples: 5,
            min_data_per_category: 5,
            ..Params::default()
        };
        let (model, _) = train(&d, Target { labels: &y, weights: &w }, None, classes, &p);
        assert!(model.trees.iter().any(|t| t.nodes.iter().any(|n| n.kind == crate::gbdt::CATEGORICAL)));
        let mut fast = vec![0.0; model.n_scores];
        let mut slow = vec![0.0; model.n_scores];
        // Every bin combination, missing ones included.
        let mut every = Vec::new();
        for a in 0..22u8 {
            for b in 0..10u8 {
                for c in 0..5u8 {
                    let bins = [a, b, c];
                    model.raw(&bins, &mut fast);
                    model.raw_by_walking(&bins, &mut slow);
                    assert_eq!(fast, slow, "bins {bins:?}");
                    // Attributions from the one-walk explanation: the raw scores
                    // bit for bit, the attributions those of walking the trained
                    // trees (same sums in the same order), and exact.
                    let (raw, bias, contrib) = model.explain(&bins);
                    assert_eq!(raw, fast, "bins {bins:?}");
                    assert_eq!((bias.clone(), contrib.clone()), model.contributions_by_walking(&bins), "bins {bins:?}");
                    assert_eq!((bias.clone(), contrib.clone()), model.contributions(&bins), "bins {bins:?}");
                    for k in 0..model.n_scores {
                        let total = bias[k] + contrib[k].iter().sum::<f64>();
                        assert!((total - raw[k]).abs() < 1e-9, "{total} vs {}", raw[k]);
                    }
                    every.push(bins.to_vec());
                }
            }
        }
        // Many rows at once, tree by tree (a last group of fewer than LANES rows
        // included): the same results, bit for bit, as one row at a time.
        let many = model.explain_many(&every);
        assert_eq!(many.len(), every.len());
        for (bins, explained) in every.iter().zip(&many) {
            assert_eq!(explained, &model.explain(bins), "bins {bins:?}");
        }
        assert!(model.explain_many(&[]).is_empty());
        // Rows shorter than the features read the rest as missing.
        model.raw(&[3], &mut fast);
        model.raw_by_walking(&[3, 0, 0], &mut slow);
        assert_eq!(fast, slow);
    }

    #[test]
    fn the_flattened_forest_scores_exactly_like_the_trained_trees() {
        check(2);
        check(4);
    }
}
