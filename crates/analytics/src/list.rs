//! Listing pages from the projection: the matching events of a filter (a
//! bitmap) in a sort order, after a cursor, as the store lists them
//! (`crates/store/src/sql/reads.rs` `page`): ordered by the sort key
//! (`ifnull(event_date, '')`, `inj_fatal`, `ifnull(state, '')`,
//! `ifnull(make, '')`, texts compared bytewise) then by the store id, both in
//! the sort's direction; the cursor is the store's ([`ntsb_store::encode_cursor`]).
//!
//! Each order is an array of the live events' ids sorted by (key, id), made
//! when first asked for after a change. A page walks it from the cursor's
//! position and keeps the ids in the filter's bitmap; a filter matching few
//! events sorts its own events instead, so no page walks far.

use std::cmp::Ordering;
use std::sync::OnceLock;

use ntsb_model::query::{EventQuery, MAX_PAGE, Sort, SortField};
use ntsb_store::SortKey;
use roaring::RoaringBitmap;

use crate::Result;
use crate::dict::{Column, NONE};
use crate::projection::{Projection, Row};

/// The code a row holds in a sort column.
type CodeOf = fn(&Row) -> u32;

/// The sort fields, in the order of [`Orders`]' slots.
const FIELDS: [SortField; 4] = [SortField::Date, SortField::Fatalities, SortField::State, SortField::Make];

/// Live event ids sorted by (key, id) ascending, per sort field, with the rank
/// of each value code (texts) by which they were sorted.
#[derive(Debug, Default, Clone)]
pub(crate) struct Orders([OnceLock<Order>; 4]);

#[derive(Debug, Clone)]
struct Order {
    ids: Box<[u32]>,
    /// Rank of each code of the sort column (text fields): equal texts, and
    /// NULL and '', share a rank; ranks follow the texts' byte order.
    ranks: Box<[u32]>,
}

impl Orders {
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.iter().filter_map(OnceLock::get).map(|o| (o.ids.len() + o.ranks.len()) * 4).sum()
    }
}

/// One page chosen by the projection: the events' store ids in order, and the
/// cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Store ids of the page's events, in the listing order.
    pub ids: Vec<i64>,
    /// What the next page's `cursor` is, when one follows.
    pub next_cursor: Option<String>,
    /// How many events match the filter.
    pub total: u64,
}

/// Ranks of `column`'s codes by text (bytes), `''` first with rank 0.
fn ranks(column: &Column) -> Box<[u32]> {
    let mut names: Vec<(u32, &str)> = column.names().collect();
    names.sort_unstable_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()));
    let mut ranks = vec![0u32; column.len()];
    let mut rank = 0u32;
    let mut last: Option<&str> = None;
    for (code, name) in names {
        if !name.is_empty() && last != Some(name) {
            rank += 1;
            last = Some(name);
        }
        ranks[code as usize] = if name.is_empty() { 0 } else { rank };
    }
    ranks.into_boxed_slice()
}

impl Projection {
    /// The column of a text sort field, and the code of a row in it.
    fn sort_column(&self, field: SortField) -> Option<(&Column, CodeOf)> {
        match field {
            SortField::Date => Some((&self.dates, |r| r.date)),
            SortField::State => Some((&self.state, |r| r.state)),
            SortField::Make => Some((&self.event_make, |r| r.make)),
            SortField::Fatalities => None,
        }
    }

    fn order(&self, field: SortField) -> &Order {
        let slot = FIELDS.iter().position(|f| *f == field).unwrap_or(0);
        self.orders.0[slot].get_or_init(|| {
            let (ranks, code) = match self.sort_column(field) {
                Some((column, code)) => (ranks(column), Some(code)),
                None => (Box::default(), None),
            };
            let mut keyed: Vec<u64> = self
                .live
                .iter()
                .map(|id| {
                    let r = &self.rows[id as usize];
                    let rank = match code {
                        Some(code) => match code(r) {
                            NONE => 0,
                            c => ranks[c as usize],
                        },
                        None => r.inj_fatal,
                    };
                    (u64::from(rank) << 32) | u64::from(id)
                })
                .collect();
            keyed.sort_unstable();
            Order { ids: keyed.into_iter().map(|k| k as u32).collect(), ranks }
        })
    }

    /// The sort key of event `id` as the store's cursor holds it.
    fn sort_key(&self, field: SortField, id: u32) -> SortKey {
        let r = &self.rows[id as usize];
        match self.sort_column(field) {
            Some((column, code)) => SortKey::Text(text(column, code(r)).to_string()),
            None => SortKey::Int(i64::from(r.inj_fatal)),
        }
    }

    /// How event `id` compares with the position (`key`, `after`) in ascending order.
    fn compare(&self, field: SortField, id: u32, key: &SortKey, after: i64) -> Ordering {
        let r = &self.rows[id as usize];
        let by_key = match (self.sort_column(field), key) {
            (Some((column, code)), SortKey::Text(t)) => text(column, code(r)).as_bytes().cmp(t.as_bytes()),
            (None, SortKey::Int(k)) => i64::from(r.inj_fatal).cmp(k),
            // decode_cursor checked the key's kind against the sort.
            _ => Ordering::Equal,
        };
        by_key.then(i64::from(id).cmp(&after))
    }

    /// One page of `q` (see [`ntsb_store::Queries::list_events`]): the events
    /// of the filter in the sort order after the cursor.
    pub fn page(&self, q: &EventQuery) -> Result<Page> {
        // The store decodes the cursor before it checks the filter: the same error first.
        let after = q.cursor.as_deref().map(|c| ntsb_store::decode_cursor(c, q.sort)).transpose()?;
        let set = self.matching(&q.filter)?;
        let limit = q.limit.clamp(1, MAX_PAGE);
        let total = set.len();
        let mut ids = self.page_ids(&set, q.sort, after.as_ref(), limit + 1);
        let more = ids.len() > limit;
        ids.truncate(limit);
        let next_cursor = match ids.last() {
            Some(&last) if more => {
                Some(ntsb_store::encode_cursor(q.sort, self.sort_key(q.sort.field, last), last.into()))
            }
            _ => None,
        };
        Ok(Page { ids: ids.into_iter().map(i64::from).collect(), next_cursor, total })
    }

    /// Up to `n` events of `set` in `sort` order after `after`.
    fn page_ids(&self, set: &RoaringBitmap, sort: Sort, after: Option<&(SortKey, i64)>, n: usize) -> Vec<u32> {
        let field = sort.field;
        let beyond = |id: u32| match after {
            None => true,
            Some((k, i)) => {
                let o = self.compare(field, id, k, *i);
                if sort.descending { o == Ordering::Less } else { o == Ordering::Greater }
            }
        };
        let order = self.order(field);
        // A filter matching few events: sort those (no walk through the others).
        if set.len().saturating_mul(32) < order.ids.len() as u64 {
            let rank = |id: u32| -> u64 {
                let r = &self.rows[id as usize];
                let k = match self.sort_column(field) {
                    Some((_, code)) => match code(r) {
                        NONE => 0,
                        c => order.ranks.get(c as usize).copied().unwrap_or(0),
                    },
                    None => r.inj_fatal,
                };
                (u64::from(k) << 32) | u64::from(id)
            };
            let mut keyed: Vec<u64> = set.iter().filter(|&id| beyond(id)).map(rank).collect();
            if sort.descending {
                keyed.sort_unstable_by(|a, b| b.cmp(a));
            } else {
                keyed.sort_unstable();
            }
            return keyed.into_iter().take(n).map(|k| k as u32).collect();
        }
        let ids = &order.ids;
        let mut out = Vec::with_capacity(n.min(set.len() as usize));
        if sort.descending {
            // Everything before `end` is below the cursor's position.
            let end = match after {
                None => ids.len(),
                Some((k, i)) => ids.partition_point(|&id| self.compare(field, id, k, *i) == Ordering::Less),
            };
            for &id in ids[..end].iter().rev() {
                if set.contains(id) {
                    out.push(id);
                    if out.len() == n {
                        break;
                    }
                }
            }
        } else {
            let start = match after {
                None => 0,
                Some((k, i)) => ids.partition_point(|&id| self.compare(field, id, k, *i) != Ordering::Greater),
            };
            for &id in &ids[start..] {
                if set.contains(id) {
                    out.push(id);
                    if out.len() == n {
                        break;
                    }
                }
            }
        }
        out
    }
}

/// The text of `code` as a sort key: `ifnull(value, '')`.
fn text(column: &Column, code: u32) -> &str {
    if code == NONE { "" } else { column.name(code).unwrap_or("") }
}
