//! One ranking for every mode: BM25 alone, dense alone, or both fused by
//! reciprocal rank ([`rank`]), with the same event filter applied to each list
//! before fusion.

use std::collections::HashSet;

use ntsb_model::vocab::Vocabulary;

use ntsb_search::SearchIndex;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fusion::reciprocal_rank_fusion;
use crate::retriever::Retriever;
use crate::vectors::ChunkRef;

/// Candidates each list contributes to a fusion (at least the depth asked).
pub const FUSION_CANDIDATES: usize = 100;
/// BM25 hits read when a filter will discard some (the filter applies after
/// ranking in the text index).
const FILTERED_BM25_DEPTH: usize = 20_000;

/// How results are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// BM25 over narratives and probable causes (the full-text index).
    Bm25,
    /// Cosine similarity of sentence embeddings (best chunk per event).
    Dense,
    /// Both, fused by reciprocal rank.
    Hybrid,
}

impl Mode {
    /// The mode's name as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Bm25 => "bm25",
            Mode::Dense => "dense",
            Mode::Hybrid => "hybrid",
        }
    }

    /// Parses `bm25`, `dense` or `hybrid`.
    pub fn parse(s: &str) -> Option<Mode> {
        <Mode as Vocabulary>::ALL.iter().copied().find(|m| m.as_str() == s)
    }
}

/// The modes an API parameter accepts and documents.
impl Vocabulary for Mode {
    const ALL: &'static [Mode] = &[Mode::Bm25, Mode::Dense, Mode::Hybrid];

    fn canonical(self) -> &'static str {
        self.as_str()
    }
}

/// One ranked event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    /// Store's internal event id.
    pub event_id: i64,
    /// The score of the mode used: BM25, cosine, or the fused RRF score.
    pub score: f32,
    /// Rank (from 1) in the BM25 list, when the event is in it.
    pub bm25_rank: Option<u32>,
    /// Rank (from 1) in the dense list, when the event is in it.
    pub dense_rank: Option<u32>,
    /// The event's chunk closest to the query, when it is in the dense list.
    pub chunk: Option<ChunkRef>,
}

/// A ranking and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// The mode used (BM25 when dense was asked for but there are no vectors).
    pub mode: Mode,
    /// Why the mode used differs from the one asked for, or what the vectors
    /// cover when they cover part of the store.
    pub notice: Option<String>,
    /// Best first.
    pub hits: Vec<Ranked>,
}

/// Ranks the events for `query` by `mode`, best first, at most `depth` of them,
/// among `allowed` (every event when `None`). Without `dense` vectors a dense or
/// hybrid ranking falls back to BM25 and says so in [`Ranking::notice`].
pub fn rank(
    text: &SearchIndex,
    dense: Option<&Retriever>,
    query: &str,
    mode: Mode,
    depth: usize,
    allowed: Option<&HashSet<i64>>,
) -> Result<Ranking> {
    let (mode, mut notice) = match (mode, dense) {
        (Mode::Bm25, _) => (Mode::Bm25, None),
        (m, Some(_)) => (m, None),
        (_, None) => (
            Mode::Bm25,
            Some("no sentence vectors are loaded (run `ntsb index embed` and serve with --embedding-model): ranked by BM25 alone".to_string()),
        ),
    };
    if let (Some(r), Mode::Dense | Mode::Hybrid) = (dense, mode) {
        let scope = r.vectors().scope();
        if !scope.is_everything() {
            notice = Some(format!(
                "the sentence vectors cover events of {}-{} only",
                scope.year_from.map_or("…".to_string(), |y| y.to_string()),
                scope.year_to.map_or("…".to_string(), |y| y.to_string())
            ));
        }
    }
    let candidates = depth.max(FUSION_CANDIDATES);
    let bm25 = |n: usize| -> Result<Vec<(i64, f32)>> {
        Ok(match allowed {
            None => text.search_ids(query, n)?,
            Some(set) => {
                let mut ids = text.search_ids(query, FILTERED_BM25_DEPTH.max(n))?;
                ids.retain(|(id, _)| set.contains(id));
                ids.truncate(n);
                ids
            }
        })
    };
    let dense_list = |r: &Retriever, n: usize| match allowed {
        None => r.search(query, n, &|_, _| true),
        Some(set) => r.search(query, n, &|id, _| set.contains(&id)),
    };
    let hits = match (mode, dense) {
        (Mode::Dense, Some(r)) => dense_list(r, depth)?
            .into_iter()
            .enumerate()
            .map(|(i, h)| Ranked {
                event_id: h.event_id,
                score: h.score,
                bm25_rank: None,
                dense_rank: Some(i as u32 + 1),
                chunk: Some(h.chunk),
            })
            .collect(),
        (Mode::Hybrid, Some(r)) => {
            let b = bm25(candidates)?;
            let d = dense_list(r, candidates)?;
            let b_ids: Vec<i64> = b.iter().map(|x| x.0).collect();
            let d_ids: Vec<i64> = d.iter().map(|x| x.event_id).collect();
            let mut fused = reciprocal_rank_fusion(&[&b_ids, &d_ids]);
            fused.truncate(depth);
            fused
                .into_iter()
                .map(|(id, score)| {
                    let bi = b_ids.iter().position(|x| *x == id);
                    let di = d_ids.iter().position(|x| *x == id);
                    Ranked {
                        event_id: id,
                        score,
                        bm25_rank: bi.map(|i| i as u32 + 1),
                        dense_rank: di.map(|i| i as u32 + 1),
                        chunk: di.map(|i| d[i].chunk),
                    }
                })
                .collect()
        }
        _ => bm25(depth)?
            .into_iter()
            .enumerate()
            .map(|(i, (id, score))| Ranked {
                event_id: id,
                score,
                bm25_rank: Some(i as u32 + 1),
                dense_rank: None,
                chunk: None,
            })
            .collect(),
    };
    Ok(Ranking { mode, notice, hits })
}
