//! The facts of every event that filters and statistics use, read in bulk for
//! in-memory projections (the `ntsb-analytics` engine): one [`EventFacts`] per
//! event with its aircraft, finding and occurrence codes, read by one set of
//! statements for both backends (`sql/facts.rs`), for the whole store or for the
//! events a change of the log names ([`crate::Store::changes`]).
//!
//! The values are those the SQL filters and statistics read (`event_facts`,
//! `aircraft`, `findings`, `occurrences`), as stored: a projection that applies
//! the same rules to them gives the same answers.

use serde::{Deserialize, Serialize};

use crate::Result;

/// One aircraft of an event, as aircraft-level filters and breakdowns see it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AircraftFacts {
    /// Normalised make.
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Category code (`AIR`, `HELI`, …).
    pub category: Option<String>,
    /// FAR part code (`091`, …).
    pub far_part: Option<String>,
    /// Damage (`destroyed`, …).
    pub damage: Option<String>,
}

/// A finding or occurrence code cited for an event, with its flag: cited as a
/// cause (findings) or the defining event (occurrences).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFact {
    /// The code (never empty: rows without one are not read).
    pub code: String,
    /// Cause (findings) or defining event (occurrences).
    pub flag: bool,
}

/// What filters and statistics know of one event (its `event_facts` row and its
/// aircraft, findings and occurrences).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EventFacts {
    /// The store's internal id.
    pub id: i64,
    /// `YYYY-MM-DD` as stored.
    pub event_date: Option<String>,
    /// State code.
    pub state: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Highest injury level.
    pub highest_injury: Option<String>,
    /// Accident, incident, …
    pub event_type: Option<String>,
    /// Weather condition.
    pub weather: Option<String>,
    /// Broad phase of flight.
    pub phase: Option<String>,
    /// Normalised make of the first aircraft (`event_facts.make`, the listing's `make` sort key).
    #[serde(default)]
    pub make: Option<String>,
    /// Latitude, degrees.
    pub latitude: Option<f64>,
    /// Longitude, degrees.
    pub longitude: Option<f64>,
    /// Fatalities (0 when unknown).
    pub inj_fatal: i64,
    /// Serious injuries (0 when unknown).
    pub inj_serious: i64,
    /// Minor injuries (0 when unknown).
    pub inj_minor: i64,
    /// A fatal event (fatalities, or a fatal highest injury).
    pub fatal: bool,
    /// At least one aircraft destroyed.
    pub destroyed: bool,
    /// Narrative, preliminary or probable-cause text present.
    pub has_text: bool,
    /// Its aircraft, in `aircraft_key` order.
    pub aircraft: Vec<AircraftFacts>,
    /// Its findings with a code, in table order.
    pub findings: Vec<CodeFact>,
    /// Its occurrences with a code, in table order.
    pub occurrences: Vec<CodeFact>,
}

/// The descriptions statistics show for codes: the shortest-sorting non-empty
/// finding description and occurrence meaning of each code (`min`, as the SQL
/// statistics read them).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CodeDescriptions {
    /// `(finding_code, description)`, by code.
    pub findings: Vec<(String, String)>,
    /// `(occurrence_code, meaning)`, by code.
    pub occurrences: Vec<(String, String)>,
}

/// Bulk reads of [`EventFacts`], implemented by every SQL store.
pub trait Facts: Send + Sync {
    /// The facts of every event (`ids == None`) or of the given events (those
    /// that no longer exist are absent), by id.
    fn event_facts(&self, ids: Option<&[i64]>) -> Result<Vec<EventFacts>>;

    /// The description of every finding and occurrence code.
    fn code_descriptions(&self) -> Result<CodeDescriptions>;
}
