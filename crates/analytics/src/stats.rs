//! Statistics over a filtered set of events, with the definitions of the SQL
//! statistics (`crates/store/src/sql/reads.rs`): injuries are the event's own
//! totals, aircraft-level groups count an event once per distinct value, group
//! keys are `unknown` when absent or empty, rows are ranked by
//! [`Breakdown::rank`] and finished by [`Breakdown::finish`], rates come from
//! [`fatal_rate`].

use std::collections::HashMap;

use ntsb_model::query::{Breakdown, BreakdownRow, FindingRow, GridCell, OccurrenceRow, Summary, fatal_rate};
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
        if matches!(by, Breakdown::Make | Breakdown::MakeModel | Breakdown::FarPart) {
            return Some(self.aircraft_breakdown(by, set, min_count.max(1), limit));
        }
        let mut rows = self.groups(by, set)?;
        rows.retain(|r| r.events >= min_count.max(1));
        rows.sort_by(|a, b| by.rank(a, b));
        rows.truncate(limit);
        by.finish(&mut rows);
        Some(rows)
    }

    /// A breakdown by a value of any aircraft (make, make and model, FAR part:
    /// thousands of groups), each event counted once per distinct value: the
    /// groups are counted by code, ranked by (events, the code's precomputed
    /// rank by key) as integers, and only the `limit` kept become rows.
    fn aircraft_breakdown(
        &self,
        by: Breakdown,
        set: &RoaringBitmap,
        min_count: u64,
        limit: usize,
    ) -> Vec<BreakdownRow> {
        let ranks = self.group_ranks();
        let (rank, codes): (&[u32], usize) = match by {
            Breakdown::Make => (&ranks.make, self.make.len()),
            Breakdown::MakeModel => (&ranks.make_model, self.make_models.len()),
            _ => (&ranks.far_part, self.far_part.len()),
        };
        let mut acc = vec![Acc::default(); codes];
        let mut seen: Vec<u32> = Vec::new();
        for id in set {
            let r = &self.rows[id as usize];
            seen.clear();
            for a in r.aircraft.iter() {
                let c = match by {
                    Breakdown::Make => a.make,
                    Breakdown::MakeModel => a.make_model,
                    _ => a.far_part,
                };
                if c != NONE && rank[c as usize] != NONE && !seen.contains(&c) {
                    seen.push(c);
                    acc[c as usize].add(r);
                }
            }
        }
        // Most events first, then by key: `Breakdown::rank` of these rows, on integers.
        let mut ranked: Vec<u64> = acc
            .iter()
            .enumerate()
            .filter(|(_, a)| a.events >= min_count)
            .map(|(c, a)| {
                (u64::from(u32::MAX - u32::try_from(a.events).unwrap_or(u32::MAX)) << 32) | u64::from(rank[c])
            })
            .collect();
        if ranked.len() > limit && limit > 0 {
            ranked.select_nth_unstable(limit - 1);
        }
        ranked.truncate(limit);
        ranked.sort_unstable();
        ranked
            .into_iter()
            .map(|k| {
                let c = ranks.code_at(by, k as u32);
                let (key, key2) = match by {
                    Breakdown::MakeModel => {
                        let (make, model) = self.make_models[c as usize];
                        let model = if model == NONE { None } else { self.model.name(model).map(str::to_string) };
                        (self.make.name(make).unwrap_or_default().to_string(), model)
                    }
                    Breakdown::Make => (self.make.name(c).unwrap_or_default().to_string(), None),
                    _ => (self.far_part.name(c).unwrap_or_default().to_string(), None),
                };
                acc[c as usize].row(key, key2)
            })
            .collect()
    }

    /// The ranks of the aircraft groups' codes, made when first asked for after a change.
    fn group_ranks(&self) -> &GroupRanks {
        self.group_ranks.get_or_init(|| {
            // Codes of non-empty values sorted by their key; the empty and absent get NONE (no group).
            let by_name = |column: &Column| -> Vec<u32> {
                let mut codes: Vec<u32> = column.names().filter(|(_, n)| !n.is_empty()).map(|(c, _)| c).collect();
                codes.sort_unstable_by(|&a, &b| {
                    column.name(a).unwrap_or_default().as_bytes().cmp(column.name(b).unwrap_or_default().as_bytes())
                });
                codes
            };
            let mut make_models: Vec<u32> =
                (0..self.make_models.len() as u32).filter(|&c| self.make_models[c as usize].0 != NONE).collect();
            let key = |c: u32| {
                let (make, model) = self.make_models[c as usize];
                let model = if model == NONE { None } else { self.model.name(model) };
                (self.make.name(make).unwrap_or_default().as_bytes(), model.map(str::as_bytes))
            };
            make_models.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)));
            GroupRanks::new(
                [by_name(&self.make), make_models, by_name(&self.far_part)],
                [self.make.len(), self.make_models.len(), self.far_part.len()],
            )
        })
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
            // Time breakdowns are answered above, aircraft ones by `aircraft_breakdown`;
            // the projection holds no column for the others (country, category,
            // engines, amateur-built).
            _ => return None,
        };
        Some(rows)
    }

    /// The most cited findings among `set` (see [`ntsb_store::Queries::top_findings`]).
    pub fn top_findings(&self, set: &RoaringBitmap, limit: usize) -> Vec<FindingRow> {
        top(&self.findings, set, self.live.len(), &self.rows, |r| &r.findings, limit)
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
        top(&self.occurrences, set, self.live.len(), &self.rows, |r| &r.occurrences, limit)
            .into_iter()
            .map(|(code, events, defining, meaning)| OccurrenceRow { code, meaning, events, defining })
            .collect()
    }
}

/// Codes by events citing them among `set` (most first, then by code), with
/// the events citing them with the flag and their description.
///
/// A filter matching a fraction of the events counts the codes of its rows (a
/// pass over the matching rows); one matching most events intersects each
/// code's bitmaps with it (a pass over the codes' bitmaps, which are dense).
fn top(
    codes: &Codes,
    set: &RoaringBitmap,
    live: u64,
    rows: &[Row],
    of: fn(&Row) -> &[(u32, bool)],
    limit: usize,
) -> Vec<(String, u64, u64, Option<String>)> {
    let n = codes.column.len();
    let mut counts: Vec<(u32, u32)> = vec![(0, 0); n];
    if set.len().saturating_mul(4) < live {
        for id in set {
            let cited = of(&rows[id as usize]);
            for (i, &(c, _)) in cited.iter().enumerate() {
                // An event citing a code twice counts once, flagged when any citation is.
                if cited[..i].iter().any(|&(d, _)| d == c) {
                    continue;
                }
                let slot = &mut counts[c as usize];
                slot.0 += 1;
                slot.1 += u32::from(cited[i..].iter().any(|&(d, f)| d == c && f));
            }
        }
    } else {
        for (c, slot) in counts.iter_mut().enumerate() {
            let events = codes.column.bitmaps[c].intersection_len(set);
            if events > 0 {
                let flagged = codes.flagged[c].intersection_len(set);
                *slot = (u32::try_from(events).unwrap_or(u32::MAX), u32::try_from(flagged).unwrap_or(u32::MAX));
            }
        }
    }
    let mut ranked: Vec<(&str, u32, u32)> = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.0 > 0)
        .map(|(c, &(events, flagged))| (codes.column.name(c as u32).unwrap_or_default(), events, flagged))
        .collect();
    let order =
        |a: &(&str, u32, u32), b: &(&str, u32, u32)| b.1.cmp(&a.1).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()));
    if ranked.len() > limit && limit > 0 {
        ranked.select_nth_unstable_by(limit - 1, order);
    }
    ranked.truncate(limit);
    ranked.sort_unstable_by(order);
    ranked
        .into_iter()
        .map(|(code, events, flagged)| {
            (code.to_string(), u64::from(events), u64::from(flagged), codes.descriptions.get(code).cloned())
        })
        .collect()
}

impl Projection {
    /// Events of `set` with coordinates counted in square cells of
    /// `cell_degrees`, busiest first, then by cell (see
    /// [`ntsb_store::Queries::grid_density`]). `None` when the store must answer:
    /// a cell size it rejects (its error names the rule), or a coordinate below
    /// -90/-180, whose cell the two backends round differently.
    pub fn grid_density(&self, set: &RoaringBitmap, cell_degrees: f64) -> Option<Vec<GridCell>> {
        if !cell_degrees.is_finite() || !(0.001..=90.0).contains(&cell_degrees) {
            return None;
        }
        let mut cells: HashMap<(i64, i64), (u64, u64)> = HashMap::new();
        for id in set {
            let r = &self.rows[id as usize];
            if r.lat.is_nan() || r.lon.is_nan() {
                continue; // NULL coordinates
            }
            let (y, x) = ((r.lat + 90.0) / cell_degrees, (r.lon + 180.0) / cell_degrees);
            if y < 0.0 || x < 0.0 {
                return None;
            }
            let c = cells.entry((y as i64, x as i64)).or_default();
            c.0 += 1;
            c.1 += u64::from(r.flags & FATAL != 0);
        }
        let mut cells: Vec<((i64, i64), (u64, u64))> = cells.into_iter().collect();
        cells.sort_unstable_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
        Some(
            cells
                .into_iter()
                .map(|((gy, gx), (events, fatal_events))| GridCell {
                    lat: ((gy as f64 + 0.5) * cell_degrees - 90.0).min(90.0),
                    lon: ((gx as f64 + 0.5) * cell_degrees - 180.0).min(180.0),
                    events,
                    fatal_events,
                })
                .collect(),
        )
    }
}

/// The codes of the make, make-and-model and FAR-part groups in key order:
/// `rank[code]` is a code's position ([`NONE`]: no group, an empty value) and
/// `codes[rank]` the code at a position.
#[derive(Debug, Clone)]
pub(crate) struct GroupRanks {
    make: Box<[u32]>,
    make_model: Box<[u32]>,
    far_part: Box<[u32]>,
    codes: [Box<[u32]>; 3],
}

impl GroupRanks {
    fn new(sorted: [Vec<u32>; 3], lens: [usize; 3]) -> GroupRanks {
        let rank = |codes: &[u32], len: usize| {
            let mut rank = vec![NONE; len];
            for (at, &c) in codes.iter().enumerate() {
                rank[c as usize] = at as u32;
            }
            rank.into_boxed_slice()
        };
        GroupRanks {
            make: rank(&sorted[0], lens[0]),
            make_model: rank(&sorted[1], lens[1]),
            far_part: rank(&sorted[2], lens[2]),
            codes: sorted.map(Vec::into_boxed_slice),
        }
    }

    fn code_at(&self, by: Breakdown, rank: u32) -> u32 {
        let slot = match by {
            Breakdown::Make => 0,
            Breakdown::MakeModel => 1,
            _ => 2,
        };
        self.codes[slot][rank as usize]
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        4 * (self.make.len()
            + self.make_model.len()
            + self.far_part.len()
            + self.codes.iter().map(|c| c.len()).sum::<usize>())
    }
}
