//! Statistics over a filtered set of events, with the definitions of the SQL
//! statistics (`crates/store/src/sql/reads.rs`): injuries are the event's own
//! totals, aircraft-level groups count an event once per distinct value, group
//! keys are `unknown` when absent or empty, rows are ranked by
//! [`Breakdown::rank`] and finished by [`Breakdown::finish`], rates come from
//! [`fatal_rate`].

use std::collections::HashMap;

use ntsb_model::query::{Breakdown, BreakdownRow, FindingRow, OccurrenceRow, Summary, fatal_rate};
use roaring::RoaringBitmap;

use crate::dict::{Column, NONE};
use crate::projection::{Codes, DESTROYED, FATAL, Projection, Row, TIME};

/// Sums of one group.
#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    events: u64,
    fatal: u64,
    fatalities: u64,
    serious: u64,
    destroyed: u64,
}

impl Acc {
    fn add(&mut self, r: &Row) {
        self.events += 1;
        self.fatal += u64::from(r.flags & FATAL != 0);
        self.fatalities += u64::from(r.inj_fatal);
        self.serious += u64::from(r.inj_serious);
        self.destroyed += u64::from(r.flags & DESTROYED != 0);
    }

    fn merge(&mut self, o: &Acc) {
        self.events += o.events;
        self.fatal += o.fatal;
        self.fatalities += o.fatalities;
        self.serious += o.serious;
        self.destroyed += o.destroyed;
    }

    fn row(&self, key: String, key2: Option<String>) -> BreakdownRow {
        BreakdownRow::new(key, key2, self.events, self.fatal, self.fatalities, self.serious, self.destroyed)
    }
}

/// `ifnull(nullif(v, ''), 'unknown')` of a value code of `column`.
fn key_of(column: &Column, code: u32) -> String {
    match column.name(code) {
        Some(n) if code != NONE && !n.is_empty() => n.to_string(),
        _ => "unknown".to_string(),
    }
}

impl Projection {
    /// How many events match (the `total` of a listing).
    pub fn count(&self, set: &RoaringBitmap) -> u64 {
        set.len()
    }

    /// Totals over `set` (see [`ntsb_store::Queries::summary`]).
    pub fn summary(&self, set: &RoaringBitmap) -> Summary {
        let mut s = Summary::default();
        let accident = self.event_type.code("accident");
        let incident = self.event_type.code("incident");
        let (mut first, mut last): (Option<&str>, Option<&str>) = (None, None);
        let (mut first_code, mut last_code) = (NONE, NONE);
        for id in set {
            let r = &self.rows[id as usize];
            s.events += 1;
            s.accidents += u64::from(Some(r.event_type) == accident);
            s.incidents += u64::from(Some(r.event_type) == incident);
            s.fatal_events += u64::from(r.flags & FATAL != 0);
            s.fatalities += u64::from(r.inj_fatal);
            s.serious_injuries += u64::from(r.inj_serious);
            s.minor_injuries += u64::from(r.inj_minor);
            s.destroyed += u64::from(r.flags & DESTROYED != 0);
            s.aircraft += r.aircraft.len() as u64;
            if r.date != NONE && r.date != first_code && r.date != last_code {
                let d = self.dates.name(r.date).unwrap_or_default();
                if d.is_empty() {
                    continue; // nullif(event_date, '')
                }
                if first.is_none_or(|f| d.as_bytes() < f.as_bytes()) {
                    (first, first_code) = (Some(d), r.date);
                }
                if last.is_none_or(|l| d.as_bytes() > l.as_bytes()) {
                    (last, last_code) = (Some(d), r.date);
                }
            }
        }
        s.first_event = first.map(str::to_string);
        s.last_event = last.map(str::to_string);
        (s.fatal_rate, s.fatal_rate_ci95) = fatal_rate(s.fatal_events, s.events);
        s
    }

    /// Groups of `set` by `by`, at least `min_count` events each, at most
    /// `limit` (see [`ntsb_store::Queries::breakdown`]).
    /// `None` for a breakdown the projection holds no column for (country,
    /// category, engines, amateur-built): the store answers those.
    pub fn breakdown(
        &self,
        by: Breakdown,
        set: &RoaringBitmap,
        min_count: u64,
        limit: usize,
    ) -> Option<Vec<BreakdownRow>> {
        let mut rows = self.groups(by, set)?;
        rows.retain(|r| r.events >= min_count.max(1));
        rows.sort_by(|a, b| by.rank(a, b));
        rows.truncate(limit);
        by.finish(&mut rows);
        Some(rows)
    }

    fn groups(&self, by: Breakdown, set: &RoaringBitmap) -> Option<Vec<BreakdownRow>> {
        if let Some(t) = TIME.iter().position(|b| *b == by) {
            let keys = &self.time_keys[t];
            let mut acc = vec![Acc::default(); keys.len()];
            for id in set {
                let r = &self.rows[id as usize];
                let g = if r.date == NONE { self.null_date_groups[t] } else { self.date_groups[r.date as usize][t] };
                acc[g as usize].add(r);
            }
            // Several date codes may share a key: keys are unique in `keys`, so no merge is needed.
            return Some(
                acc.iter()
                    .enumerate()
                    .filter(|(_, a)| a.events > 0)
                    .map(|(g, a)| a.row(keys.name(g as u32).unwrap_or("unknown").to_string(), None))
                    .collect(),
            );
        }
        let event_column = |column: &Column, code: fn(&Row) -> u32| {
            let mut acc = vec![Acc::default(); column.len() + 1];
            for id in set {
                let r = &self.rows[id as usize];
                let c = code(r);
                acc[if c == NONE { column.len() } else { c as usize }].add(r);
            }
            // NULL and '' are both `unknown`.
            let mut by_key: HashMap<String, Acc> = HashMap::new();
            for (c, a) in acc.iter().enumerate().filter(|(_, a)| a.events > 0) {
                let c = if c == column.len() { NONE } else { c as u32 };
                by_key.entry(key_of(column, c)).or_default().merge(a);
            }
            by_key.into_iter().map(|(k, a)| a.row(k, None)).collect::<Vec<_>>()
        };
        let rows = match by {
            Breakdown::State => event_column(&self.state, |r| r.state),
            Breakdown::Phase => event_column(&self.phase, |r| r.phase),
            Breakdown::Weather => event_column(&self.weather, |r| r.weather),
            Breakdown::Make => self.aircraft_groups(
                set,
                self.make.len(),
                |a| nonempty(&self.make, a.make),
                |c| (self.make.name(c).unwrap_or_default().to_string(), None),
            ),
            Breakdown::FarPart => self.aircraft_groups(
                set,
                self.far_part.len(),
                |a| nonempty(&self.far_part, a.far_part),
                |c| (self.far_part.name(c).unwrap_or_default().to_string(), None),
            ),
            Breakdown::MakeModel => self.aircraft_groups(
                set,
                self.make_models.len(),
                |a| a.make_model,
                |c| {
                    let (make, model) = self.make_models[c as usize];
                    let model = if model == NONE { None } else { self.model.name(model).map(str::to_string) };
                    (self.make.name(make).unwrap_or_default().to_string(), model)
                },
            ),
            // Time breakdowns are answered above; the projection holds no column for
            // the others (country, category, engines, amateur-built).
            _ => return None,
        };
        Some(rows)
    }

    /// Groups by a value of any aircraft, each event once per distinct value.
    fn aircraft_groups(
        &self,
        set: &RoaringBitmap,
        codes: usize,
        code: impl Fn(&crate::projection::Aircraft) -> u32,
        key: impl Fn(u32) -> (String, Option<String>),
    ) -> Vec<BreakdownRow> {
        let mut acc = vec![Acc::default(); codes];
        let mut seen: Vec<u32> = Vec::new();
        for id in set {
            let r = &self.rows[id as usize];
            seen.clear();
            for a in r.aircraft.iter() {
                let c = code(a);
                if c != NONE && !seen.contains(&c) {
                    seen.push(c);
                    acc[c as usize].add(r);
                }
            }
        }
        acc.iter()
            .enumerate()
            .filter(|(_, a)| a.events > 0)
            .map(|(c, a)| {
                let (k, k2) = key(c as u32);
                a.row(k, k2)
            })
            .collect()
    }

    /// The most cited findings among `set` (see [`ntsb_store::Queries::top_findings`]).
    pub fn top_findings(&self, set: &RoaringBitmap, limit: usize) -> Vec<FindingRow> {
        top(&self.findings, set, limit)
            .into_iter()
            .map(|(code, events, causes, description)| FindingRow {
                code,
                description,
                events,
                cited_as_cause: causes,
                cause_share: if events == 0 { 0.0 } else { causes as f64 / events as f64 },
            })
            .collect()
    }

    /// The most frequent occurrences among `set` (see [`ntsb_store::Queries::top_occurrences`]).
    pub fn top_occurrences(&self, set: &RoaringBitmap, limit: usize) -> Vec<OccurrenceRow> {
        top(&self.occurrences, set, limit)
            .into_iter()
            .map(|(code, events, defining, meaning)| OccurrenceRow { code, meaning, events, defining })
            .collect()
    }
}

/// The code of a value, or [`NONE`] when it is absent or empty (`<> ''`).
fn nonempty(column: &Column, code: u32) -> u32 {
    match column.name(code) {
        Some(n) if code != NONE && !n.is_empty() => code,
        _ => NONE,
    }
}

/// Codes by events citing them among `set` (most first, then by code), with
/// the events citing them with the flag and their description.
fn top(codes: &Codes, set: &RoaringBitmap, limit: usize) -> Vec<(String, u64, u64, Option<String>)> {
    let mut rows: Vec<(&str, u64, u64)> = codes
        .column
        .names()
        .filter_map(|(c, name)| {
            let events = codes.column.bitmaps[c as usize].intersection_len(set);
            (events > 0).then(|| (name, events, codes.flagged[c as usize].intersection_len(set)))
        })
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
    rows.truncate(limit);
    rows.into_iter()
        .map(|(code, events, flagged)| (code.to_string(), events, flagged, codes.descriptions.get(code).cloned()))
        .collect()
}
