//! `ntsb rag evaluate`: retrieval quality of BM25, dense and hybrid ranking on a
//! labelled set of queries.

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use ntsb_model::query::EventFilter;
use ntsb_retrieval::{Mode, Retriever, rank};
use ntsb_search::SearchIndex;
use serde::{Deserialize, Serialize};

use super::index::embedding_model;
use super::{Schema, open_index, open_store};
use crate::cli::{EvalMode, RagCommand, RagEvaluateArgs};
use crate::config::Config;
use crate::output::out;

/// Ranks read per query: MRR counts the first relevant event among them.
const DEPTH: usize = 100;

pub fn run(config: &Config, cmd: RagCommand) -> Result<ExitCode> {
    match cmd {
        RagCommand::Evaluate(args) => evaluate(config, args),
    }
}

/// One line of a set.
#[derive(Debug, Deserialize)]
struct Case {
    #[serde(default)]
    id: Option<String>,
    query: String,
    relevant_ev_ids: Vec<String>,
}

/// Reads a JSON Lines set; a bad line is named by file and line.
fn read_set(path: &Path) -> Result<Vec<Case>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(line).with_context(|| {
            format!("{}:{}: expected {{\"query\": \"...\", \"relevant_ev_ids\": [...]}}", path.display(), i + 1)
        })?;
        if case.query.trim().is_empty() {
            bail!("{}:{}: field `query` is empty", path.display(), i + 1);
        }
        cases.push(case);
    }
    if cases.is_empty() {
        bail!("{}: no queries", path.display());
    }
    Ok(cases)
}

/// Retrieval metrics of one query (binary relevance).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub p_at_10: f64,
    pub hit_at_5: f64,
    pub hit_at_10: f64,
    pub mrr: f64,
    pub ndcg_at_10: f64,
}

impl Metrics {
    /// The metrics of `ranked` (best first) against the `relevant` ids.
    pub fn of(ranked: &[i64], relevant: &HashSet<i64>) -> Metrics {
        let is_rel = |id: &i64| relevant.contains(id);
        let top = |k: usize| ranked.iter().take(k).filter(|id| is_rel(id)).count();
        let first = ranked.iter().position(is_rel);
        let dcg: f64 = ranked
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, id)| is_rel(id))
            .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
            .sum();
        let ideal: f64 = (0..relevant.len().min(10)).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum();
        Metrics {
            p_at_10: top(10) as f64 / 10.0,
            hit_at_5: f64::from(u8::from(top(5) > 0)),
            hit_at_10: f64::from(u8::from(top(10) > 0)),
            mrr: first.map_or(0.0, |r| 1.0 / (r as f64 + 1.0)),
            ndcg_at_10: if ideal > 0.0 { dcg / ideal } else { 0.0 },
        }
    }

    fn add(&mut self, o: &Metrics) {
        self.p_at_10 += o.p_at_10;
        self.hit_at_5 += o.hit_at_5;
        self.hit_at_10 += o.hit_at_10;
        self.mrr += o.mrr;
        self.ndcg_at_10 += o.ndcg_at_10;
    }

    fn divided(&self, n: f64) -> Metrics {
        Metrics {
            p_at_10: self.p_at_10 / n,
            hit_at_5: self.hit_at_5 / n,
            hit_at_10: self.hit_at_10 / n,
            mrr: self.mrr / n,
            ndcg_at_10: self.ndcg_at_10 / n,
        }
    }
}

#[derive(Debug, Serialize)]
struct QueryResult {
    id: Option<String>,
    query: String,
    relevant: usize,
    first_relevant_rank: Option<usize>,
    metrics: Metrics,
}

#[derive(Debug, Serialize)]
struct ModeResult {
    mode: &'static str,
    mode_used: &'static str,
    notice: Option<String>,
    metrics: Metrics,
    mean_ms_per_query: f64,
    queries: Vec<QueryResult>,
}

#[derive(Debug, Serialize)]
struct Report {
    set: String,
    queries: usize,
    evaluated: usize,
    relevant_missing_from_index: usize,
    years: Option<(i32, i32)>,
    embedded_only: bool,
    pool: Option<usize>,
    vectors: Option<ntsb_retrieval::VectorStats>,
    modes: Vec<ModeResult>,
}

fn evaluate(config: &Config, args: RagEvaluateArgs) -> Result<ExitCode> {
    let cases = read_set(&args.set)?;
    let store = open_store(config, Schema::RequireLatest)?;
    let index = open_index(config)?;
    index.sync(store.as_ref())?;
    let modes: Vec<Mode> = match args.mode {
        EvalMode::Bm25 => vec![Mode::Bm25],
        EvalMode::Dense => vec![Mode::Dense],
        EvalMode::Hybrid => vec![Mode::Hybrid],
        EvalMode::All => vec![Mode::Bm25, Mode::Dense, Mode::Hybrid],
    };
    let dense = if modes.iter().any(|m| *m != Mode::Bm25) {
        let model = embedding_model(config)?;
        let dir = config.vectors_dir();
        let r = Retriever::open(model, &dir).with_context(|| format!("opening the vectors in {}", dir.display()))?;
        Some(r.with_context(|| {
            format!("no vectors in {}: run `ntsb index embed` first (dense and hybrid need them)", dir.display())
        })?)
    } else {
        None
    };
    let mut allowed = match args.years {
        None => None,
        Some((from, to)) => Some(events_in_years(store.as_ref(), from, to)?),
    };
    if args.embedded_only {
        let r = match &dense {
            Some(r) => r,
            None => bail!("--embedded-only needs the vectors (a dense or hybrid mode)"),
        };
        let embedded = embedded_events(r);
        allowed = Some(match allowed {
            None => embedded,
            Some(a) => a.intersection(&embedded).copied().collect(),
        });
    }
    // Relevant events by store id; those not in the index (or outside the
    // years) cannot be found by any mode and are left out of the relevant set.
    let mut missing = 0;
    let mut prepared = Vec::new();
    for case in &cases {
        let mut relevant = HashSet::new();
        for ev_id in &case.relevant_ev_ids {
            match index.event_id_of(ev_id)? {
                Some(id) if allowed.as_ref().is_none_or(|a| a.contains(&id)) => {
                    relevant.insert(id);
                }
                _ => missing += 1,
            }
        }
        if !relevant.is_empty() {
            prepared.push((case, relevant));
        }
    }
    let mut results = Vec::new();
    for mode in modes {
        results.push(run_mode(&index, dense.as_ref(), mode, &prepared, allowed.as_ref())?);
    }
    let report = Report {
        set: args.set.display().to_string(),
        queries: cases.len(),
        evaluated: prepared.len(),
        relevant_missing_from_index: missing,
        years: args.years,
        embedded_only: args.embedded_only,
        pool: allowed.as_ref().map(HashSet::len),
        vectors: dense.as_ref().map(Retriever::stats),
        modes: results,
    };
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{}: {} queries, {} evaluated ({} relevant events not in the index{} left out)",
        report.set,
        report.queries,
        report.evaluated,
        report.relevant_missing_from_index,
        if report.pool.is_some() { " or outside the events ranked" } else { "" }
    )?;
    if let Some(pool) = report.pool {
        out!(
            "ranked among {pool} events{}{}",
            args.years.map_or(String::new(), |(a, b)| format!(" of {a}-{b}")),
            if args.embedded_only { " that have vectors" } else { "" }
        )?;
    }
    if let Some(v) = &report.vectors {
        out!("vectors: {} events, {} chunks, model {}", v.events, v.chunks, v.model)?;
    }
    out!("{:<8} {:>6} {:>6} {:>6} {:>6} {:>8} {:>9}", "mode", "P@10", "Hit@5", "Hit@10", "MRR", "nDCG@10", "ms/query")?;
    for r in &report.modes {
        let m = &r.metrics;
        out!(
            "{:<8} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>8.3} {:>9.1}{}",
            r.mode,
            m.p_at_10,
            m.hit_at_5,
            m.hit_at_10,
            m.mrr,
            m.ndcg_at_10,
            r.mean_ms_per_query,
            if r.mode != r.mode_used { format!("  (answered by {})", r.mode_used) } else { String::new() }
        )?;
        if let Some(n) = &r.notice {
            out!("         note: {n}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_mode(
    index: &SearchIndex,
    dense: Option<&Retriever>,
    mode: Mode,
    cases: &[(&Case, HashSet<i64>)],
    allowed: Option<&HashSet<i64>>,
) -> Result<ModeResult> {
    let mut sum = Metrics::default();
    let mut queries = Vec::new();
    let mut used = mode;
    let mut notice = None;
    let started = Instant::now();
    for (case, relevant) in cases {
        let ranking = rank(index, dense, &case.query, mode, DEPTH, allowed)?;
        used = ranking.mode;
        notice = ranking.notice;
        let ids: Vec<i64> = ranking.hits.iter().map(|h| h.event_id).collect();
        let m = Metrics::of(&ids, relevant);
        sum.add(&m);
        queries.push(QueryResult {
            id: case.id.clone(),
            query: case.query.clone(),
            relevant: relevant.len(),
            first_relevant_rank: ids.iter().position(|id| relevant.contains(id)).map(|r| r + 1),
            metrics: m,
        });
    }
    let n = cases.len().max(1) as f64;
    Ok(ModeResult {
        mode: mode.as_str(),
        mode_used: used.as_str(),
        notice,
        metrics: sum.divided(n),
        mean_ms_per_query: started.elapsed().as_secs_f64() * 1000.0 / n,
        queries,
    })
}

/// Store ids of every event that has vectors: a search with a zero query scores
/// them all alike and returns each.
fn embedded_events(r: &Retriever) -> HashSet<i64> {
    let zero = vec![0.0; r.embedder().dims()];
    r.vectors().search(&zero, usize::MAX, &|_, _| true).into_iter().map(|h| h.event_id).collect()
}

/// Store ids of the events dated in the years `from` to `to`.
fn events_in_years(store: &dyn ntsb_store::Backend, from: i32, to: i32) -> Result<HashSet<i64>> {
    let filter = EventFilter {
        from: NaiveDate::from_ymd_opt(from, 1, 1),
        to: NaiveDate::from_ymd_opt(to, 12, 31),
        ..EventFilter::default()
    };
    let mut ids = HashSet::new();
    store.export_events(&filter, &mut |e| {
        ids.insert(e.event_id);
        Ok(())
    })?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_a_known_ranking() {
        let relevant: HashSet<i64> = [2, 9, 50].into_iter().collect();
        let ranked: Vec<i64> = (1..=20).collect();
        let m = Metrics::of(&ranked, &relevant);
        assert_eq!(m.p_at_10, 0.2);
        assert_eq!((m.hit_at_5, m.hit_at_10), (1.0, 1.0));
        assert_eq!(m.mrr, 0.5);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 10f64.log2();
        let ideal = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((m.ndcg_at_10 - dcg / ideal).abs() < 1e-12);
        let none = Metrics::of(&[7, 8], &relevant);
        assert_eq!(none, Metrics::default());
    }

    #[test]
    fn a_bad_line_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("set.jsonl");
        std::fs::write(&path, "{\"query\": \"a\", \"relevant_ev_ids\": [\"x\"]}\n{\"query\": 3}\n").expect("write");
        let err = format!("{:#}", read_set(&path).expect_err("bad line"));
        assert!(err.contains("set.jsonl:2"), "{err}");
    }
}
