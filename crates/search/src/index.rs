//! [`SearchIndex`]: opening the index directory, syncing it from the store, and
//! answering queries.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use ntsb_store::{IndexDoc, Store};
use tantivy::collector::{Count, TopDocs};
use tantivy::columnar::Column;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, TantivyError, Term,
};

use crate::error::{Error, Result};
use crate::query::{self, ALL_TERMS_BONUS, Matching};
use crate::schema::{self, Fields, SCHEMA_VERSION, TANTIVY_META, VERSION_FILE};
use crate::snippet::Snippets;
use crate::types::{Document, Hit, MAX_LIMIT, MAX_OFFSET, SearchOptions, SearchResults, SyncOutcome};

/// Indexing threads of the writer (the target machines have 2 cores).
const WRITER_THREADS: usize = 2;
/// Writer memory budget in bytes, shared by its threads.
const WRITER_BUDGET: usize = 200_000_000;
/// Documents asked from the store per round; each round ends with a commit.
const SYNC_BATCH: usize = 10_000;
/// Prefix of the commit payload that records which store the index follows
/// (its `store_id`) and its position in that store's change log:
/// `ntsb-index-log:<store id> <position>`.
const POSITION_PREFIX: &str = "ntsb-index-log:";

/// Most ids [`SearchIndex::search_ids`] returns.
pub const MAX_IDS: usize = 200_000;

/// The full-text index of one data directory.
///
/// Cheap to share behind an `Arc`: searches run concurrently, each on its own
/// searcher; syncs are serialised by the single writer's lock. The writer is
/// created on first write, so processes that only search never take tantivy's
/// directory lock and can run beside a process that syncs.
pub struct SearchIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    analyzer: TextAnalyzer,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating the directory and an empty index when
    /// there is none.
    ///
    /// Refuses ([`Error::SchemaVersion`]) an index written with another schema,
    /// and ([`Error::NotAnIndex`]) a non-empty directory that holds no index.
    pub fn open_or_create(dir: &Path) -> Result<SearchIndex> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let (schema, fields) = schema::build();
        let version = schema::read_version(dir)?;
        let has_index = dir.join(TANTIVY_META).exists();
        let mismatch =
            |found: String| Error::SchemaVersion { path: dir.to_path_buf(), found, expected: SCHEMA_VERSION };
        let index = match version {
            Some(v) if v != SCHEMA_VERSION.to_string() => return Err(mismatch(v)),
            Some(v) if has_index => {
                let index = Index::open_in_dir(dir)?;
                if index.schema() != schema {
                    return Err(mismatch(format!("{v} (with different fields)")));
                }
                index
            }
            // Version file written but the index not created yet (interrupted creation).
            Some(_) => Index::create_in_dir(dir, schema)?,
            None if has_index => return Err(mismatch("none".to_string())),
            None => {
                if !dir_is_empty(dir)? {
                    return Err(Error::NotAnIndex { path: dir.to_path_buf() });
                }
                // Version first: a crash before the index exists is then recoverable.
                schema::write_version(dir)?;
                Index::create_in_dir(dir, schema)?
            }
        };
        Self::from_index(dir, index, fields)
    }

    /// Deletes the index in `dir` (only if it is one of ours, or the directory is
    /// empty) and creates an empty one: the first half of `ntsb index rebuild` when
    /// the schema changed. Follow it with [`SearchIndex::rebuild`].
    pub fn recreate(dir: &Path) -> Result<SearchIndex> {
        if dir.exists() {
            let ours = dir.join(VERSION_FILE).exists() || dir.join(TANTIVY_META).exists();
            if !ours && !dir_is_empty(dir)? {
                return Err(Error::NotAnIndex { path: dir.to_path_buf() });
            }
            std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        Self::open_or_create(dir)
    }

    fn from_index(dir: &Path, index: Index, fields: Fields) -> Result<SearchIndex> {
        // Reload on commits by any process (the CLI may sync while a server
        // searches); our own commits also reload explicitly.
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into()?;
        let analyzer = index.tokenizer_for_field(fields.narrative)?;
        Ok(SearchIndex { dir: dir.to_path_buf(), index, reader, writer: Mutex::new(None), fields, analyzer })
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of documents (events with text) in the index as last committed.
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Brings the index up to date with the store: applies every entry of the
    /// store's index change log after the position this index last committed,
    /// committing the new position with each batch (in the commit's payload), so
    /// a crash in between merely applies a batch again. Running it again with
    /// nothing new does no work. Any number of indexes (one per API replica)
    /// follow one store this way, each at its own pace.
    ///
    /// An index built from another store, or from this one before a restore
    /// (its recorded [`ntsb_store::Store::store_id`] differs), or ahead of the
    /// store's log, is rebuilt from scratch.
    pub fn sync(&self, store: &dyn Store) -> Result<SyncOutcome> {
        self.with_writer(|writer| {
            let (lineage, position) = self.recorded()?;
            let store_id = store.store_id()?;
            let foreign = lineage.is_some() && store_id.is_some() && lineage != store_id;
            if foreign || position > store.index_log_head()? {
                return self.rebuild_with(writer, store);
            }
            self.sync_with(writer, store, position)
        })
    }

    /// Rebuilds the index from scratch: deletes every document and applies the
    /// whole change log. Until the first commit the old documents stay
    /// searchable; a crash leaves a partial index whose recorded position makes
    /// the next sync complete it.
    pub fn rebuild(&self, store: &dyn Store) -> Result<SyncOutcome> {
        self.with_writer(|writer| self.rebuild_with(writer, store))
    }

    /// Position in the store's index change log of the last change this index
    /// committed (0 for a new index), as last committed by any process.
    pub fn position(&self) -> Result<u64> {
        Ok(self.recorded()?.1)
    }

    /// The store lineage and log position recorded with the last commit.
    fn recorded(&self) -> Result<(Option<String>, u64)> {
        let metas = self.index.load_metas()?;
        let Some(rest) = metas.payload.as_deref().and_then(|p| p.strip_prefix(POSITION_PREFIX)) else {
            return Ok((None, 0));
        };
        let (lineage, position) = rest.split_once(' ').unwrap_or(("", rest));
        let lineage = (!lineage.is_empty()).then(|| lineage.to_string());
        Ok((lineage, position.parse().unwrap_or(0)))
    }

    /// Makes searches see the latest commit (by any process) now rather than
    /// after the reader's reload delay; returns the index's position then.
    pub fn refresh(&self) -> Result<u64> {
        // Position first: the reloaded reader is then at that commit or a later one.
        let position = self.position()?;
        self.reader.reload()?;
        Ok(position)
    }

    fn rebuild_with(&self, writer: &mut IndexWriter, store: &dyn Store) -> Result<SyncOutcome> {
        let before = self.doc_count();
        writer.delete_all_documents()?;
        let mut outcome = self.sync_with(writer, store, 0)?;
        if outcome.indexed + outcome.removed == 0 {
            // Nothing to index: publish the now empty index at position 0.
            commit_at(writer, store.store_id()?.as_deref(), 0)?;
            self.reader.reload()?;
        }
        outcome.removed += before;
        Ok(outcome)
    }

    /// Drops this handle's writer (and with it tantivy's directory lock) until
    /// the next write, so another process can sync the same directory; what was
    /// committed stays. Long-running processes that sync now and then call it
    /// after each sync.
    pub fn release_writer(&self) {
        *self.lock_writer() = None;
    }

    /// Runs `f` with the process's single writer, creating it on first use. If `f`
    /// fails, uncommitted changes are rolled back so a later commit cannot
    /// publish half a batch.
    fn with_writer<T>(&self, f: impl FnOnce(&mut IndexWriter) -> Result<T>) -> Result<T> {
        let mut guard = self.lock_writer();
        let writer = match &mut *guard {
            Some(w) => w,
            slot @ None => slot.insert(self.new_writer()?),
        };
        let result = f(writer);
        if result.is_err() && writer.rollback().is_err() {
            *guard = None;
        }
        result
    }

    /// Locks the writer slot. A panic during an earlier sync poisons the lock: the
    /// writer, which may hold uncommitted work, is then dropped and recreated.
    fn lock_writer(&self) -> MutexGuard<'_, Option<IndexWriter>> {
        match self.writer.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                *g = None;
                self.writer.clear_poison();
                g
            }
        }
    }

    fn new_writer(&self) -> Result<IndexWriter> {
        self.index.writer_with_num_threads(WRITER_THREADS, WRITER_BUDGET).map_err(|e| match e {
            TantivyError::LockFailure(..) => Error::Locked { path: self.dir.clone() },
            e => Error::Tantivy(e),
        })
    }

    fn sync_with(&self, writer: &mut IndexWriter, store: &dyn Store, mut position: u64) -> Result<SyncOutcome> {
        let mut outcome = SyncOutcome::default();
        let mut committed = false;
        let lineage = store.store_id()?;
        loop {
            let searcher = self.reader.searcher();
            let changes = store.index_changes(position, SYNC_BATCH)?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                break;
            };
            if last <= position {
                return Err(Error::StoreNotAdvancing(changes.len()));
            }
            for change in changes {
                let doc = change.doc;
                let term = Term::from_field_u64(self.fields.event_id, key(doc.event_id));
                writer.delete_term(term.clone());
                match self.to_document(doc) {
                    Some(d) => {
                        writer.add_document(d)?;
                        outcome.indexed += 1;
                    }
                    // Count only documents that were really in the index.
                    None => {
                        let query = TermQuery::new(term, IndexRecordOption::Basic);
                        outcome.removed += searcher.search(&query, &Count)? as u64;
                    }
                }
            }
            commit_at(writer, lineage.as_deref(), last)?;
            committed = true;
            position = last;
        }
        if committed {
            self.reader.reload()?;
        }
        Ok(outcome)
    }

    /// The tantivy document for a store document; `None` when it has no text
    /// (which removes it from the index).
    fn to_document(&self, doc: IndexDoc) -> Option<TantivyDocument> {
        let f = &self.fields;
        let text = doc.text.filter(|t| !(t.narrative.trim().is_empty() && t.probable_cause.trim().is_empty()))?;
        let mut d = TantivyDocument::new();
        d.add_u64(f.event_id, key(doc.event_id));
        if let Some(ev_id) = &doc.ev_id {
            d.add_text(f.ev_id, ev_id);
        }
        if let Some(no) = &doc.ntsb_no {
            d.add_text(f.ntsb_no, no);
        }
        if let Some(date) = &doc.event_date {
            d.add_text(f.event_date, date);
            if let Some(year) = date.get(..4).and_then(|y| y.parse::<i64>().ok()) {
                d.add_i64(f.year, year);
            }
        }
        d.add_text(f.narrative, &text.narrative);
        d.add_text(f.probable_cause, &text.probable_cause);
        Some(d)
    }

    /// Searches narratives and probable causes. Never fails on what the user
    /// typed: see the crate documentation. Empty text gives no hits.
    ///
    /// Query language (see [`crate::query`]): words need not all match, but the
    /// documents that contain every word rank first, then the best partial
    /// matches (`total` counts both); `AND`, `OR`, `NOT` are words; `"engine
    /// failure"` is a phrase; `-word` excludes, `+word` requires;
    /// `probable_cause:icing`, `ev_id:20080124X00101`, `year:[2000 TO 2005]`;
    /// `*` matches everything. Words are stemmed (`failures` matches `failure`).
    pub fn search(&self, query: &str, opts: &SearchOptions) -> Result<SearchResults> {
        let searcher = self.reader.searcher();
        let limit = opts.limit.min(MAX_LIMIT);
        let counting_only = limit == 0 || opts.offset > MAX_OFFSET;
        let parsed = query::parse(&self.analyzer, &self.fields, query);
        if parsed.is_empty() {
            return Ok(SearchResults::default());
        }
        let q = parsed.query(Matching::Ranked, years(opts), &self.fields);
        let (total, top) = if counting_only {
            (searcher.search(&*q, &Count)?, Vec::new())
        } else {
            let collector =
                (Count, TopDocs::with_limit(limit.max(1)).and_offset(opts.offset.min(MAX_OFFSET)).order_by_score());
            searcher.search(&*q, &collector)?
        };
        let snippets =
            Snippets::new(&searcher, &*parsed.highlight(), self.fields.narrative, self.fields.probable_cause);
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            hits.push(self.hit(&searcher, &snippets, bm25(score), addr)?);
        }
        Ok(SearchResults { total: total as u64, hits })
    }

    fn hit(&self, searcher: &Searcher, snippets: &Snippets, score: f32, addr: DocAddress) -> Result<Hit> {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let f = &self.fields;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str().map(str::to_string));
        let narrative = text(f.narrative).unwrap_or_default();
        let probable_cause = text(f.probable_cause).unwrap_or_default();
        Ok(Hit {
            event_id: doc.get_first(f.event_id).and_then(|v| v.as_u64()).map(event_id).unwrap_or_default(),
            ev_id: text(f.ev_id),
            ntsb_no: text(f.ntsb_no),
            event_date: text(f.event_date),
            score,
            snippet: snippets.excerpt(&narrative, &probable_cause),
        })
    }

    /// Event ids and scores of the best `limit` matches (at most [`MAX_IDS`]),
    /// best first and ranked as [`SearchIndex::search`] ranks them (partial
    /// matches after the complete ones), without loading documents: for callers
    /// that intersect ranked search with structured filters.
    pub fn search_ids(&self, query: &str, limit: usize) -> Result<Vec<(i64, f32)>> {
        self.ids(query, limit, Matching::Ranked)
    }

    /// Event ids and scores of the best `limit` documents (at most [`MAX_IDS`])
    /// that match *every* word of the query: the text filter of listings and
    /// statistics (`/events?q=`), where a partial match is not a match.
    pub fn matching_ids(&self, query: &str, limit: usize) -> Result<Vec<(i64, f32)>> {
        self.ids(query, limit, Matching::Strict)
    }

    /// The stored document of one event (ids, date and both texts), `None` when
    /// the event has no text in the index: what retrieval-augmented answers quote.
    pub fn document(&self, event_id: i64) -> Result<Option<Document>> {
        let searcher = self.reader.searcher();
        let term = Term::from_field_u64(self.fields.event_id, key(event_id));
        let top = searcher
            .search(&TermQuery::new(term, IndexRecordOption::Basic), &TopDocs::with_limit(1).order_by_score())?;
        let Some((_, addr)) = top.into_iter().next() else { return Ok(None) };
        let doc: TantivyDocument = searcher.doc(addr)?;
        let f = &self.fields;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str().map(str::to_string));
        Ok(Some(Document {
            event_id,
            ev_id: text(f.ev_id),
            ntsb_no: text(f.ntsb_no),
            event_date: text(f.event_date),
            narrative: text(f.narrative).unwrap_or_default(),
            probable_cause: text(f.probable_cause).unwrap_or_default(),
        }))
    }

    /// The store id of an event given its NTSB event id, if it has text in the index.
    pub fn event_id_of(&self, ev_id: &str) -> Result<Option<i64>> {
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.ev_id, ev_id);
        let top = searcher
            .search(&TermQuery::new(term, IndexRecordOption::Basic), &TopDocs::with_limit(1).order_by_score())?;
        let Some((_, addr)) = top.into_iter().next() else { return Ok(None) };
        let column = searcher.segment_reader(addr.segment_ord).fast_fields().u64("event_id")?;
        Ok(column.first(addr.doc_id).map(event_id))
    }

    fn ids(&self, query: &str, limit: usize, matching: Matching) -> Result<Vec<(i64, f32)>> {
        let limit = limit.min(MAX_IDS);
        let parsed = query::parse(&self.analyzer, &self.fields, query);
        if limit == 0 || parsed.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let collector = TopDocs::with_limit(limit).order_by_score();
        let top = searcher.search(&*parsed.query(matching, None, &self.fields), &collector)?;
        let mut columns: HashMap<u32, Column<u64>> = HashMap::new();
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let column = match columns.entry(addr.segment_ord) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(searcher.segment_reader(addr.segment_ord).fast_fields().u64("event_id")?),
            };
            if let Some(id) = column.first(addr.doc_id) {
                out.push((event_id(id), bm25(score)));
            }
        }
        Ok(out)
    }
}

/// The year bounds of the search options, if any.
fn years(opts: &SearchOptions) -> Option<(Bound<i64>, Bound<i64>)> {
    if opts.year_from.is_none() && opts.year_to.is_none() {
        return None;
    }
    let bound = |y: Option<i64>| y.map_or(Bound::Unbounded, Bound::Included);
    Some((bound(opts.year_from), bound(opts.year_to)))
}

/// The BM25 part of a ranked score (without the all-words bonus).
fn bm25(score: f32) -> f32 {
    if score >= ALL_TERMS_BONUS { score - ALL_TERMS_BONUS } else { score }
}

/// The index key of a store id. Store ids are positive row ids; the bit-preserving
/// cast keeps even a negative one round-trippable.
fn key(event_id: i64) -> u64 {
    u64::from_ne_bytes(event_id.to_ne_bytes())
}

/// Inverse of [`key`].
fn event_id(key: u64) -> i64 {
    i64::from_ne_bytes(key.to_ne_bytes())
}

fn dir_is_empty(dir: &Path) -> Result<bool> {
    let mut entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(entries.next().is_none())
}

/// Commits the writer's pending changes together with the store they come from
/// and the log position they bring the index to.
fn commit_at(writer: &mut IndexWriter, lineage: Option<&str>, position: u64) -> Result<()> {
    let mut commit = writer.prepare_commit()?;
    commit.set_payload(&format!("{POSITION_PREFIX}{} {position}", lineage.unwrap_or_default()));
    commit.commit()?;
    Ok(())
}
