//! Turning raw feature values into small integer bins, the only thing the trees
//! see. Bin 0 always means "missing"; numeric features get up to
//! [`MAX_NUMERIC_BINS`] quantile bins, categorical ones one bin per frequent
//! category plus one "other" bin for rare and unseen values.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::features::{Feature, FeatureType, Raw, STATED_UNKNOWN};

/// Bins of a numeric feature (besides the missing bin).
pub const MAX_NUMERIC_BINS: usize = 64;
/// Categories kept per categorical feature (besides missing and "other").
pub const MAX_CATEGORIES: usize = 250;
/// A category seen fewer times than this in training is "other".
pub const MIN_CATEGORY_COUNT: usize = 5;

/// How one feature is encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Encoder {
    /// Bin `i + 1` holds values `<= edges[i]` (and above the previous edge); the last
    /// bin holds everything above the last edge.
    Numeric {
        /// Upper bounds of the bins.
        edges: Vec<f64>,
    },
    /// Bin `i + 1` is `categories[i]`; bin `categories.len() + 1` is "other".
    Categorical {
        /// Kept categories, most frequent first.
        categories: Vec<String>,
        /// Lookup, rebuilt after loading.
        #[serde(skip)]
        index: HashMap<String, u8, BuildHasherDefault<Fnv1a>>,
    },
}

/// Encoding of one value, with whether a category was unknown to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    /// The bin.
    pub bin: u8,
    /// The value was a category the model does not know (encoded as "other").
    pub unknown_category: bool,
}

impl Encoder {
    /// Fits an encoder to training values.
    pub fn fit(feature: Feature, values: &[Raw]) -> Encoder {
        match feature.kind() {
            FeatureType::Numeric => {
                let mut nums: Vec<f64> =
                    values.iter().filter_map(|v| if let Raw::Num(x) = v { Some(*x) } else { None }).collect();
                nums.sort_by(f64::total_cmp);
                nums.dedup();
                let edges = if nums.len() <= MAX_NUMERIC_BINS {
                    // Mid-points between distinct values.
                    nums.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
                } else {
                    let mut all: Vec<f64> =
                        values.iter().filter_map(|v| if let Raw::Num(x) = v { Some(*x) } else { None }).collect();
                    all.sort_by(f64::total_cmp);
                    let mut edges: Vec<f64> = (1..MAX_NUMERIC_BINS)
                        .map(|i| all[(i * all.len() / MAX_NUMERIC_BINS).min(all.len() - 1)])
                        .collect();
                    edges.dedup();
                    edges
                };
                Encoder::Numeric { edges }
            }
            FeatureType::Categorical => {
                let mut counts: HashMap<&str, usize> = HashMap::new();
                for v in values {
                    if let Raw::Cat(s) = v {
                        *counts.entry(s.as_str()).or_default() += 1;
                    }
                }
                let mut kept: Vec<(&str, usize)> =
                    counts.into_iter().filter(|(_, n)| *n >= MIN_CATEGORY_COUNT).collect();
                kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                kept.truncate(MAX_CATEGORIES);
                let mut enc = Encoder::Categorical {
                    categories: kept.into_iter().map(|(s, _)| s.to_string()).collect(),
                    index: HashMap::default(),
                };
                enc.rebuild();
                enc
            }
        }
    }

    /// Rebuilds the category lookup (after deserialisation).
    pub fn rebuild(&mut self) {
        if let Encoder::Categorical { categories, index } = self {
            *index = categories.iter().enumerate().map(|(i, c)| (c.clone(), (i + 1) as u8)).collect();
        }
    }

    /// Number of bins, the missing bin included.
    pub fn n_bins(&self) -> usize {
        match self {
            Encoder::Numeric { edges } => edges.len() + 2,
            Encoder::Categorical { categories, .. } => categories.len() + 2,
        }
    }

    /// Whether the feature is categorical.
    pub fn is_categorical(&self) -> bool {
        matches!(self, Encoder::Categorical { .. })
    }

    /// The bin of a value.
    pub fn encode(&self, value: &Raw) -> Encoded {
        let known = |bin: u8| Encoded { bin, unknown_category: false };
        match (self, value) {
            (_, Raw::Missing) => known(0),
            (Encoder::Numeric { edges }, Raw::Num(x)) if x.is_finite() => {
                known((edges.partition_point(|e| e < x) + 1) as u8)
            }
            (Encoder::Categorical { .. }, Raw::Cat(s)) if s == STATED_UNKNOWN => self.encode_stated_unknown(),
            (Encoder::Categorical { categories, index }, Raw::Cat(s)) => match index.get(s) {
                Some(bin) => known(*bin),
                None => Encoded { bin: (categories.len() + 1) as u8, unknown_category: true },
            },
            // A number for a categorical feature or text for a numeric one: treat as missing.
            _ => known(0),
        }
    }

    /// The bin of a number (`None`: missing); [`Encoder::encode`] of `Raw::Num`
    /// without building it.
    #[inline]
    pub fn encode_num(&self, value: Option<f64>) -> Encoded {
        match (self, value) {
            (Encoder::Numeric { edges }, Some(x)) if x.is_finite() => {
                Encoded { bin: (edges.partition_point(|e| *e < x) + 1) as u8, unknown_category: false }
            }
            _ => Encoded { bin: 0, unknown_category: false },
        }
    }

    /// The bin of a category given in any case (`value` must already be trimmed
    /// and not one of the "unknown" spellings); [`Encoder::encode`] of
    /// `Raw::Cat(value.to_uppercase())`, without allocating for ASCII text.
    #[inline]
    pub fn encode_text(&self, value: &str) -> Encoded {
        let Encoder::Categorical { categories, index } = self else {
            return Encoded { bin: 0, unknown_category: false };
        };
        let mut buf = [0u8; 64];
        let found = if value.is_ascii() && value.len() <= buf.len() {
            let up = &mut buf[..value.len()];
            up.copy_from_slice(value.as_bytes());
            up.make_ascii_uppercase();
            // ASCII in, ASCII out: always valid UTF-8.
            std::str::from_utf8(up).ok().and_then(|k| index.get(k))
        } else {
            index.get(value.to_uppercase().as_str())
        };
        match found {
            Some(bin) => Encoded { bin: *bin, unknown_category: false },
            None => Encoded { bin: (categories.len() + 1) as u8, unknown_category: true },
        }
    }

    /// The bin of a value stated as not known ([`STATED_UNKNOWN`]): its own
    /// category when training kept one, else missing (never "other": a model
    /// trained without the category saw such values as missing).
    #[inline]
    pub fn encode_stated_unknown(&self) -> Encoded {
        match self {
            Encoder::Categorical { index, .. } => {
                Encoded { bin: index.get(STATED_UNKNOWN).copied().unwrap_or(0), unknown_category: false }
            }
            Encoder::Numeric { .. } => Encoded { bin: 0, unknown_category: false },
        }
    }

    /// Words for a bin, for explanations of the baseline and tests.
    pub fn describe(&self, bin: u8) -> String {
        match (self, bin) {
            (_, 0) => "unknown".into(),
            (Encoder::Categorical { categories, .. }, b) => {
                categories.get(usize::from(b) - 1).cloned().unwrap_or_else(|| "other".into())
            }
            (Encoder::Numeric { edges }, b) => {
                let i = usize::from(b) - 1;
                match (i.checked_sub(1).and_then(|j| edges.get(j)), edges.get(i)) {
                    (None, Some(hi)) => format!("<= {hi}"),
                    (Some(lo), Some(hi)) => format!("{lo}..{hi}"),
                    (Some(lo), None) => format!("> {lo}"),
                    (None, None) => "any".into(),
                }
            }
        }
    }
}

/// FNV-1a: the category lookup hashes short, trusted-shape keys (a few hundred
/// fixed categories per feature, read-only after training), where SipHash's
/// DoS resistance buys nothing and costs most of the encoding time.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Training data in bins, column by column.
#[derive(Debug, Clone)]
pub struct Binned {
    /// Rows.
    pub n_rows: usize,
    /// One column of bins per feature.
    pub columns: Vec<Vec<u8>>,
    /// Bins per feature (missing included).
    pub n_bins: Vec<usize>,
    /// Whether each feature is categorical.
    pub categorical: Vec<bool>,
}

impl Binned {
    /// Encodes raw rows (`raw[row][feature]`) with fitted encoders.
    pub fn new(encoders: &[Encoder], raw: &[Vec<Raw>]) -> Binned {
        let columns =
            encoders.iter().enumerate().map(|(j, enc)| raw.iter().map(|r| enc.encode(&r[j]).bin).collect()).collect();
        Binned {
            n_rows: raw.len(),
            columns,
            n_bins: encoders.iter().map(Encoder::n_bins).collect(),
            categorical: encoders.iter().map(Encoder::is_categorical).collect(),
        }
    }

    /// The rows at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Binned {
        Binned {
            n_rows: idx.len(),
            columns: self.columns.iter().map(|c| idx.iter().map(|&i| c[i]).collect()).collect(),
            n_bins: self.n_bins.clone(),
            categorical: self.categorical.clone(),
        }
    }

    /// The bins of one row.
    pub fn row(&self, i: usize) -> Vec<u8> {
        self.columns.iter().map(|c| c[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_bins_are_ordered_and_missing_is_zero() {
        let vals: Vec<Raw> = (0..1000).map(|i| Raw::Num(f64::from(i))).collect();
        let enc = Encoder::fit(Feature::Year, &vals);
        assert!(enc.n_bins() <= MAX_NUMERIC_BINS + 2);
        let a = enc.encode(&Raw::Num(10.0)).bin;
        let b = enc.encode(&Raw::Num(900.0)).bin;
        assert!(a >= 1 && a < b);
        assert_eq!(enc.encode(&Raw::Missing).bin, 0);
        assert_eq!(enc.encode(&Raw::Num(f64::NAN)).bin, 0);
    }

    #[test]
    fn rare_and_unseen_categories_share_the_other_bin() {
        let mut vals: Vec<Raw> = (0..20).map(|_| Raw::Cat("CESSNA".into())).collect();
        vals.push(Raw::Cat("RARE".into()));
        let enc = Encoder::fit(Feature::Make, &vals);
        assert_eq!(enc.encode(&Raw::Cat("CESSNA".into())), Encoded { bin: 1, unknown_category: false });
        let other = enc.encode(&Raw::Cat("ZEPPELIN".into()));
        assert!(other.unknown_category && other.bin == 2);
        assert_eq!(enc.describe(1), "CESSNA");
        assert_eq!(enc.describe(2), "other");
    }

    #[test]
    fn a_stated_unknown_is_its_own_category_only_where_training_kept_one() {
        let phases = |unknowns: usize| -> Vec<Raw> {
            let landing = std::iter::repeat_n(Raw::Cat("LANDING".into()), 20);
            landing.chain(std::iter::repeat_n(Raw::Cat(STATED_UNKNOWN.into()), unknowns)).collect()
        };
        let kept = Encoder::fit(Feature::Phase, &phases(10));
        let stated = Encoded { bin: 2, unknown_category: false };
        assert_eq!(kept.encode_stated_unknown(), stated);
        assert_eq!(kept.encode(&Raw::Cat(STATED_UNKNOWN.into())), stated);
        assert_eq!(kept.describe(2), STATED_UNKNOWN);
        // Too rare to keep, or a model file from before such values were kept:
        // missing, as training saw them, never "other".
        for enc in [Encoder::fit(Feature::Phase, &phases(1)), Encoder::fit(Feature::Phase, &phases(0))] {
            let missing = Encoded { bin: 0, unknown_category: false };
            assert_eq!(enc.encode_stated_unknown(), missing);
            assert_eq!(enc.encode(&Raw::Cat(STATED_UNKNOWN.into())), missing);
            assert!(enc.encode(&Raw::Cat("HOVER".into())).unknown_category);
        }
        assert_eq!(Encoder::fit(Feature::Year, &[Raw::Num(2000.0)]).encode_stated_unknown().bin, 0);
    }
}
