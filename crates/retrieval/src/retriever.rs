//! [`Retriever`]: a model and the vectors it computed, ready to answer queries.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::embed::Embedder;
use crate::error::Result;
use crate::vectors::{DenseHit, VectorIndex, VectorStats};

/// Shortest time between two checks of the vector file for another process's
/// commits (an `ntsb index embed` job running beside a server).
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// The embedding model and the vector index of one data directory.
#[derive(Debug)]
pub struct Retriever {
    embedder: Embedder,
    vectors: VectorIndex,
    checked: Mutex<Instant>,
}

impl Retriever {
    /// Loads the model in `model_dir` and the vectors in `vectors_dir`; `None`
    /// when there are no vectors yet (search then answers with BM25 alone).
    pub fn open(model_dir: &Path, vectors_dir: &Path) -> Result<Option<Retriever>> {
        if !VectorIndex::exists(vectors_dir) {
            return Ok(None);
        }
        let embedder = Embedder::load(model_dir)?;
        let vectors = VectorIndex::open(vectors_dir, embedder.fingerprint(), embedder.dims())?;
        Ok(Some(Retriever::new(embedder, vectors)))
    }

    /// A retriever over a loaded model and index.
    pub fn new(embedder: Embedder, vectors: VectorIndex) -> Retriever {
        Retriever { embedder, vectors, checked: Mutex::new(Instant::now()) }
    }

    /// The model.
    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// The vectors.
    pub fn vectors(&self) -> &VectorIndex {
        &self.vectors
    }

    /// Figures of the vectors.
    pub fn stats(&self) -> VectorStats {
        self.vectors.stats()
    }

    /// The `k` events closest in meaning to `query` among those `allowed`
    /// accepts (store id, year), best first. Picks up another process's commits
    /// to the vector file first (checked at most every two seconds).
    pub fn search(
        &self,
        query: &str,
        k: usize,
        allowed: &(dyn Fn(i64, Option<i32>) -> bool + Sync),
    ) -> Result<Vec<DenseHit>> {
        let due = {
            let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
            let due = checked.elapsed() >= REFRESH_EVERY;
            if due {
                *checked = Instant::now();
            }
            due
        };
        if due {
            self.vectors.refresh()?;
        }
        if query.trim().is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let q = self.embedder.embed(&[query])?.remove(0);
        Ok(self.vectors.search(&q, k, allowed))
    }
}
