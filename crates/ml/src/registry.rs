//! [`Registry`]: the models a server serves, loaded from a directory at start-up
//! and swapped without a restart.
//!
//! The directory holds `<name>.model` files (`fatal.model`, `risk.model`,
//! `severity.model`). [`Registry::reload`] re-reads every file whose size or
//! modification time changed and swaps the new model in under a write lock held
//! only for the swap; requests in flight keep the `Arc` of the model they
//! started with. A file that is refused (wrong checksum, not a model) leaves the
//! model already loaded in place, and the refusal is reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::features::ModelKind;
use crate::model::{MODEL_EXTENSION, Model};

#[derive(Debug)]
struct Loaded {
    model: Arc<Model>,
    stamp: Stamp,
}

/// What a reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Models (re)loaded, as versions.
    pub loaded: Vec<String>,
    /// Models removed because their file is gone.
    pub removed: Vec<String>,
    /// Files refused, with the reason.
    pub refused: Vec<(PathBuf, String)>,
}

/// The served models.
#[derive(Debug, Default)]
pub struct Registry {
    dir: Option<PathBuf>,
    models: RwLock<BTreeMap<ModelKind, Loaded>>,
    /// Files refused, with their stamp (not re-read, nor re-reported, until they change).
    refused: RwLock<BTreeMap<ModelKind, (PathBuf, String, Stamp)>>,
}

type Stamp = (Option<SystemTime>, u64);

impl Registry {
    /// A registry with no models and no directory.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// A registry over `dir`, loaded now. A missing directory is an empty registry
    /// (a server starts without models and picks them up when they appear).
    pub fn open(dir: &Path) -> (Registry, ReloadReport) {
        let reg = Registry { dir: Some(dir.to_path_buf()), ..Registry::default() };
        let report = reg.reload();
        (reg, report)
    }

    /// The directory models are read from.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Path of a model's file in `dir`.
    pub fn model_path(dir: &Path, kind: ModelKind) -> PathBuf {
        dir.join(format!("{}.{MODEL_EXTENSION}", kind.name()))
    }

    /// Re-reads changed model files and swaps them in.
    pub fn reload(&self) -> ReloadReport {
        let mut report = ReloadReport::default();
        let Some(dir) = &self.dir else { return report };
        for kind in ModelKind::ALL {
            let path = Registry::model_path(dir, kind);
            let stamp = match std::fs::metadata(&path) {
                Ok(m) => (m.modified().ok(), m.len()),
                Err(_) => {
                    self.refused.write().unwrap_or_else(|p| p.into_inner()).remove(&kind);
                    let mut models = self.models.write().unwrap_or_else(|p| p.into_inner());
                    if let Some(old) = models.remove(&kind) {
                        report.removed.push(old.model.version());
                    }
                    continue;
                }
            };
            let unchanged = {
                let models = self.models.read().unwrap_or_else(|p| p.into_inner());
                let refused = self.refused.read().unwrap_or_else(|p| p.into_inner());
                models.get(&kind).is_some_and(|l| l.stamp == stamp)
                    || refused.get(&kind).is_some_and(|r| r.2 == stamp && stamp.0.is_some())
            };
            if unchanged {
                continue;
            }
            let refusal = match Model::load(&path) {
                Ok(model) if model.kind == kind => {
                    report.loaded.push(model.version());
                    let mut models = self.models.write().unwrap_or_else(|p| p.into_inner());
                    models.insert(kind, Loaded { model: Arc::new(model), stamp });
                    None
                }
                Ok(model) => Some(format!("{}: holds the {} model", path.display(), model.kind.name())),
                Err(e) => Some(e.to_string()),
            };
            let mut refused = self.refused.write().unwrap_or_else(|p| p.into_inner());
            match refusal {
                Some(reason) => {
                    report.refused.push((path.clone(), reason.clone()));
                    refused.insert(kind, (path, reason, stamp));
                }
                None => {
                    refused.remove(&kind);
                }
            }
        }
        report
    }

    /// Adds or replaces a model directly (tests, embedding).
    pub fn insert(&self, model: Model) {
        let mut models = self.models.write().unwrap_or_else(|p| p.into_inner());
        models.insert(model.kind, Loaded { model: Arc::new(model), stamp: (None, 0) });
    }

    /// The served model of a kind.
    pub fn get(&self, kind: ModelKind) -> Option<Arc<Model>> {
        self.models.read().unwrap_or_else(|p| p.into_inner()).get(&kind).map(|l| l.model.clone())
    }

    /// Every served model, by name.
    pub fn list(&self) -> Vec<Arc<Model>> {
        self.models.read().unwrap_or_else(|p| p.into_inner()).values().map(|l| l.model.clone()).collect()
    }

    /// Files refused and not changed since, with the reason.
    pub fn refused(&self) -> Vec<(PathBuf, String)> {
        self.refused
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|(p, r, _)| (p.clone(), r.clone()))
            .collect()
    }
}
