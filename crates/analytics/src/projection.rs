//! The projection itself: one compact row per event (codes of its values,
//! injury counts, coordinates, flags, its aircraft and codes) indexed by the
//! store's event id, and per value a bitmap of the events holding it. Built
//! from [`EventFacts`], patched one event at a time (remove the old row, add
//! the new one).

use std::collections::HashMap;

use ntsb_model::query::Breakdown;
use ntsb_store::{CodeDescriptions, EventFacts};
use roaring::RoaringBitmap;

use crate::dict::{Column, NONE};
use crate::{Error, Result};

pub(crate) const FATAL: u8 = 1;
pub(crate) const DESTROYED: u8 = 2;
pub(crate) const HAS_TEXT: u8 = 4;

/// The time-like group keys derived from an event date, in this order.
pub(crate) const TIME: [Breakdown; 5] =
    [Breakdown::Year, Breakdown::Month, Breakdown::Season, Breakdown::DayOfWeek, Breakdown::Decade];

/// One aircraft: codes of its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Aircraft {
    pub make: u32,
    pub model: u32,
    pub category: u32,
    pub far_part: u32,
    pub damage: u32,
    /// Code of the (make, model) pair, [`NONE`] without a make.
    pub make_model: u32,
}

/// One event.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub date: u32,
    pub state: u32,
    pub country: u32,
    pub injury: u32,
    pub event_type: u32,
    pub weather: u32,
    pub phase: u32,
    /// Code in [`Projection::event_make`]: the first aircraft's make (the listing's `make` key).
    pub make: u32,
    pub inj_fatal: u32,
    pub inj_serious: u32,
    pub inj_minor: u32,
    pub lat: f64,
    pub lon: f64,
    pub flags: u8,
    pub aircraft: Box<[Aircraft]>,
    pub findings: Box<[(u32, bool)]>,
    pub occurrences: Box<[(u32, bool)]>,
}

/// Codes that cite events: which events cite each, and which with the flag set.
#[derive(Debug, Default, Clone)]
pub(crate) struct Codes {
    pub column: Column,
    pub flagged: Vec<RoaringBitmap>,
    pub descriptions: HashMap<String, String>,
}

impl Codes {
    fn add(&mut self, code: &str, flag: bool, id: u32) -> (u32, bool) {
        let c = self.column.add(Some(code), id);
        if self.flagged.len() < self.column.len() {
            self.flagged.resize(self.column.len(), RoaringBitmap::new());
        }
        if flag {
            self.flagged[c as usize].insert(id);
        }
        (c, flag)
    }

    fn remove(&mut self, code: u32, id: u32) {
        self.column.remove(code, id);
        if let Some(b) = self.flagged.get_mut(code as usize) {
            b.remove(id);
        }
    }
}

/// The in-memory projection of the event facts.
#[derive(Debug, Default, Clone)]
pub struct Projection {
    pub(crate) live: RoaringBitmap,
    pub(crate) rows: Vec<Row>,
    pub(crate) has_text: RoaringBitmap,
    /// Distinct date texts (no bitmaps) and, per date code, its time group codes.
    pub(crate) dates: Column,
    pub(crate) date_groups: Vec<[u32; 5]>,
    /// Group keys of the time breakdowns; the year's bitmaps are the date buckets.
    pub(crate) time_keys: [Column; 5],
    /// Group codes of an event without a date (`unknown`, or NULL for none).
    pub(crate) null_date_groups: [u32; 5],
    pub(crate) state: Column,
    pub(crate) country: Column,
    pub(crate) injury: Column,
    pub(crate) event_type: Column,
    pub(crate) weather: Column,
    pub(crate) phase: Column,
    pub(crate) make: Column,
    pub(crate) model: Column,
    pub(crate) category: Column,
    pub(crate) far_part: Column,
    pub(crate) damage: Column,
    pub(crate) make_models: Vec<(u32, u32)>,
    make_model_codes: HashMap<(u32, u32), u32>,
    pub(crate) findings: Codes,
    pub(crate) occurrences: Codes,
    /// Makes of the first aircraft (`event_facts.make`), interned only (no bitmaps used).
    pub(crate) event_make: Column,
    /// Live events in each listing order, made when first asked for after a change.
    pub(crate) orders: crate::list::Orders,
    /// Aircraft groups' codes in key order, made when first asked for after a change.
    pub(crate) group_ranks: std::sync::OnceLock<crate::stats::GroupRanks>,
}

/// The first `n` characters of `s` from character `from` (0-based), as SQL's
/// `substr(s, from + 1, n)`.
fn substr(s: &str, from: usize, n: usize) -> String {
    s.chars().skip(from).take(n).collect()
}

/// `ifnull(nullif(key, ''), 'unknown')`.
fn group(key: Option<String>) -> String {
    match key {
        Some(k) if !k.is_empty() => k,
        _ => "unknown".to_string(),
    }
}

/// The time group keys of a date text, exactly as the SQL statistics compute
/// them (`crates/store/src/sql/reads.rs` `breakdown_sql`).
fn time_keys(date: Option<&str>) -> [String; 5] {
    let Some(d) = date else {
        return std::array::from_fn(|_| "unknown".to_string());
    };
    let month = substr(d, 5, 2);
    let season = match month.as_str() {
        "12" | "01" | "02" => Some("winter"),
        "03" | "04" | "05" => Some("spring"),
        "06" | "07" | "08" => Some("summer"),
        "09" | "10" | "11" => Some("autumn"),
        _ => None,
    };
    // Dialect::weekday: a `YYYY-MM-DD` prefix that is a date, else NULL.
    let weekday = d.get(..10).and_then(|p| {
        let shaped = p.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        if !shaped {
            return None;
        }
        use chrono::Datelike;
        chrono::NaiveDate::parse_from_str(p, "%Y-%m-%d").ok().map(|d| d.weekday().num_days_from_sunday().to_string())
    });
    [
        group(Some(substr(d, 0, 4))),
        group(Some(month)),
        group(season.map(str::to_string)),
        group(weekday),
        group(Some(format!("{}0", substr(d, 0, 3)))),
    ]
}

fn id32(id: i64) -> Result<u32> {
    u32::try_from(id).map_err(|_| Error::IdOutOfRange(id))
}

fn count32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl Projection {
    /// A projection of `events` (in any order) with the code descriptions.
    pub fn build(events: Vec<EventFacts>, descriptions: CodeDescriptions) -> Result<Projection> {
        let mut p = Projection::default();
        let unknown = time_keys(None);
        for (i, k) in unknown.iter().enumerate() {
            p.null_date_groups[i] = p.time_keys[i].intern(Some(k));
        }
        if let Some(max) = events.iter().map(|e| e.id).max() {
            p.rows.reserve(usize::try_from(id32(max)?).unwrap_or(0) + 1);
        }
        for e in &events {
            p.insert(e)?;
        }
        p.set_descriptions(descriptions);
        Ok(p)
    }

    /// Replaces the code descriptions.
    pub fn set_descriptions(&mut self, d: CodeDescriptions) {
        self.findings.descriptions = d.findings.into_iter().collect();
        self.occurrences.descriptions = d.occurrences.into_iter().collect();
    }

    /// Events in the projection.
    pub fn events(&self) -> u64 {
        self.live.len()
    }

    /// Replaces event `id` by `facts` (`None`: the event is gone).
    pub fn replace(&mut self, id: i64, facts: Option<&EventFacts>) -> Result<()> {
        let id32 = id32(id)?;
        self.orders = Default::default();
        self.group_ranks = Default::default();
        self.remove(id32);
        if let Some(f) = facts {
            self.insert(f)?;
        }
        Ok(())
    }

    fn date_code(&mut self, date: Option<&str>) -> u32 {
        let Some(d) = date else { return NONE };
        if let Some(c) = self.dates.code(d) {
            return c;
        }
        let c = self.dates.intern(Some(d));
        let keys = time_keys(Some(d));
        let groups: [u32; 5] = std::array::from_fn(|i| self.time_keys[i].intern(Some(&keys[i])));
        self.date_groups.push(groups);
        c
    }

    fn insert(&mut self, f: &EventFacts) -> Result<()> {
        let id = id32(f.id)?;
        if self.live.contains(id) {
            self.remove(id);
        }
        let date = self.date_code(f.event_date.as_deref());
        let year = if date == NONE { self.null_date_groups[0] } else { self.date_groups[date as usize][0] };
        self.time_keys[0].bitmaps[year as usize].insert(id);
        let mut flags = 0;
        if f.fatal {
            flags |= FATAL;
        }
        if f.destroyed {
            flags |= DESTROYED;
        }
        if f.has_text {
            flags |= HAS_TEXT;
            self.has_text.insert(id);
        }
        let mut aircraft = Vec::with_capacity(f.aircraft.len());
        for a in &f.aircraft {
            let make = self.make.add(a.make.as_deref(), id);
            let model = self.model.add(a.model.as_deref(), id);
            let make_model = if a.make.as_deref().is_some_and(|m| !m.is_empty()) {
                let next = u32::try_from(self.make_models.len()).unwrap_or(NONE - 1);
                let code = *self.make_model_codes.entry((make, model)).or_insert(next);
                if code == next {
                    self.make_models.push((make, model));
                }
                code
            } else {
                NONE
            };
            aircraft.push(Aircraft {
                make,
                model,
                category: self.category.add(a.category.as_deref(), id),
                far_part: self.far_part.add(a.far_part.as_deref(), id),
                damage: self.damage.add(a.damage.as_deref(), id),
                make_model,
            });
        }
        let findings: Vec<(u32, bool)> = f.findings.iter().map(|c| self.findings.add(&c.code, c.flag, id)).collect();
        let occurrences: Vec<(u32, bool)> =
            f.occurrences.iter().map(|c| self.occurrences.add(&c.code, c.flag, id)).collect();
        let row = Row {
            date,
            state: self.state.add(f.state.as_deref(), id),
            country: self.country.add(f.country.as_deref(), id),
            injury: self.injury.add(f.highest_injury.as_deref(), id),
            event_type: self.event_type.add(f.event_type.as_deref(), id),
            weather: self.weather.add(f.weather.as_deref(), id),
            phase: self.phase.add(f.phase.as_deref(), id),
            make: self.event_make.intern(f.make.as_deref()),
            inj_fatal: count32(f.inj_fatal),
            inj_serious: count32(f.inj_serious),
            inj_minor: count32(f.inj_minor),
            lat: f.latitude.unwrap_or(f64::NAN),
            lon: f.longitude.unwrap_or(f64::NAN),
            flags,
            aircraft: aircraft.into_boxed_slice(),
            findings: findings.into_boxed_slice(),
            occurrences: occurrences.into_boxed_slice(),
        };
        let at = id as usize;
        if self.rows.len() <= at {
            self.rows.resize_with(at + 1, Row::default);
        }
        self.rows[at] = row;
        self.live.insert(id);
        Ok(())
    }

    fn remove(&mut self, id: u32) {
        if !self.live.remove(id) {
            return;
        }
        let row = std::mem::take(&mut self.rows[id as usize]);
        let year = if row.date == NONE { self.null_date_groups[0] } else { self.date_groups[row.date as usize][0] };
        self.time_keys[0].remove(year, id);
        self.has_text.remove(id);
        for (column, code) in [
            (&mut self.state, row.state),
            (&mut self.country, row.country),
            (&mut self.injury, row.injury),
            (&mut self.event_type, row.event_type),
            (&mut self.weather, row.weather),
            (&mut self.phase, row.phase),
        ] {
            column.remove(code, id);
        }
        for a in row.aircraft.iter() {
            self.make.remove(a.make, id);
            self.model.remove(a.model, id);
            self.category.remove(a.category, id);
            self.far_part.remove(a.far_part, id);
            self.damage.remove(a.damage, id);
        }
        for &(c, _) in row.findings.iter() {
            self.findings.remove(c, id);
        }
        for &(c, _) in row.occurrences.iter() {
            self.occurrences.remove(c, id);
        }
    }

    /// Bytes the projection holds, approximately (rows, their aircraft and
    /// codes, dictionaries and bitmaps).
    pub fn heap_bytes(&self) -> usize {
        let rows = self.rows.capacity() * std::mem::size_of::<Row>()
            + self
                .rows
                .iter()
                .map(|r| {
                    r.aircraft.len() * std::mem::size_of::<Aircraft>()
                        + (r.findings.len() + r.occurrences.len()) * std::mem::size_of::<(u32, bool)>()
                })
                .sum::<usize>();
        let columns = [
            &self.dates,
            &self.state,
            &self.country,
            &self.injury,
            &self.event_type,
            &self.weather,
            &self.phase,
            &self.make,
            &self.model,
            &self.category,
            &self.far_part,
            &self.damage,
            &self.findings.column,
            &self.occurrences.column,
            &self.event_make,
        ]
        .iter()
        .map(|c| c.heap_bytes())
        .sum::<usize>()
            + self.time_keys.iter().map(Column::heap_bytes).sum::<usize>();
        let flagged =
            self.findings.flagged.iter().chain(&self.occurrences.flagged).map(|b| b.serialized_size()).sum::<usize>();
        rows + columns
            + flagged
            + self.live.serialized_size()
            + self.has_text.serialized_size()
            + self.orders.heap_bytes()
            + self.group_ranks.get().map_or(0, crate::stats::GroupRanks::heap_bytes)
    }
}
