//! The questions users ask of the stored data and the shapes of the answers.
//!
//! These types are the contract between a store (which answers with SQL) and its
//! callers (the HTTP server, the CLI): a filter ([`EventFilter`]) that every
//! listing, statistic, map and export accepts, and plain result rows. No store
//! type leaks through them, so a second backend answers with the same shapes.
//!
//! Counting rule: injuries are always the event's own totals
//! (`EventRecord::inj_*`), never summed over aircraft rows, so an event with two
//! aircraft counts its fatalities once.
//!
//! ```
//! use ntsb_model::query::wilson_interval;
//! let (lo, hi) = wilson_interval(5, 10);
//! assert!((lo - 0.2366).abs() < 1e-4 && (hi - 0.7634).abs() < 1e-4);
//! ```

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::vocab::{Damage, EventType, InjuryLevel, Phase, Weather};

/// Largest page [`EventQuery::limit`] may ask for; stores clamp to it.
pub const MAX_PAGE: usize = 1000;

/// Serde for optional ISO dates (`YYYY-MM-DD`), without needing chrono's serde feature.
mod iso_date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.format("%Y-%m-%d").to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").map_err(serde::de::Error::custom)).transpose()
    }
}

/// A geographic rectangle in decimal degrees (WGS 84). `min_lon > max_lon` is
/// not supported (no antimeridian wrap); stores reject it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BBox {
    /// Western edge, degrees longitude.
    pub min_lon: f64,
    /// Southern edge, degrees latitude.
    pub min_lat: f64,
    /// Eastern edge, degrees longitude.
    pub max_lon: f64,
    /// Northern edge, degrees latitude.
    pub max_lat: f64,
}

/// Which events a question is about. Every field is optional and they combine
/// with AND. Aircraft-level fields (`make`, `model`, `category`, `far_part`,
/// `damage`) match an event when ANY of its aircraft matches; an event is never
/// returned twice.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EventFilter {
    /// Earliest event date, inclusive.
    #[serde(default, with = "iso_date")]
    pub from: Option<NaiveDate>,
    /// Latest event date, inclusive.
    #[serde(default, with = "iso_date")]
    pub to: Option<NaiveDate>,
    /// Calendar year of the event.
    pub year: Option<i32>,
    /// Two-letter state code, case-insensitive.
    pub state: Option<String>,
    /// Country name as NTSB spells it, case-insensitive.
    pub country: Option<String>,
    /// Highest injury of the event.
    pub highest_injury: Option<InjuryLevel>,
    /// Damage of any aircraft.
    pub damage: Option<Damage>,
    /// Make of any aircraft; normalised with [`crate::normalize::make_name`] before matching.
    pub make: Option<String>,
    /// Model of any aircraft: case-insensitive prefix.
    pub model: Option<String>,
    /// Aircraft category code (`AIR`, `HELI`, …) of any aircraft, case-insensitive.
    pub category: Option<String>,
    /// FAR part code (`091`, `121`, …) of any aircraft; `91` matches `091`.
    pub far_part: Option<String>,
    /// Broad phase of flight of the event.
    pub phase: Option<Phase>,
    /// Weather condition of the event.
    pub weather: Option<Weather>,
    /// Accident, incident, …
    pub event_type: Option<EventType>,
    /// Whether the event has narrative or probable-cause text.
    pub has_narrative: Option<bool>,
    /// Only events with coordinates inside this rectangle.
    pub bbox: Option<BBox>,
    /// Only these store-internal event ids (the server fills it from the
    /// full-text index for `q`). An empty list matches nothing.
    pub event_ids: Option<Vec<i64>>,
}

/// What an event listing is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortField {
    /// Event date (events without a date sort last).
    #[default]
    Date,
    /// Fatalities of the event.
    Fatalities,
    /// State code.
    State,
    /// Normalised make of the first aircraft.
    Make,
}

/// Order of an event listing. Ties are always broken by the store's internal id
/// in the same direction, so paging is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sort {
    /// Sort key.
    pub field: SortField,
    /// Largest first.
    pub descending: bool,
}

impl Default for Sort {
    /// Newest first.
    fn default() -> Self {
        Sort { field: SortField::Date, descending: true }
    }
}

/// One page of an event listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventQuery {
    /// Which events.
    pub filter: EventFilter,
    /// In which order.
    pub sort: Sort,
    /// Page size, 1..=[`MAX_PAGE`] (0 is treated as 1 and larger values as [`MAX_PAGE`]).
    pub limit: usize,
    /// Opaque cursor from a previous page's [`EventPage::next_cursor`].
    pub cursor: Option<String>,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery { filter: EventFilter::default(), sort: Sort::default(), limit: 100, cursor: None }
    }
}

/// A page of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    /// The events of this page.
    pub items: Vec<EventSummary>,
    /// How many events match the filter in all (independent of the cursor).
    pub total: u64,
    /// Cursor of the next page, `None` on the last page.
    pub next_cursor: Option<String>,
}

/// People injured in an event, by level (the event's own totals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Injuries {
    /// Killed.
    pub fatal: u64,
    /// Seriously injured.
    pub serious: u64,
    /// Minor injuries.
    pub minor: u64,
    /// Uninjured.
    pub none: u64,
}

/// One event in a listing, map or export.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EventSummary {
    /// Store-internal id (the full-text index key); not part of the public API.
    #[serde(skip_serializing, default)]
    pub event_id: i64,
    /// NTSB event id.
    pub ev_id: Option<String>,
    /// NTSB case number.
    pub ntsb_no: Option<String>,
    /// `YYYY-MM-DD`.
    pub event_date: Option<String>,
    /// `accident`, `incident`, …
    pub event_type: Option<String>,
    /// Two-letter state code.
    pub state: Option<String>,
    /// City or place.
    pub city: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Decimal degrees.
    pub latitude: Option<f64>,
    /// Decimal degrees.
    pub longitude: Option<f64>,
    /// `fatal`, `serious`, `minor`, `none` or `unknown`.
    pub highest_injury: Option<String>,
    /// People injured, whole event.
    pub injuries: Injuries,
    /// Normalised make of the first aircraft.
    pub make: Option<String>,
    /// Model of the first aircraft.
    pub model: Option<String>,
    /// Broad phase of flight.
    pub phase: Option<String>,
    /// `VMC`, `IMC` or `unknown`.
    pub weather: Option<String>,
    /// Whether narrative or probable-cause text exists.
    pub has_narrative: bool,
    /// True for the synthetic demo sample.
    pub synthetic: bool,
}

/// One engine of an aircraft, as shown in an event's detail.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EngineDetail {
    /// Engine number on the aircraft.
    pub eng_no: i64,
    /// Engine type code (`REC`, `TF`, …).
    pub eng_type: Option<String>,
    /// Manufacturer.
    pub eng_mfgr: Option<String>,
    /// Model.
    pub eng_model: Option<String>,
    /// Rated power.
    pub power_units: Option<i64>,
    /// `HP` or `LBS`.
    pub hp_or_lbs: Option<String>,
    /// `CARB` or `FINJ`.
    pub carb_fuel_injection: Option<String>,
    /// Propeller type code.
    pub propeller_type: Option<String>,
    /// Propeller make.
    pub propeller_make: Option<String>,
    /// Propeller model.
    pub propeller_model: Option<String>,
    /// Total hours.
    pub eng_time_total: Option<f64>,
    /// Hours since last inspection.
    pub eng_time_last_insp: Option<f64>,
    /// Hours since overhaul.
    pub eng_time_overhaul: Option<f64>,
}

/// One aircraft of an event with its engines.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AircraftDetail {
    /// 1-based aircraft number within the event.
    pub aircraft_key: i64,
    /// Case number of this aircraft.
    pub ntsb_no: Option<String>,
    /// Registration (N-number).
    pub registration: Option<String>,
    /// Serial number.
    pub serial_no: Option<String>,
    /// Normalised make.
    pub make: Option<String>,
    /// Make as the source wrote it.
    pub make_raw: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Category code.
    pub category: Option<String>,
    /// Category as the source wrote it.
    pub category_raw: Option<String>,
    /// Amateur-built.
    pub amateur_built: Option<bool>,
    /// Number of engines.
    pub num_engines: Option<i64>,
    /// Engine type as the source wrote it.
    pub engine_type: Option<String>,
    /// FAR part code.
    pub far_part: Option<String>,
    /// FAR part as the source wrote it.
    pub far_part_raw: Option<String>,
    /// Scheduled / non-scheduled code.
    pub schedule: Option<String>,
    /// Purpose of flight.
    pub purpose: Option<String>,
    /// Operator name.
    pub operator: Option<String>,
    /// `destroyed`, `substantial`, …
    pub damage: Option<String>,
    /// Damage as the source wrote it.
    pub damage_raw: Option<String>,
    /// Broad phase of flight.
    pub phase: Option<String>,
    /// Phase as the source wrote it.
    pub phase_raw: Option<String>,
    /// Engines, by number.
    pub engines: Vec<EngineDetail>,
}

/// One flight crew member.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CrewDetail {
    /// Aircraft number.
    pub aircraft_key: i64,
    /// Crew member number.
    pub crew_no: i64,
    /// Category code (`PLT`, `CPLT`, …).
    pub crew_category: Option<String>,
    /// Age in years.
    pub crew_age: Option<i64>,
    /// `M` or `F`.
    pub crew_sex: Option<String>,
    /// Medical certificate class.
    pub med_certf: Option<String>,
    /// Injury level.
    pub crew_inj_level: Option<String>,
    /// Seat belt used.
    pub seatbelts_used: Option<bool>,
    /// Shoulder harness used.
    pub shldr_harn_used: Option<bool>,
}

/// One row of the per-aircraft injury table (NTSB's `injury`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InjuryDetail {
    /// Aircraft number.
    pub aircraft_key: i64,
    /// Person category code (`PLT`, `PAX`, `TOTL`, …).
    pub person_category: String,
    /// Injury level code (`FATL`, `SERS`, …).
    pub injury_level: String,
    /// Number of people.
    pub count: Option<i64>,
}

/// One coded finding of an event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FindingDetail {
    /// Aircraft number.
    pub aircraft_key: i64,
    /// Finding number within the aircraft.
    pub finding_no: i64,
    /// Ten-digit finding code.
    pub code: Option<String>,
    /// Decoded text.
    pub description: Option<String>,
    /// `cause`, `factor` or `None`.
    pub cause_factor: Option<String>,
}

/// One occurrence in an event's sequence.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OccurrenceDetail {
    /// Aircraft number.
    pub aircraft_key: i64,
    /// `cictt` or `legacy`.
    pub code_system: String,
    /// Occurrence number.
    pub occurrence_no: i64,
    /// Occurrence code.
    pub code: Option<String>,
    /// Decoded meaning.
    pub meaning: Option<String>,
    /// Broad phase of flight.
    pub phase: Option<String>,
    /// Decoded phase.
    pub phase_meaning: Option<String>,
    /// Whether this is the defining event.
    pub defining_event: Option<bool>,
}

/// One recorded change of a stored field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RevisionDetail {
    /// Table of the changed row.
    pub table: String,
    /// Key of the row within its event.
    pub row_key: String,
    /// Changed field.
    pub field: String,
    /// Value before.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// Ledger id of the load that made the change.
    pub load_id: i64,
    /// Source file of that load.
    pub source: String,
    /// RFC 3339 time of the change.
    pub changed_at: String,
}

/// A source file that contributed to an event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceRef {
    /// Ledger id.
    pub load_id: i64,
    /// Path as loaded.
    pub path: String,
    /// Source format.
    pub format: String,
    /// RFC 3339 start of the load.
    pub loaded_at: String,
}

/// Everything known about one event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EventDetail {
    /// The listing fields.
    #[serde(flatten)]
    pub summary: EventSummary,
    /// Nearest airport identifier.
    pub airport_code: Option<String>,
    /// Nearest airport name.
    pub airport_name: Option<String>,
    /// Local time `HH:MM`.
    pub event_time: Option<String>,
    /// Light condition code.
    pub light_condition: Option<String>,
    /// Report status.
    pub report_status: Option<String>,
    /// Record status code.
    pub record_status: Option<String>,
    /// ISO publication date.
    pub publication_date: Option<String>,
    /// Aircraft with their engines, by number.
    pub aircraft: Vec<AircraftDetail>,
    /// Flight crew.
    pub crew: Vec<CrewDetail>,
    /// Per-aircraft injury rows (the event totals are in `summary.injuries`).
    pub injury_rows: Vec<InjuryDetail>,
    /// Findings, by aircraft then number.
    pub findings: Vec<FindingDetail>,
    /// Occurrences, by aircraft then number.
    pub occurrences: Vec<OccurrenceDetail>,
    /// Factual narrative (event-level and per aircraft, joined).
    pub narrative: Option<String>,
    /// Probable cause statement.
    pub probable_cause: Option<String>,
    /// Safety recommendation texts.
    pub recommendations: Vec<String>,
    /// Field changes, oldest first.
    pub revisions: Vec<RevisionDetail>,
    /// Files that contributed, by load.
    pub sources: Vec<SourceRef>,
}

/// What a statistics breakdown groups events by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    /// Calendar year (`2010`).
    Year,
    /// Month (`01`–`12`).
    Month,
    /// Meteorological season: `winter` (DJF), `spring` (MAM), `summer` (JJA), `autumn` (SON).
    Season,
    /// Day of week (`0` Sunday … `6` Saturday) with `key2` the name.
    DayOfWeek,
    /// Decade (`1980`).
    Decade,
    /// State code.
    State,
    /// Normalised make of any aircraft (an event with two makes counts in both).
    Make,
    /// Make (`key`) and model (`key2`) of any aircraft.
    MakeModel,
    /// Broad phase of flight of the event.
    Phase,
    /// Weather condition of the event.
    Weather,
    /// FAR part of any aircraft.
    FarPart,
    /// Country as the source spells it (`USA`, `United States`, `Canada`, …).
    Country,
    /// Aircraft category code of any aircraft (`AIR`, `HELI`, …).
    Category,
    /// Number of engines of any aircraft (`0`, `1`, `2`, …).
    Engines,
    /// Whether any aircraft was amateur-built: `yes` or `no`.
    AmateurBuilt,
}

impl Breakdown {
    /// Every breakdown.
    pub const ALL: &'static [Breakdown] = &[
        Breakdown::Year,
        Breakdown::Month,
        Breakdown::Season,
        Breakdown::DayOfWeek,
        Breakdown::Decade,
        Breakdown::State,
        Breakdown::Make,
        Breakdown::MakeModel,
        Breakdown::Phase,
        Breakdown::Weather,
        Breakdown::FarPart,
        Breakdown::Country,
        Breakdown::Category,
        Breakdown::Engines,
        Breakdown::AmateurBuilt,
    ];

    /// Whether rows are ordered by key (time-like) rather than by event count.
    pub fn ordered_by_key(self) -> bool {
        matches!(
            self,
            Breakdown::Year | Breakdown::Month | Breakdown::Season | Breakdown::DayOfWeek | Breakdown::Decade
        )
    }
}

/// Names of the days of week, `0` Sunday … `6` Saturday ([`Breakdown::DayOfWeek`]'s `key2`).
pub const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Position of a season key in the year (winter first; `unknown` last).
fn season_rank(key: &str) -> usize {
    ["winter", "spring", "summer", "autumn"].iter().position(|s| *s == key).unwrap_or(4)
}

impl Breakdown {
    /// The order in which a store ranks groups before applying `min_count` and
    /// the limit: by key then second key (absent first) for time-like
    /// breakdowns; otherwise most events first, then by key and second key.
    /// Keys compare bytewise. (The SQL statistics spell the same order in
    /// `ORDER BY`; an in-memory engine sorts with this.)
    pub fn rank(self, a: &BreakdownRow, b: &BreakdownRow) -> std::cmp::Ordering {
        let keys = a.key.as_bytes().cmp(b.key.as_bytes()).then_with(|| a.key2.cmp(&b.key2));
        if self.ordered_by_key() { keys } else { b.events.cmp(&a.events).then(keys) }
    }

    /// Finishes ranked and limited rows for the caller: day names as `key2`
    /// for [`Breakdown::DayOfWeek`], seasons in the order of the year.
    pub fn finish(self, rows: &mut [BreakdownRow]) {
        match self {
            Breakdown::DayOfWeek => {
                for row in rows {
                    row.key2 = row.key.parse::<usize>().ok().and_then(|d| WEEKDAYS.get(d)).map(|d| d.to_string());
                }
            }
            Breakdown::Season => rows.sort_by_key(|r| season_rank(&r.key)),
            _ => {}
        }
    }
}

impl BreakdownRow {
    /// A group with its counts and its fatal rate (with the rate's interval).
    pub fn new(
        key: String,
        key2: Option<String>,
        events: u64,
        fatal_events: u64,
        fatalities: u64,
        serious_injuries: u64,
        destroyed: u64,
    ) -> BreakdownRow {
        let (fatal_rate, fatal_rate_ci95) = fatal_rate(fatal_events, events);
        BreakdownRow {
            key,
            key2,
            events,
            fatal_events,
            fatalities,
            serious_injuries,
            destroyed,
            fatal_rate,
            fatal_rate_ci95,
        }
    }
}

/// `successes / n` (0 when `n` is 0) with its Wilson 95% interval: the fatal
/// rate of every statistic.
pub fn fatal_rate(successes: u64, n: u64) -> (f64, [f64; 2]) {
    let (lo, hi) = wilson_interval(successes, n);
    (if n == 0 { 0.0 } else { successes as f64 / n as f64 }, [lo, hi])
}

/// One group of a statistics breakdown.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BreakdownRow {
    /// Group key (year, state, make, …).
    pub key: String,
    /// Second key (model for make/model, weekday name for day of week).
    pub key2: Option<String>,
    /// Events in the group.
    pub events: u64,
    /// Events with at least one fatality.
    pub fatal_events: u64,
    /// People killed (event totals).
    pub fatalities: u64,
    /// People seriously injured (event totals).
    pub serious_injuries: u64,
    /// Events where an aircraft was destroyed.
    pub destroyed: u64,
    /// `fatal_events / events`.
    pub fatal_rate: f64,
    /// Wilson score 95% interval of `fatal_rate`.
    pub fatal_rate_ci95: [f64; 2],
}

/// Totals over the filtered events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Events.
    pub events: u64,
    /// Events of type accident.
    pub accidents: u64,
    /// Events of type incident.
    pub incidents: u64,
    /// Events with at least one fatality.
    pub fatal_events: u64,
    /// People killed.
    pub fatalities: u64,
    /// People seriously injured.
    pub serious_injuries: u64,
    /// People with minor injuries.
    pub minor_injuries: u64,
    /// Aircraft involved.
    pub aircraft: u64,
    /// Events where an aircraft was destroyed.
    pub destroyed: u64,
    /// Earliest event date.
    pub first_event: Option<String>,
    /// Latest event date.
    pub last_event: Option<String>,
    /// `fatal_events / events`.
    pub fatal_rate: f64,
    /// Wilson score 95% interval of `fatal_rate`.
    pub fatal_rate_ci95: [f64; 2],
}

/// How often a finding is cited among the filtered events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FindingRow {
    /// Finding code.
    pub code: String,
    /// Decoded text.
    pub description: Option<String>,
    /// Events citing it.
    pub events: u64,
    /// Events citing it as a cause.
    pub cited_as_cause: u64,
    /// `cited_as_cause / events`.
    pub cause_share: f64,
}

/// How often an occurrence appears among the filtered events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OccurrenceRow {
    /// Occurrence code.
    pub code: String,
    /// Decoded meaning.
    pub meaning: Option<String>,
    /// Events with it.
    pub events: u64,
    /// Events where it was the defining event.
    pub defining: u64,
}

/// How often each of the most frequent occurrences happened in each phase of
/// flight among the filtered events: the phase × occurrence heat map.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PhaseOccurrences {
    /// The occurrences shown, most frequent first: the occurrence's meaning (the
    /// CICTT event without its phase), or its code where the source gave no meaning.
    pub occurrences: Vec<OccurrenceTotal>,
    /// Non-empty cells, in the order of `occurrences` and then of the phases.
    pub cells: Vec<PhaseOccurrenceCell>,
}

/// Events with one occurrence, in any phase.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OccurrenceTotal {
    /// The occurrence (meaning, or code without one).
    pub occurrence: String,
    /// Events with it.
    pub events: u64,
}

/// Events with one occurrence in one phase of flight.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PhaseOccurrenceCell {
    /// Broad phase of flight of the occurrence (`unknown` when not reported).
    pub phase: String,
    /// The occurrence (as in [`OccurrenceTotal::occurrence`]).
    pub occurrence: String,
    /// Events with that occurrence in that phase.
    pub events: u64,
}

/// One cell of a density grid.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GridCell {
    /// Latitude of the cell centre.
    pub lat: f64,
    /// Longitude of the cell centre.
    pub lon: f64,
    /// Events in the cell.
    pub events: u64,
    /// Fatal events in the cell.
    pub fatal_events: u64,
}

/// A density-based (DBSCAN) cluster of events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Cluster {
    /// Cluster number, 0 for the largest.
    pub id: u32,
    /// Centroid latitude.
    pub lat: f64,
    /// Centroid longitude.
    pub lon: f64,
    /// Events in the cluster.
    pub events: u64,
    /// Fatal events in the cluster.
    pub fatal_events: u64,
    /// Distance from the centroid to the farthest member, km.
    pub radius_km: f64,
    /// Up to ten member event ids.
    pub ev_ids: Vec<String>,
}

/// Wilson score 95% interval (z = 1.96) for `successes` out of `n`, as
/// `(low, high)` within `[0, 1]`. `(0, 0)` when `n` is 0.
///
/// Unlike the normal approximation it stays inside `[0, 1]` and is honest about
/// small counts: 0 of 10 gives `(0, 0.278)`, not `(0, 0)`.
pub fn wilson_interval(successes: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 0.0);
    }
    const Z: f64 = 1.959_963_984_540_054;
    let n_f = n as f64;
    let p = successes.min(n) as f64 / n_f;
    let z2 = Z * Z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = Z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Great-circle distance in km between two points (haversine, mean Earth radius 6371.0088 km).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const R: f64 = 6371.0088;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    #[test]
    fn wilson_known_values() {
        assert_eq!(wilson_interval(0, 0), (0.0, 0.0));
        let (lo, hi) = wilson_interval(0, 10);
        assert!(close(lo, 0.0) && close(hi, 0.2775), "{lo} {hi}");
        let (lo, hi) = wilson_interval(5, 10);
        assert!(close(lo, 0.2366) && close(hi, 0.7634), "{lo} {hi}");
        let (lo, hi) = wilson_interval(10, 10);
        assert!(close(lo, 0.7225) && close(hi, 1.0), "{lo} {hi}");
        let (lo, hi) = wilson_interval(81, 263);
        assert!(close(lo, 0.2553) && close(hi, 0.3662), "{lo} {hi}");
    }

    #[test]
    fn haversine_known_pairs() {
        // London–Paris ≈ 343.5 km; JFK–LAX airports ≈ 3,974 km on the sphere (3,983 km on the ellipsoid).
        let d = haversine_km(51.5074, -0.1278, 48.8566, 2.3522);
        assert!((d - 343.5).abs() < 1.0, "{d}");
        let d = haversine_km(40.6413, -73.7781, 33.9416, -118.4085);
        assert!((d - 3974.3).abs() < 1.0, "{d}");
        assert_eq!(haversine_km(10.0, 20.0, 10.0, 20.0), 0.0);
    }
}
