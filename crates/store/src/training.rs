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
