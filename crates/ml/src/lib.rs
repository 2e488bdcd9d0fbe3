//! Machine learning on NTSB accidents, in pure Rust: three models (`fatal`,
//! `risk`, `severity`), trained from the store, evaluated honestly, explained,
//! saved as checksummed files and served from a [`Registry`].
//!
//! * [`features`]: the raw facts a model may read, the features derived from them
//!   and the leakage rules (which model may see which field).
//! * [`gbdt`]: histogram gradient-boosted trees with native categorical splits,
//!   learned missing-value directions, class weights and early stopping; exact
//!   path attributions.
//! * [`forest`]: the trees flattened for fast, branch-free scoring.
//! * [`linear`]: the logistic-regression baseline.
//! * [`pipeline`]: data sets from store rows, fitting, evaluation (stratified,
//!   time split, k-fold CV).
//! * [`model`]: a trained model, prediction with explanations, the model file.
//! * [`card`]: model cards (Markdown and JSON).
//! * [`registry`]: the served models, reloadable without a restart.
#![deny(missing_docs)]

pub mod calibrate;
pub mod card;
pub mod encode;
mod error;
pub mod features;
pub mod forest;
pub mod gbdt;
pub mod linear;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod registry;
mod rng;
pub mod split;

pub use error::{Error, Result};
pub use features::{Facts, Feature, ModelKind};
pub use model::{Model, Prediction};
pub use pipeline::{Dataset, Evaluation, Options};
pub use registry::Registry;
