//! [`VectorIndex`]: the chunk embeddings of every event's narrative and probable
//! cause, kept in step with the store through its index change log and
//! searched exactly.
//!
//! # Why exact search, and what it costs
//!
//! The whole corpus (about 90,000 events with text) makes a few hundred
//! thousand chunks. One query is then one dot product with each chunk:
//! 384 multiply-adds × 500,000 chunks ≈ 0.2 G operations, a few tens of
//! milliseconds split over the cores with rayon, with recall 1.0 by
//! definition, no index to train or tune, and updates that are appends. An
//! approximate index (HNSW, IVF) would only pay off at millions of chunks. Memory
//! is the vectors themselves: `dims × 4` bytes per chunk (1,536 bytes for
//! all-MiniLM-L6-v2, about 0.77 GB per 500,000 chunks) plus about 40 bytes of
//! bookkeeping per chunk and per event ([`VectorIndex::memory_bytes`]).
//!
//! # The file
//!
//! One append-only file, `vectors.log` in the index directory: a header (model
//! fingerprint, dimensions, the store lineage followed, the year scope), then
//! records — an event's chunks replaced, an event removed, and a commit carrying
//! the position in the store's index change log. Opening replays the records up
//! to the last commit; whatever follows it (a crash in mid-batch) is cut off and
//! redone by the next sync, so the job is resumable at any point. When more than
//! half the rows are dead (replaced or removed), the file is rewritten compactly
//! beside the old one and renamed over it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

use ntsb_store::{IndexDoc, Store};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::embed::{Embedder, Span, dot};
use crate::error::{Error, Result};

/// Name of the vector file inside the index directory.
pub const VECTOR_FILE: &str = "vectors.log";
const MAGIC: &[u8; 8] = b"NTSBVEC1";
const TAG_UPSERT: u8 = 1;
const TAG_REMOVE: u8 = 2;
const TAG_COMMIT: u8 = 3;
const COMMIT_CHECK: u32 = 0xC0FF_EE01;
/// Store documents read and embedded per committed round.
const SYNC_BATCH: usize = 64;

/// Which part of an event's text a chunk comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The narrative.
    Narrative,
    /// The probable cause.
    ProbableCause,
}

/// Years of events the index holds (`None`: unbounded). A scoped index answers
/// for those events only and says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// First year held.
    pub year_from: Option<i32>,
    /// Last year held.
    pub year_to: Option<i32>,
}

impl Scope {
    /// Whether an event of this year belongs in the index (an event without a
    /// date belongs only in an unscoped index).
    pub fn contains(&self, year: Option<i32>) -> bool {
        if self.year_from.is_none() && self.year_to.is_none() {
            return true;
        }
        let Some(y) = year else { return false };
        self.year_from.is_none_or(|f| y >= f) && self.year_to.is_none_or(|t| y <= t)
    }

    /// Whether this scope holds every event.
    pub fn is_everything(&self) -> bool {
        self.year_from.is_none() && self.year_to.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    model: String,
    dims: usize,
    store_id: Option<String>,
    scope: Scope,
}

/// One chunk's place in its event's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// Narrative or probable cause.
    pub field: Field,
    /// First byte of the chunk in that text.
    pub start: u32,
    /// Byte after the chunk.
    pub end: u32,
}

#[derive(Debug, Clone)]
struct EventEntry {
    ev_id: Option<String>,
    year: Option<i32>,
    first_row: usize,
    chunks: Vec<ChunkRef>,
}

/// One event found by dense search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseHit {
    /// Store's internal event id.
    pub event_id: i64,
    /// NTSB event id, when known.
    pub ev_id: Option<String>,
    /// Cosine similarity of the best chunk (−1 … 1).
    pub score: f32,
    /// The best chunk.
    pub chunk: ChunkRef,
}

/// Figures of an index, for progress and `/health`-like reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorStats {
    /// Events with vectors.
    pub events: usize,
    /// Live chunks (vectors).
    pub chunks: usize,
    /// Dimensions per vector.
    pub dims: usize,
    /// Position in the store's index change log.
    pub position: u64,
    /// Years held.
    pub scope: Scope,
    /// Fingerprint of the model the vectors come from.
    pub model: String,
    /// Bytes held in memory (vectors and bookkeeping).
    pub memory_bytes: usize,
}

/// What one [`VectorIndex::sync`] round did; passed to the progress callback.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedProgress {
    /// Position reached in the store's index change log.
    pub position: u64,
    /// The log's head when the sync started.
    pub head: u64,
    /// Events embedded so far by this sync.
    pub events: u64,
    /// Chunks embedded so far by this sync.
    pub chunks: u64,
    /// Events removed (no text any more, or outside the scope).
    pub removed: u64,
}

struct Inner {
    header: Header,
    position: u64,
    data: Vec<f32>,
    /// Owner of each row; `None` when dead.
    owners: Vec<Option<i64>>,
    events: HashMap<i64, EventEntry>,
    /// File length up to the last replayed commit.
    committed_len: u64,
}

impl Inner {
    fn dead(&self) -> usize {
        self.owners.len() - self.live()
    }

    fn live(&self) -> usize {
        self.events.values().map(|e| e.chunks.len()).sum()
    }

    fn remove(&mut self, event_id: i64) -> bool {
        let Some(old) = self.events.remove(&event_id) else { return false };
        for row in old.first_row..old.first_row + old.chunks.len() {
            self.owners[row] = None;
        }
        true
    }

    fn upsert(
        &mut self,
        event_id: i64,
        ev_id: Option<String>,
        year: Option<i32>,
        chunks: Vec<ChunkRef>,
        vectors: &[f32],
    ) {
        self.remove(event_id);
        let first_row = self.owners.len();
        self.owners.extend(std::iter::repeat_n(Some(event_id), chunks.len()));
        self.data.extend_from_slice(vectors);
        self.events.insert(event_id, EventEntry { ev_id, year, first_row, chunks });
    }
}

enum Op {
    Upsert { event_id: i64, ev_id: Option<String>, year: Option<i32>, chunks: Vec<ChunkRef>, vectors: Vec<f32> },
    Remove(i64),
}

/// The dense vectors of one data directory (see the module documentation).
pub struct VectorIndex {
    dir: PathBuf,
    inner: RwLock<Inner>,
    writer: Mutex<()>,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl VectorIndex {
    /// Whether `dir` holds a vector file.
    pub fn exists(dir: &Path) -> bool {
        dir.join(VECTOR_FILE).is_file()
    }

    /// Opens the vectors in `dir` for searching. Refuses a file written with
    /// another model than `model` (its fingerprint) or of other dimensions.
    pub fn open(dir: &Path, model: &str, dims: usize) -> Result<VectorIndex> {
        let path = dir.join(VECTOR_FILE);
        let inner = read_file(&path)?;
        if inner.header.model != model || inner.header.dims != dims {
            return Err(Error::index(
                &path,
                format!(
                    "written with model {} ({} dims), not {model} ({dims} dims): rebuild it with `ntsb index embed --rebuild`",
                    inner.header.model, inner.header.dims
                ),
            ));
        }
        Ok(VectorIndex { dir: dir.to_path_buf(), inner: RwLock::new(inner), writer: Mutex::new(()) })
    }

    /// Opens the vectors in `dir`, or creates an empty index for `embedder`
    /// holding `scope` when there are none. With `rebuild`, or when the file
    /// was written by another model or for another scope, starts afresh.
    pub fn open_or_create(dir: &Path, embedder: &Embedder, scope: Scope, rebuild: bool) -> Result<VectorIndex> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(VECTOR_FILE);
        if !rebuild && path.is_file() {
            let inner = read_file(&path)?;
            if inner.header.model == embedder.fingerprint()
                && inner.header.dims == embedder.dims()
                && inner.header.scope == scope
            {
                return Ok(VectorIndex { dir: dir.to_path_buf(), inner: RwLock::new(inner), writer: Mutex::new(()) });
            }
        }
        let header = Header { model: embedder.fingerprint().to_string(), dims: embedder.dims(), store_id: None, scope };
        let inner = write_fresh(&path, header, 0, None)?;
        Ok(VectorIndex { dir: dir.to_path_buf(), inner: RwLock::new(inner), writer: Mutex::new(()) })
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Figures of the index as last committed.
    pub fn stats(&self) -> VectorStats {
        let inner = self.read();
        VectorStats {
            events: inner.events.len(),
            chunks: inner.live(),
            dims: inner.header.dims,
            position: inner.position,
            scope: inner.header.scope,
            model: inner.header.model.clone(),
            memory_bytes: memory_of(&inner),
        }
    }

    /// Bytes held in memory: the vectors (live and not yet compacted) and the
    /// per-row and per-event bookkeeping.
    pub fn memory_bytes(&self) -> usize {
        memory_of(&self.read())
    }

    /// The years this index holds.
    pub fn scope(&self) -> Scope {
        self.read().header.scope
    }

    /// Re-reads the file when another process (an `ntsb index embed` job) has
    /// committed since: appended records are replayed, a rewritten file is read
    /// whole. Returns the position then.
    pub fn refresh(&self) -> Result<u64> {
        let path = self.dir.join(VECTOR_FILE);
        let len = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        {
            let inner = self.read();
            if len == inner.committed_len {
                return Ok(inner.position);
            }
        }
        let fresh = read_file(&path)?;
        let mut inner = self.write();
        if fresh.header.model == inner.header.model && fresh.header.dims == inner.header.dims {
            *inner = fresh;
        }
        Ok(inner.position)
    }

    /// Brings the vectors up to date with the store: embeds the text of every
    /// event changed after the position last committed, in rounds of
    /// [`SYNC_BATCH`] events, each appended and committed with its position, so
    /// stopping (`stop`, a crash) loses at most one round. `progress` is called
    /// after each round. An index that follows another store, or is ahead of
    /// the store's log, starts afresh.
    pub fn sync(
        &self,
        store: &dyn Store,
        embedder: &Embedder,
        stop: &AtomicBool,
        progress: &mut dyn FnMut(&EmbedProgress),
    ) -> Result<EmbedProgress> {
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.dir.join(VECTOR_FILE);
        if embedder.fingerprint() != self.read().header.model {
            return Err(Error::index(&path, "opened for another model than the one embedding"));
        }
        let store_id = store.store_id()?;
        let head = store.index_log_head()?;
        {
            let (recorded, position) = {
                let inner = self.read();
                (inner.header.store_id.clone(), inner.position)
            };
            let foreign = recorded.is_some() && store_id.is_some() && recorded != store_id;
            if foreign || position > head {
                let header = Header { store_id: store_id.clone(), ..self.read().header.clone() };
                *self.write() = write_fresh(&path, header, 0, None)?;
            } else if recorded.is_none() && store_id.is_some() {
                // First sync of a new index: record the lineage it follows.
                let header = Header { store_id: store_id.clone(), ..self.read().header.clone() };
                let inner = self.read();
                let snapshot = snapshot_of(&inner);
                drop(inner);
                *self.write() = write_fresh(&path, header, position, Some(snapshot))?;
            }
        }
        let scope = self.scope();
        let mut report = EmbedProgress { position: self.read().position, head, ..EmbedProgress::default() };
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(Error::Stopped);
            }
            let changes = store.index_changes(report.position, SYNC_BATCH)?;
            let Some(last) = changes.last().map(|c| c.seq) else { break };
            if last <= report.position {
                return Err(Error::StoreNotAdvancing(changes.len()));
            }
            let docs: Vec<IndexDoc> = changes.into_iter().map(|c| c.doc).collect();
            let ops = self.embed_ops(embedder, docs, scope, &mut report)?;
            self.append(&path, ops, last)?;
            report.position = last;
            progress(&report);
        }
        let needs_compaction = {
            let inner = self.read();
            inner.dead() > 1024 && inner.dead() > inner.live()
        };
        if needs_compaction {
            let inner = self.read();
            let (header, position, snapshot) = (inner.header.clone(), inner.position, snapshot_of(&inner));
            drop(inner);
            *self.write() = write_fresh(&path, header, position, Some(snapshot))?;
        }
        Ok(report)
    }

    fn embed_ops(
        &self,
        embedder: &Embedder,
        docs: Vec<IndexDoc>,
        scope: Scope,
        report: &mut EmbedProgress,
    ) -> Result<Vec<Op>> {
        let mut ops = Vec::with_capacity(docs.len());
        let mut texts: Vec<String> = Vec::new();
        let mut owners: Vec<(usize, Field)> = Vec::new();
        let mut pending = Vec::new();
        for doc in docs {
            let year = doc.event_date.as_deref().and_then(|d| d.get(..4)).and_then(|y| y.parse::<i32>().ok());
            let text = doc.text.filter(|t| !(t.narrative.trim().is_empty() && t.probable_cause.trim().is_empty()));
            match text {
                Some(t) if scope.contains(year) => {
                    let slot = pending.len();
                    pending.push((doc.event_id, doc.ev_id, year));
                    texts.push(t.narrative);
                    owners.push((slot, Field::Narrative));
                    texts.push(t.probable_cause);
                    owners.push((slot, Field::ProbableCause));
                }
                _ => {
                    if self.read().events.contains_key(&doc.event_id) {
                        report.removed += 1;
                    }
                    ops.push(Op::Remove(doc.event_id));
                }
            }
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embedded = embedder.embed_documents(&refs)?;
        let mut per_event: Vec<(Vec<ChunkRef>, Vec<f32>)> = vec![(Vec::new(), Vec::new()); pending.len()];
        for ((slot, field), chunks) in owners.into_iter().zip(embedded) {
            for (Span { start, end }, v) in chunks {
                per_event[slot].0.push(ChunkRef { field, start: start as u32, end: end as u32 });
                per_event[slot].1.extend_from_slice(&v);
            }
        }
        for ((event_id, ev_id, year), (chunks, vectors)) in pending.into_iter().zip(per_event) {
            if chunks.is_empty() {
                ops.push(Op::Remove(event_id));
                continue;
            }
            report.events += 1;
            report.chunks += chunks.len() as u64;
            ops.push(Op::Upsert { event_id, ev_id, year, chunks, vectors });
        }
        Ok(ops)
    }

    fn append(&self, path: &Path, ops: Vec<Op>, position: u64) -> Result<()> {
        let committed_len = self.read().committed_len;
        let file = OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
        // Whatever follows the last commit is an interrupted round: cut it off.
        file.set_len(committed_len).map_err(|e| Error::io(path, e))?;
        let mut w = BufWriter::new(file);
        w.seek(SeekFrom::Start(committed_len)).map_err(|e| Error::io(path, e))?;
        let mut bytes = Vec::new();
        for op in &ops {
            encode_op(&mut bytes, op);
        }
        bytes.push(TAG_COMMIT);
        bytes.extend_from_slice(&position.to_le_bytes());
        bytes.extend_from_slice(&COMMIT_CHECK.to_le_bytes());
        w.write_all(&bytes).map_err(|e| Error::io(path, e))?;
        let file = w.into_inner().map_err(|e| Error::io(path, e.into_error()))?;
        file.sync_data().map_err(|e| Error::io(path, e))?;
        let mut inner = self.write();
        for op in ops {
            apply(&mut inner, op);
        }
        inner.position = position;
        inner.committed_len = committed_len + bytes.len() as u64;
        Ok(())
    }

    /// The `k` events whose best chunk is closest to `query` (a unit vector from
    /// the same model), best first, among those `allowed` accepts (by store id
    /// and year). Exact: every live chunk is scored, in parallel.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        allowed: &(dyn Fn(i64, Option<i32>) -> bool + Sync),
    ) -> Vec<DenseHit> {
        let inner = self.read();
        let dims = inner.header.dims;
        if k == 0 || query.len() != dims || inner.events.is_empty() {
            return Vec::new();
        }
        let scores: Vec<f32> = inner.data.par_chunks_exact(dims).map(|row| dot(row, query)).collect();
        let mut best: Vec<(f32, i64, usize)> = inner
            .events
            .par_iter()
            .filter(|(id, e)| allowed(**id, e.year))
            .map(|(id, e)| {
                let rows = &scores[e.first_row..e.first_row + e.chunks.len()];
                let (i, s) = rows
                    .iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |acc, (i, &s)| if s > acc.1 { (i, s) } else { acc });
                (s, *id, i)
            })
            .collect();
        let cmp = |a: &(f32, i64, usize), b: &(f32, i64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if best.len() > k {
            best.select_nth_unstable_by(k - 1, cmp);
            best.truncate(k);
        }
        best.sort_by(cmp);
        best.into_iter()
            .map(|(score, id, i)| {
                let e = &inner.events[&id];
                DenseHit { event_id: id, ev_id: e.ev_id.clone(), score, chunk: e.chunks[i] }
            })
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn memory_of(inner: &Inner) -> usize {
    inner.data.capacity() * 4
        + inner.owners.capacity() * std::mem::size_of::<Option<i64>>()
        + inner
            .events
            .values()
            .map(|e| {
                64 + e.chunks.capacity() * std::mem::size_of::<ChunkRef>() + e.ev_id.as_ref().map_or(0, |s| s.len())
            })
            .sum::<usize>()
}

fn apply(inner: &mut Inner, op: Op) {
    match op {
        Op::Upsert { event_id, ev_id, year, chunks, vectors } => inner.upsert(event_id, ev_id, year, chunks, &vectors),
        Op::Remove(id) => {
            inner.remove(id);
        }
    }
}

/// Live events as upsert operations, in row order.
fn snapshot_of(inner: &Inner) -> Vec<Op> {
    let dims = inner.header.dims;
    let mut events: Vec<(&i64, &EventEntry)> = inner.events.iter().collect();
    events.sort_by_key(|(_, e)| e.first_row);
    events
        .into_iter()
        .map(|(id, e)| Op::Upsert {
            event_id: *id,
            ev_id: e.ev_id.clone(),
            year: e.year,
            chunks: e.chunks.clone(),
            vectors: inner.data[e.first_row * dims..(e.first_row + e.chunks.len()) * dims].to_vec(),
        })
        .collect()
}

fn encode_op(out: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Upsert { event_id, ev_id, year, chunks, vectors } => {
            out.push(TAG_UPSERT);
            out.extend_from_slice(&event_id.to_le_bytes());
            out.extend_from_slice(&year.unwrap_or(i32::MIN).to_le_bytes());
            let ev = ev_id.as_deref().unwrap_or("").as_bytes();
            let ev = &ev[..ev.len().min(u16::MAX as usize)];
            out.extend_from_slice(&(ev.len() as u16).to_le_bytes());
            out.extend_from_slice(ev);
            out.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
            for c in chunks {
                out.push(match c.field {
                    Field::Narrative => 0,
                    Field::ProbableCause => 1,
                });
                out.extend_from_slice(&c.start.to_le_bytes());
                out.extend_from_slice(&c.end.to_le_bytes());
            }
            for x in vectors {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        Op::Remove(id) => {
            out.push(TAG_REMOVE);
            out.extend_from_slice(&id.to_le_bytes());
        }
    }
}

/// Writes a new file (header, the snapshot's events, a commit at `position`)
/// beside the old one and renames it over it.
fn write_fresh(path: &Path, header: Header, position: u64, snapshot: Option<Vec<Op>>) -> Result<Inner> {
    let tmp = path.with_extension("log.tmp");
    let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut w = BufWriter::new(file);
    let head = serde_json::to_vec(&header).map_err(|e| Error::index(path, e.to_string()))?;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(head.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&head);
    let mut inner =
        Inner { header, position, data: Vec::new(), owners: Vec::new(), events: HashMap::new(), committed_len: 0 };
    let mut written = 0u64;
    for op in snapshot.unwrap_or_default() {
        encode_op(&mut bytes, &op);
        apply(&mut inner, op);
        if bytes.len() > 1 << 20 {
            w.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
            written += bytes.len() as u64;
            bytes.clear();
        }
    }
    bytes.push(TAG_COMMIT);
    bytes.extend_from_slice(&position.to_le_bytes());
    bytes.extend_from_slice(&COMMIT_CHECK.to_le_bytes());
    w.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
    written += bytes.len() as u64;
    let file = w.into_inner().map_err(|e| Error::io(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    inner.committed_len = written;
    Ok(inner)
}

/// Reads a vector file up to its last commit.
fn read_file(path: &Path) -> Result<Inner> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let bad = |why: &str| Error::index(path, why.to_string());
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(|_| bad("not a vector file (too short)"))?;
    if &magic != MAGIC {
        return Err(bad("not a vector file (wrong magic bytes)"));
    }
    let len = read_u32(&mut r).map_err(|_| bad("truncated header"))? as usize;
    if len > 1 << 20 {
        return Err(bad("header too long"));
    }
    let mut head = vec![0u8; len];
    r.read_exact(&mut head).map_err(|_| bad("truncated header"))?;
    let header: Header = serde_json::from_slice(&head).map_err(|e| Error::index(path, format!("bad header: {e}")))?;
    let dims = header.dims;
    if dims == 0 || dims > 8192 {
        return Err(bad("bad header: dimensions out of range"));
    }
    let mut inner =
        Inner { header, position: 0, data: Vec::new(), owners: Vec::new(), events: HashMap::new(), committed_len: 0 };
    let mut offset = 12 + len as u64;
    let mut pending: Vec<Op> = Vec::new();
    let mut seen_commit = false;
    // Any failure to read a whole record ends the replay at the last commit.
    loop {
        let mut tag = [0u8; 1];
        if r.read_exact(&mut tag).is_err() {
            break;
        }
        let record = (|| -> std::io::Result<(Option<Op>, Option<u64>, u64)> {
            match tag[0] {
                TAG_UPSERT => {
                    let event_id = read_i64(&mut r)?;
                    let year = read_i32(&mut r)?;
                    let ev_len = read_u16(&mut r)? as usize;
                    let mut ev = vec![0u8; ev_len];
                    r.read_exact(&mut ev)?;
                    let n = read_u32(&mut r)? as usize;
                    if n > 1_000_000 {
                        return Err(std::io::Error::other("implausible chunk count"));
                    }
                    let mut chunks = Vec::with_capacity(n);
                    for _ in 0..n {
                        let mut f = [0u8; 1];
                        r.read_exact(&mut f)?;
                        let field = if f[0] == 0 { Field::Narrative } else { Field::ProbableCause };
                        chunks.push(ChunkRef { field, start: read_u32(&mut r)?, end: read_u32(&mut r)? });
                    }
                    let mut raw = vec![0u8; n * dims * 4];
                    r.read_exact(&mut raw)?;
                    let vectors = raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                    let ev_id = String::from_utf8(ev).ok().filter(|s| !s.is_empty());
                    let year = (year != i32::MIN).then_some(year);
                    let size = 1 + 8 + 4 + 2 + ev_len as u64 + 4 + 9 * n as u64 + (n * dims * 4) as u64;
                    Ok((Some(Op::Upsert { event_id, ev_id, year, chunks, vectors }), None, size))
                }
                TAG_REMOVE => Ok((Some(Op::Remove(read_i64(&mut r)?)), None, 9)),
                TAG_COMMIT => {
                    let position = read_u64(&mut r)?;
                    if read_u32(&mut r)? != COMMIT_CHECK {
                        return Err(std::io::Error::other("bad commit record"));
                    }
                    Ok((None, Some(position), 13))
                }
                _ => Err(std::io::Error::other("unknown record")),
            }
        })();
        let Ok((op, commit, size)) = record else { break };
        offset += size;
        if let Some(op) = op {
            pending.push(op);
        }
        if let Some(position) = commit {
            for op in pending.drain(..) {
                apply(&mut inner, op);
            }
            inner.position = position;
            inner.committed_len = offset;
            seen_commit = true;
        }
    }
    if !seen_commit {
        return Err(bad("no committed state (an interrupted creation): rebuild it with `ntsb index embed --rebuild`"));
    }
    Ok(inner)
}

fn read_u16(r: &mut impl Read) -> std::io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}
fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}
fn read_i32(r: &mut impl Read) -> std::io::Result<i32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(i32::from_le_bytes(b))
}
fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}
fn read_i64(r: &mut impl Read) -> std::io::Result<i64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(i64::from_le_bytes(b))
}
