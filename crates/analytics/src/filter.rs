//! An [`EventFilter`] as a bitmap of event ids, with the meaning the SQL filter
//! gives it (`crates/store/src/sql/filter.rs`): the store checks the filter
//! first ([`ntsb_store::check_filter`]), so invalid input is rejected with the
//! same error; value conditions are bitmap intersections; date ranges union
//! the year buckets inside the range and check the boundary years' events;
//! aircraft conditions must hold for one and the same aircraft; a box checks
//! coordinates.

use ntsb_model::query::EventFilter;
use ntsb_model::{normalize, vocab};
use roaring::RoaringBitmap;

use crate::Result;
use crate::dict::{Column, NONE};
use crate::projection::{Aircraft, Projection};

/// A text date bound: `date >= t`, `date <= t` or `date < t` (text comparison).
#[derive(Debug, Clone, Copy)]
enum Bound<'a> {
    AtLeast(&'a str),
    AtMost(&'a str),
    Below(&'a str),
}

impl Bound<'_> {
    fn holds(&self, d: &str) -> bool {
        match *self {
            Bound::AtLeast(t) => d.as_bytes() >= t.as_bytes(),
            Bound::AtMost(t) => d.as_bytes() <= t.as_bytes(),
            Bound::Below(t) => d.as_bytes() < t.as_bytes(),
        }
    }
}

/// One aircraft-level condition set: codes each aircraft value must have.
struct AircraftConds {
    make: Option<u32>,
    models: Option<Vec<bool>>,
    category: Option<u32>,
    far_part: Option<u32>,
    damage: Option<u32>,
}

impl AircraftConds {
    fn holds(&self, a: &Aircraft) -> bool {
        self.make.is_none_or(|c| a.make == c)
            && self.models.as_ref().is_none_or(|m| a.model != NONE && m.get(a.model as usize).copied().unwrap_or(false))
            && self.category.is_none_or(|c| a.category == c)
            && self.far_part.is_none_or(|c| a.far_part == c)
            && self.damage.is_none_or(|c| a.damage == c)
    }
}

/// Keeps in `set` the events with an aircraft holding `value`; returns its code ([`NONE`] when never seen).
fn exact(column: &Column, value: &str, set: &mut RoaringBitmap) -> Option<u32> {
    match column.code(value) {
        Some(c) => {
            *set &= &column.bitmaps[c as usize];
            Some(c)
        }
        None => {
            set.clear();
            Some(NONE)
        }
    }
}

/// Keeps the events of `set` for which `keep` holds.
fn retain(set: &mut RoaringBitmap, mut keep: impl FnMut(u32) -> bool) {
    let kept = RoaringBitmap::from_sorted_iter(set.iter().filter(|&id| keep(id)));
    *set = kept.unwrap_or_default();
}

impl Projection {
    /// The events matching `f`.
    pub fn matching(&self, f: &EventFilter) -> Result<RoaringBitmap> {
        ntsb_store::check_filter(f)?;
        let mut set = self.live.clone();
        if let Some(state) = &f.state {
            self.state.keep(&state.trim().to_ascii_uppercase(), &mut set);
        }
        if let Some(country) = &f.country {
            // `COLLATE NOCASE` / `lower() = lower()`: equal ignoring ASCII case.
            let wanted = country.trim();
            let mut any = RoaringBitmap::new();
            for (c, name) in self.country.names() {
                if name.eq_ignore_ascii_case(wanted) {
                    any |= &self.country.bitmaps[c as usize];
                }
            }
            set &= &any;
        }
        if let Some(level) = f.highest_injury {
            self.injury.keep(level.as_str(), &mut set);
        }
        if let Some(phase) = f.phase {
            self.phase.keep(phase.as_str(), &mut set);
        }
        if let Some(weather) = f.weather {
            self.weather.keep(weather.as_str(), &mut set);
        }
        if let Some(t) = f.event_type {
            self.event_type.keep(t.as_str(), &mut set);
        }
        match f.has_narrative {
            Some(true) => set &= &self.has_text,
            Some(false) => set -= &self.has_text,
            None => {}
        }
        if let Some(ids) = &f.event_ids {
            let wanted: RoaringBitmap = ids.iter().filter_map(|&i| u32::try_from(i).ok()).collect();
            set &= wanted;
        }
        self.restrict_aircraft(f, &mut set);
        self.restrict_dates(f, &mut set);
        if let Some(b) = f.bbox {
            let rows = &self.rows;
            retain(&mut set, |id| {
                let r = &rows[id as usize];
                // NaN (no coordinates) fails both comparisons, as NULL does.
                r.lat >= b.min_lat && r.lat <= b.max_lat && r.lon >= b.min_lon && r.lon <= b.max_lon
            });
        }
        Ok(set)
    }

    fn restrict_aircraft(&self, f: &EventFilter, set: &mut RoaringBitmap) {
        let mut conds = AircraftConds { make: None, models: None, category: None, far_part: None, damage: None };
        let mut kinds = 0;
        if let Some(make) = &f.make {
            conds.make = match normalize::make_name(make) {
                Some(m) => exact(&self.make, &m, set),
                None => {
                    set.clear();
                    Some(NONE)
                }
            };
            kinds += 1;
        }
        if let Some(model) = &f.model {
            // `LIKE prefix%` (SQLite, ASCII case-insensitive) / `ILIKE`.
            let prefix = model.trim().as_bytes();
            let mut matched = vec![false; self.model.len()];
            let mut events = RoaringBitmap::new();
            for (c, name) in self.model.names() {
                let n = name.as_bytes();
                if n.len() >= prefix.len() && n[..prefix.len()].eq_ignore_ascii_case(prefix) {
                    matched[c as usize] = true;
                    events |= &self.model.bitmaps[c as usize];
                }
            }
            conds.models = Some(matched);
            *set &= events;
            kinds += 1;
        }
        if let Some(category) = &f.category {
            conds.category = exact(&self.category, &category.trim().to_ascii_uppercase(), set);
            kinds += 1;
        }
        if let Some(part) = &f.far_part {
            let p = part.trim();
            let wanted = vocab::far_part(p).unwrap_or_else(|| p.to_ascii_uppercase());
            conds.far_part = exact(&self.far_part, &wanted, set);
            kinds += 1;
        }
        if let Some(damage) = f.damage {
            conds.damage = exact(&self.damage, damage.as_str(), set);
            kinds += 1;
        }
        if kinds > 1 {
            // Each condition holds for some aircraft; one aircraft must hold them all.
            let rows = &self.rows;
            retain(set, |id| rows[id as usize].aircraft.iter().any(|a| conds.holds(a)));
        }
    }

    fn restrict_dates(&self, f: &EventFilter, set: &mut RoaringBitmap) {
        let (from, to) =
            (f.from.map(|d| d.format("%Y-%m-%d").to_string()), f.to.map(|d| d.format("%Y-%m-%d").to_string()));
        let year = f.year.map(|y| (format!("{y:04}-01-01"), format!("{:04}-01-01", y + 1)));
        let mut bounds = Vec::new();
        if let Some(t) = &from {
            bounds.push(Bound::AtLeast(t));
        }
        if let Some(t) = &to {
            bounds.push(Bound::AtMost(t));
        }
        if let Some((lo, hi)) = &year {
            bounds.push(Bound::AtLeast(lo));
            bounds.push(Bound::Below(hi));
        }
        if bounds.is_empty() {
            return;
        }
        // Which dates are in range, and per year bucket how many of its dates.
        let years = &self.time_keys[0];
        let mut inside = vec![false; self.dates.len()];
        let mut dates_in = vec![0usize; years.len()];
        let mut dates_all = vec![0usize; years.len()];
        for (c, d) in self.dates.names() {
            let y = self.date_groups[c as usize][0] as usize;
            dates_all[y] += 1;
            if bounds.iter().all(|b| b.holds(d)) {
                inside[c as usize] = true;
                dates_in[y] += 1;
            }
        }
        let mut result = RoaringBitmap::new();
        for y in 0..years.len() {
            if dates_in[y] == 0 {
                continue; // also the bucket of events without a date: NULL matches no bound
            }
            let bucket = &years.bitmaps[y];
            // Events without a date share the `unknown` bucket: never take it whole.
            if dates_in[y] == dates_all[y] && y != self.null_date_groups[0] as usize {
                result |= &*set & bucket;
            } else {
                let rows = &self.rows;
                let mut part = &*set & bucket;
                retain(&mut part, |id| {
                    let d = rows[id as usize].date;
                    d != NONE && inside[d as usize]
                });
                result |= part;
            }
        }
        *set = result;
    }
}
