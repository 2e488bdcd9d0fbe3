//! Training data for the machine-learning models (`ntsb-ml`): one row per event
//! with the raw structured facts the models may use, and the outcomes they learn.
//!
//! The store hands out raw facts only; which of them a model may see (leakage
//! rules: no injuries for `fatal`, nothing after take-off for `risk`) is decided in
//! `ntsb-ml`, next to the feature lists, where a test guards it.

use serde::{Deserialize, Serialize};

use crate::Result;

/// One event's structured facts and outcomes, as stored (normalised vocabularies).
///
/// Aircraft-level fields come from the event's first aircraft (lowest aircraft
/// number), except `damage`, the worst damage of any aircraft. Pilot fields come
/// from the first pilot (`crew_category = 'PLT'`) of the first aircraft that has one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingRow {
    /// NTSB event id.
    pub ev_id: String,
    /// `accident`, `incident`, `occurrence` or `unknown`.
    pub event_type: Option<String>,
    /// Event date, `YYYY-MM-DD`.
    pub event_date: Option<String>,
    /// US state (two letters).
    pub state: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Latitude, decimal degrees.
    pub latitude: Option<f64>,
    /// Longitude, decimal degrees.
    pub longitude: Option<f64>,
    /// Airport code of the nearest airport, when the event was at or near one.
    pub airport_code: Option<String>,
    /// Name of that airport, as reported.
    pub airport_name: Option<String>,
    /// Light condition code (`DAYL`, `NITE`, …).
    pub light_condition: Option<String>,
    /// `VMC`, `IMC` or `unknown`.
    pub weather: Option<String>,
    /// Broad phase of flight (event level, else the first aircraft's).
    pub phase: Option<String>,
    /// Highest injury: `fatal`, `serious`, `minor`, `none`, `unknown` (an outcome).
    pub highest_injury: Option<String>,
    /// Fatalities (an outcome).
    pub inj_fatal: Option<i64>,
    /// Serious injuries (an outcome).
    pub inj_serious: Option<i64>,
    /// Minor injuries (an outcome).
    pub inj_minor: Option<i64>,
    /// Uninjured people (an outcome).
    pub inj_none: Option<i64>,
    /// Number of aircraft involved.
    pub aircraft_count: u32,
    /// Aircraft make (normalised).
    pub make: Option<String>,
    /// Aircraft model.
    pub model: Option<String>,
    /// Aircraft category code (`AIR`, `HELI`, …).
    pub category: Option<String>,
    /// Amateur-built.
    pub amateur_built: Option<bool>,
    /// Number of engines.
    pub num_engines: Option<i64>,
    /// Engine type.
    pub engine_type: Option<String>,
    /// FAR part code (`091`, `121`, …).
    pub far_part: Option<String>,
    /// Scheduled / non-scheduled.
    pub schedule: Option<String>,
    /// Purpose of flight.
    pub purpose: Option<String>,
    /// Worst aircraft damage of the event (an outcome).
    pub damage: Option<String>,
    /// Age of the pilot in command.
    pub pilot_age: Option<i64>,
    /// Total flight hours of the pilot in command.
    pub pilot_total_hours: Option<f64>,
}

/// Which events to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrainingFilter {
    /// Only events classified as accidents.
    pub accidents_only: bool,
}

/// Read access to training rows, implemented by every backend.
pub trait TrainingData: Send + Sync {
    /// Every event (with an `ev_id`) matching `filter`, in store order.
    fn training_rows(&self, filter: &TrainingFilter) -> Result<Vec<TrainingRow>>;
    /// One event by `ev_id`, for scoring a stored event.
    fn training_row(&self, ev_id: &str) -> Result<Option<TrainingRow>>;
    /// Many events by `ev_id`, for scoring a batch: one answer per id, in the
    /// order given (`None` for an id that is not stored; a repeated id is answered
    /// each time). Each table is read once for the whole batch, not once per
    /// event, so a batch of 100 costs four statements, not 400.
    fn training_rows_by_ids(&self, ev_ids: &[&str]) -> Result<Vec<Option<TrainingRow>>>;
}

/// Rank of a damage value, higher is worse; used to pick an event's worst damage.
pub fn damage_rank(damage: &str) -> u8 {
    match damage {
        "destroyed" => 4,
        "substantial" => 3,
        "minor" => 2,
        "none" => 1,
        _ => 0,
    }
}

/// The SQL both backends run to read training rows, with `?` placeholders
/// (PostgreSQL rewrites them to `$N`). One statement per table; the rows are
/// merged per event in Rust by [`merge`], so the rules (first aircraft, worst
/// damage, first pilot) exist once and both backends give the same rows.
pub(crate) mod sql {
    /// Events with an `ev_id`; callers append filters and `ORDER BY e.id`.
    pub const EVENTS: &str = "SELECT e.id, e.ev_id, e.event_type, e.event_date, e.state, e.country, e.latitude, \
         e.longitude, e.airport_code, e.light_condition, e.weather, e.phase, e.highest_injury, e.inj_fatal, \
         e.inj_serious, e.inj_minor, e.inj_none, e.airport_name FROM events e WHERE e.ev_id IS NOT NULL";

    /// Aircraft facts, in (event, aircraft) order.
    pub const AIRCRAFT: &str = "SELECT a.event_id, a.make, a.model, a.category, a.amateur_built, a.num_engines, \
         a.engine_type, a.far_part, a.schedule, a.purpose, a.damage, a.phase FROM aircraft a WHERE 1 = 1";

    /// Pilots, in (event, aircraft, crew number) order.
    pub const PILOTS: &str =
        "SELECT c.event_id, c.aircraft_key, c.crew_no, c.crew_age FROM flight_crew c WHERE c.crew_category = 'PLT'";

    /// Total flight hours of every crew member.
    pub const HOURS: &str = "SELECT t.event_id, t.aircraft_key, t.crew_no, t.flight_hours FROM flight_time t \
         WHERE t.flight_type = 'TOTL' AND t.flight_craft = 'ALL'";

    /// Appended to a query to restrict it to one event (bound to the internal id).
    pub const ONE_EVENT_AIRCRAFT: &str = " AND a.event_id = ?";
    /// See [`ONE_EVENT_AIRCRAFT`].
    pub const ONE_EVENT_PILOT: &str = " AND c.event_id = ?";
    /// See [`ONE_EVENT_AIRCRAFT`].
    pub const ONE_EVENT_HOURS: &str = " AND t.event_id = ?";
    /// Order of the aircraft rows [`super::merge`] needs.
    pub const AIRCRAFT_ORDER: &str = " ORDER BY a.event_id, a.aircraft_key";
    /// Order of the pilot rows [`super::merge`] needs.
    pub const PILOTS_ORDER: &str = " ORDER BY c.event_id, c.aircraft_key, c.crew_no";
}

/// The answer of [`TrainingData::training_rows_by_ids`]: the merged rows of the
/// stored events among `ev_ids`, handed out in the order asked (cloned for a
/// repeated id), `None` for an id not found.
pub(crate) fn in_order(ev_ids: &[&str], mut rows: Vec<TrainingRow>) -> Vec<Option<TrainingRow>> {
    use std::collections::HashMap;
    // Which row answers each id (keys borrowed from the rows, nothing copied).
    let at: Vec<Option<usize>> = {
        let by_id: HashMap<&str, usize> = rows.iter().enumerate().map(|(i, r)| (r.ev_id.as_str(), i)).collect();
        ev_ids.iter().map(|id| by_id.get(id).copied()).collect()
    };
    let mut uses = vec![0usize; rows.len()];
    for &i in at.iter().flatten() {
        uses[i] += 1;
    }
    at.into_iter()
        .map(|i| {
            let i = i?;
            uses[i] -= 1;
            // The last use of a row takes it; earlier ones (a repeated id) clone it.
            Some(if uses[i] == 0 { std::mem::take(&mut rows[i]) } else { rows[i].clone() })
        })
        .collect()
}

/// Distinct ids of a batch, in first-seen order (each is bound once).
pub(crate) fn distinct<'a>(ev_ids: &[&'a str]) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::with_capacity(ev_ids.len());
    ev_ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

/// One aircraft row as read by [`sql::AIRCRAFT`].
#[derive(Debug, Clone, Default)]
pub(crate) struct AircraftFacts {
    pub event_id: i64,
    pub make: Option<String>,
    pub model: Option<String>,
    pub category: Option<String>,
    pub amateur_built: Option<bool>,
    pub num_engines: Option<i64>,
    pub engine_type: Option<String>,
    pub far_part: Option<String>,
    pub schedule: Option<String>,
    pub purpose: Option<String>,
    pub damage: Option<String>,
    pub phase: Option<String>,
}

/// A crew member's key and one value (age of a pilot, or total hours).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CrewFact<T> {
    pub event_id: i64,
    pub aircraft_key: i64,
    pub crew_no: i64,
    pub value: Option<T>,
}

/// Merges the per-table rows into one [`TrainingRow`] per event.
///
/// `events` are `(internal id, row with the event-level fields)`, in the order to
/// return; `aircraft` and `pilots` must be in the orders of
/// [`sql::AIRCRAFT_ORDER`] and [`sql::PILOTS_ORDER`]. Aircraft facts come from the
/// first aircraft, `damage` is the worst of any aircraft, `phase` falls back to the
/// first aircraft's, pilot age and hours come from the first pilot.
pub(crate) fn merge(
    events: Vec<(i64, TrainingRow)>,
    aircraft: impl IntoIterator<Item = AircraftFacts>,
    pilots: impl IntoIterator<Item = CrewFact<i64>>,
    hours: impl IntoIterator<Item = CrewFact<f64>>,
) -> Vec<TrainingRow> {
    use std::collections::HashMap;
    let position: HashMap<i64, usize> = events.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();
    let mut rows: Vec<TrainingRow> = events.into_iter().map(|(_, row)| row).collect();
    for a in aircraft {
        let Some(&i) = position.get(&a.event_id) else { continue };
        let row = &mut rows[i];
        if let Some(d) = a.damage {
            let worse = row.damage.as_deref().is_none_or(|cur| damage_rank(&d) > damage_rank(cur));
            if worse {
                row.damage = Some(d);
            }
        }
        row.aircraft_count += 1;
        if row.aircraft_count > 1 {
            continue;
        }
        row.make = a.make;
        row.model = a.model;
        row.category = a.category;
        row.amateur_built = a.amateur_built;
        row.num_engines = a.num_engines;
        row.engine_type = a.engine_type;
        row.far_part = a.far_part;
        row.schedule = a.schedule;
        row.purpose = a.purpose;
        if row.phase.is_none() {
            row.phase = a.phase;
        }
    }
    let mut first_pilot: HashMap<i64, (i64, i64)> = HashMap::new();
    for p in pilots {
        let Some(&i) = position.get(&p.event_id) else { continue };
        if first_pilot.contains_key(&p.event_id) {
            continue;
        }
        first_pilot.insert(p.event_id, (p.aircraft_key, p.crew_no));
        rows[i].pilot_age = p.value;
    }
    for t in hours {
        let (Some(&i), Some(&pilot)) = (position.get(&t.event_id), first_pilot.get(&t.event_id)) else { continue };
        if (t.aircraft_key, t.crew_no) == pilot {
            rows[i].pilot_total_hours = t.value;
        }
    }
    rows
}
