//! The records NTSB sources describe, as readers produce them and stores keep them.
//!
//! Every record type mirrors one table of NTSB's relational database (`avall.mdb`)
//! with normalised values beside the raw codes. Each has
//!
//! * a `SPEC` ([`TableSpec`]): the table name, the columns that identify a row within
//!   its event (`key_columns`) and the data columns (`columns`), in a fixed order;
//! * `into_values()`, giving key and data values in that order.
//!
//! Stores use the spec to upsert any record generically, so adding a column here is
//! the only change a new field needs besides its migration.
//!
//! All data fields are optional: a source that does not know a field leaves it
//! `None`, and a store never overwrites a known value with an unknown one.

use serde::{Deserialize, Serialize};

use crate::value::{IntoValue, Value};

/// Names of a table, its key columns and its data columns, in the order
/// `into_values` returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    /// Table name in every backend.
    pub name: &'static str,
    /// Columns that, with the owning event, identify one row.
    pub key_columns: &'static [&'static str],
    /// Data columns.
    pub columns: &'static [&'static str],
    /// Whether rows belong to an event (and so carry an [`EventRef`]).
    pub child_of_event: bool,
}

/// How a record names the event it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventRef {
    /// By NTSB event id (`20080124X00101`).
    EvId(String),
    /// By NTSB case number (`NYC08CA068`), for CAROL records without an event id.
    NtsbNo(String),
}

impl std::fmt::Display for EventRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventRef::EvId(id) => write!(f, "ev_id {id}"),
            EventRef::NtsbNo(no) => write!(f, "ntsb_no {no}"),
        }
    }
}

impl Default for EventRef {
    fn default() -> Self {
        EventRef::EvId(String::new())
    }
}

macro_rules! record {
    (@struct $(#[$m:meta])* $name:ident, $table:literal, $child:literal, { $($event:tt)* },
        key { $($(#[$km:meta])* $k:ident : $kt:ty),* $(,)? }
        fields { $($(#[$fm:meta])* $f:ident : $ft:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $($event)*
            $($(#[$km])* pub $k: $kt,)*
            $($(#[$fm])* pub $f: $ft,)*
        }

        impl $name {
            /// Table, key and column names of this record type.
            pub const SPEC: TableSpec = TableSpec {
                name: $table,
                key_columns: &[$(stringify!($k)),*],
                columns: &[$(stringify!($f)),*],
                child_of_event: $child,
            };

            /// Key values then data values, in [`Self::SPEC`] order.
            pub fn into_values(self) -> (Vec<Value>, Vec<Value>) {
                (vec![$(self.$k.into_value()),*], vec![$(self.$f.into_value()),*])
            }
        }
    };
    ($(#[$m:meta])* child $name:ident in $table:literal key { $($k:tt)* } fields { $($f:tt)* }) => {
        record!(@struct $(#[$m])* $name, $table, true, {
            /// The event this row belongs to.
            pub event: EventRef,
        }, key { $($k)* } fields { $($f)* });
    };
    ($(#[$m:meta])* root $name:ident in $table:literal key { $($k:tt)* } fields { $($f:tt)* }) => {
        record!(@struct $(#[$m])* $name, $table, false, {}, key { $($k)* } fields { $($f)* });
    };
}

record! {
    /// One accident, incident or occurrence. Identified by `ev_id`, or by `ntsb_no`
    /// alone for CAROL cases whose event id is not known yet.
    root EventRecord in "events"
    key {
        /// NTSB event id, 14 characters.
        ev_id: Option<String>,
        /// NTSB case number, without a per-aircraft suffix.
        ntsb_no: Option<String>,
    }
    fields {
        /// `accident`, `incident`, `occurrence` or `unknown`.
        event_type: Option<String>,
        /// ISO date of the event.
        event_date: Option<String>,
        /// Local time `HH:MM`, where the source gives one.
        event_time: Option<String>,
        /// City or place name.
        city: Option<String>,
        /// Two-letter US state or territory code.
        state: Option<String>,
        /// Country name as NTSB spells it.
        country: Option<String>,
        /// The location text as the source wrote it.
        location_raw: Option<String>,
        /// Decimal degrees, validated.
        latitude: Option<f64>,
        /// Decimal degrees, validated.
        longitude: Option<f64>,
        /// Nearest airport identifier.
        airport_code: Option<String>,
        /// Nearest airport name.
        airport_name: Option<String>,
        /// `fatal`, `serious`, `minor`, `none` or `unknown`.
        highest_injury: Option<String>,
        /// The highest-injury text as the source wrote it (`Fatal(2)`, `FATL`).
        highest_injury_raw: Option<String>,
        /// People killed, whole event (never summed over aircraft rows).
        inj_fatal: Option<i64>,
        /// People seriously injured, whole event.
        inj_serious: Option<i64>,
        /// People with minor injuries, whole event.
        inj_minor: Option<i64>,
        /// People uninjured, whole event.
        inj_none: Option<i64>,
        /// `VMC`, `IMC` or `unknown`.
        weather: Option<String>,
        /// Weather text as the source wrote it.
        weather_raw: Option<String>,
        /// Light condition code (`DAYL`, `NDRK`, …).
        light_condition: Option<String>,
        /// Broad phase of flight of the (first) aircraft.
        phase: Option<String>,
        /// Report status as the source wrote it (`Preliminary`, `Probable Cause`, `Completed`).
        report_status: Option<String>,
        /// NTSB_Admin record status code (`B`, `F`, `P`).
        record_status: Option<String>,
        /// ISO date the report was published.
        publication_date: Option<String>,
        /// ISO date the record was approved (NTSB_Admin).
        approval_date: Option<String>,
        /// CAROL's case key.
        carol_mkey: Option<i64>,
        /// Whether NTSB issued safety recommendations.
        has_safety_rec: Option<bool>,
        /// Docket address, as published.
        docket_url: Option<String>,
        /// Report address, as published.
        report_url: Option<String>,
        /// True only for the synthetic demo sample.
        synthetic: Option<bool>,
    }
}

record! {
    /// One aircraft involved in an event.
    child AircraftRecord in "aircraft"
    key {
        /// 1-based aircraft number within the event.
        aircraft_key: i64,
    }
    fields {
        /// Case number of this aircraft (may carry an `A`/`B` suffix).
        ntsb_no: Option<String>,
        /// Registration (N-number).
        registration: Option<String>,
        /// Manufacturer serial number.
        serial_no: Option<String>,
        /// Normalised make (`CESSNA`).
        make: Option<String>,
        /// Make as the source wrote it.
        make_raw: Option<String>,
        /// Model as the source wrote it.
        model: Option<String>,
        /// Aircraft category code (`AIR`, `HELI`, …).
        category: Option<String>,
        /// Category as the source wrote it.
        category_raw: Option<String>,
        /// Amateur-built (homebuilt).
        amateur_built: Option<bool>,
        /// Number of engines.
        num_engines: Option<i64>,
        /// Engine type as the source wrote it.
        engine_type: Option<String>,
        /// FAR part code (`091`, `121`, `NUSC`, …).
        far_part: Option<String>,
        /// FAR part as the source wrote it.
        far_part_raw: Option<String>,
        /// Scheduled / non-scheduled code.
        schedule: Option<String>,
        /// Purpose of flight as the source wrote it.
        purpose: Option<String>,
        /// Operator or air carrier name.
        operator: Option<String>,
        /// `destroyed`, `substantial`, `minor`, `none` or `unknown`.
        damage: Option<String>,
        /// Damage as the source wrote it.
        damage_raw: Option<String>,
        /// Broad phase of flight.
        phase: Option<String>,
        /// Phase as the source wrote it.
        phase_raw: Option<String>,
    }
}

record! {
    /// One engine of an aircraft.
    child EngineRecord in "engines"
    key {
        /// Aircraft number within the event.
        aircraft_key: i64,
        /// Engine number on the aircraft.
        eng_no: i64,
    }
    fields {
        /// Engine type code (`REC`, `TF`, `TP`, …).
        eng_type: Option<String>,
        /// Engine manufacturer.
        eng_mfgr: Option<String>,
        /// Engine model.
        eng_model: Option<String>,
        /// Rated power.
        power_units: Option<i64>,
        /// Unit of `power_units`: `HP` or `LBS`.
        hp_or_lbs: Option<String>,
        /// `CARB` or `FINJ`.
        carb_fuel_injection: Option<String>,
        /// Propeller type code.
        propeller_type: Option<String>,
        /// Propeller make.
        propeller_make: Option<String>,
        /// Propeller model.
        propeller_model: Option<String>,
        /// Total engine hours.
        eng_time_total: Option<f64>,
        /// Hours since last inspection.
        eng_time_last_insp: Option<f64>,
        /// Hours since overhaul.
        eng_time_overhaul: Option<f64>,
    }
}

record! {
    /// One flight crew member.
    child CrewRecord in "flight_crew"
    key {
        /// Aircraft number within the event.
        aircraft_key: i64,
        /// Crew member number.
        crew_no: i64,
    }
    fields {
        /// Crew category code (`PLT`, `CPLT`, …).
        crew_category: Option<String>,
        /// Age in years.
        crew_age: Option<i64>,
        /// `M` or `F`.
        crew_sex: Option<String>,
        /// Medical certificate class code.
        med_certf: Option<String>,
        /// Medical certificate validity code.
        med_crtf_vldty: Option<String>,
        /// ISO date of the last medical.
        date_lst_med: Option<String>,
        /// Injury level of this crew member (normalised).
        crew_inj_level: Option<String>,
        /// Seat belt used.
        seatbelts_used: Option<bool>,
        /// Shoulder harness used.
        shldr_harn_used: Option<bool>,
        /// State of residence.
        crew_res_state: Option<String>,
        /// Biennial flight review current.
        bfr: Option<bool>,
        /// ISO date of the last flight review.
        bfr_date: Option<String>,
    }
}

record! {
    /// Flight hours of a crew member by kind of time and of aircraft.
    child FlightTimeRecord in "flight_time"
    key {
        /// Aircraft number within the event.
        aircraft_key: i64,
        /// Crew member number.
        crew_no: i64,
        /// Kind of time (`TOTL`, `PIC`, `L90D`, …).
        flight_type: String,
        /// Kind of aircraft (`ALL`, `MENG`, `MAKE`, …).
        flight_craft: String,
    }
    fields {
        /// Hours.
        flight_hours: Option<f64>,
    }
}

record! {
    /// How many people of one category suffered one injury level.
    child InjuryRecord in "injury"
    key {
        /// Aircraft number within the event.
        aircraft_key: i64,
        /// Person category code (`PLT`, `PAX`, `TOTL`, …).
        inj_person_category: String,
        /// Injury level code as NTSB writes it (`FATL`, `SERS`, `MINR`, `NONE`, `TOTL`).
        injury_level: String,
    }
    fields {
        /// Number of people.
        inj_person_count: Option<i64>,
    }
}

record! {
    /// One coded finding (2008 onwards), cited as cause or factor or neither.
    child FindingRecord in "findings"
    key {
        /// Aircraft number within the event.
        aircraft_key: i64,
        /// Finding number within the aircraft.
        finding_no: i64,
    }
    fields {
        /// Ten-digit finding code.
        finding_code: Option<String>,
        /// Finding text, decoded.
        finding_description: Option<String>,
        /// Category part of the code.
        category_no: Option<i64>,
        /// Subcategory part of the code.
        subcategory_no: Option<i64>,
        /// Section part of the code.
        section_no: Option<i64>,
        /// Subsection part of the code.
        subsection_no: Option<i64>,
        /// Modifier part of the code.
        modifier_no: Option<i64>,
        /// `cause`, `factor`, or `None` when neither.
        cause_factor: Option<String>,
    }
}

record! {
    /// One occurrence in the sequence of events, with its phase of flight.
    /// `code_system` says which of NTSB's eras the codes come from: `cictt`
    /// (`Events_Sequence`, 2008+) or `legacy` (`Occurrences`, 1982–2007).
    child OccurrenceRecord in "occurrences"
    key {
        /// Aircraft number within the event.
        aircraft_key: i64,
        /// `cictt` or `legacy`.
        code_system: String,
        /// Occurrence number within the aircraft.
        occurrence_no: i64,
    }
    fields {
        /// Occurrence code (CICTT `phase×1000+event`, or legacy code).
        occurrence_code: Option<String>,
        /// Occurrence meaning, decoded.
        occurrence_meaning: Option<String>,
        /// Phase code.
        phase_no: Option<i64>,
        /// Phase meaning, decoded.
        phase_meaning: Option<String>,
        /// Broad phase of flight, normalised.
        phase: Option<String>,
        /// CICTT event code.
        eventsoe_no: Option<i64>,
        /// Whether this is the defining event of the accident.
        defining_event: Option<bool>,
        /// Altitude (legacy occurrences).
        altitude: Option<i64>,
    }
}

record! {
    /// One step of the legacy (1982–2007) sequence of events, with its subject,
    /// modifier and person codes and whether it was a cause or a factor.
    child SequenceRecord in "sequence_of_events"
    key {
        /// Aircraft number within the event.
        aircraft_key: i64,
        /// Occurrence number the step belongs to.
        occurrence_no: i64,
        /// Step number.
        seq_event_no: i64,
    }
    fields {
        /// Group code (1–4).
        group_code: Option<String>,
        /// Subject code.
        subj_code: Option<String>,
        /// Subject meaning, decoded.
        subj_meaning: Option<String>,
        /// `cause`, `factor` or `None`.
        cause_factor: Option<String>,
        /// Modifier code.
        modifier_code: Option<String>,
        /// Person code.
        person_code: Option<String>,
    }
}

record! {
    /// Narrative text of an event (`aircraft_key` 0) or of one aircraft.
    child NarrativeRecord in "narratives"
    key {
        /// Aircraft number, or 0 for text that covers the whole event.
        aircraft_key: i64,
    }
    fields {
        /// Factual and analysis narrative.
        narrative: Option<String>,
        /// Preliminary narrative.
        preliminary: Option<String>,
        /// Probable cause statement.
        probable_cause: Option<String>,
        /// Findings as text (CAROL's comma-joined descriptions).
        findings_text: Option<String>,
    }
}

record! {
    /// One safety recommendation NTSB issued from an event.
    child RecommendationRecord in "safety_recommendations"
    key {
        /// Recommendation number within the event.
        rec_no: i64,
    }
    fields {
        /// Recommendation text.
        recommendation: Option<String>,
    }
}

record! {
    /// Full text of a published report document.
    child ReportRecord in "reports"
    key {
        /// Document name (file name in the source).
        document: String,
    }
    fields {
        /// Report type as published.
        report_type: Option<String>,
        /// Full text.
        text: Option<String>,
    }
}

record! {
    /// One code of NTSB's code tables and data dictionary, with its meaning.
    root CodeRecord in "code_entries"
    key {
        /// Code table name (`ct_fars`, `ct_seqevt`, `states`, …).
        ct_name: String,
        /// The code.
        code: String,
        /// NTSB table the code is used in, or empty.
        table_name: String,
        /// NTSB column the code is used in, or empty.
        column_name: String,
    }
    fields {
        /// What the code means.
        meaning: Option<String>,
        /// Short description of the column.
        short_desc: Option<String>,
    }
}

record! {
    /// A known pairing of event id and case number (the crosswalk), used to match
    /// sources that carry only one of them.
    root IdLinkRecord in "event_keys"
    key {
        /// NTSB event id.
        ev_id: String,
        /// NTSB case number, as given (suffix kept).
        ntsb_no: String,
    }
    fields {
        /// ISO event date.
        event_date: Option<String>,
    }
}

/// Any record a reader can produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Record {
    Event(EventRecord),
    /// Fields of an event that must already exist (NTSB_Admin status rows): a
    /// store rejects it, naming the event, instead of creating the event.
    EventUpdate(EventRecord),
    Aircraft(AircraftRecord),
    Engine(EngineRecord),
    Crew(CrewRecord),
    FlightTime(FlightTimeRecord),
    Injury(InjuryRecord),
    Finding(FindingRecord),
    Occurrence(OccurrenceRecord),
    Sequence(SequenceRecord),
    Narrative(NarrativeRecord),
    Recommendation(RecommendationRecord),
    Report(ReportRecord),
    Code(CodeRecord),
    IdLink(IdLinkRecord),
}

/// A record split into what every store needs to upsert it generically.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordParts {
    /// Table description.
    pub spec: &'static TableSpec,
    /// Owning event, for child tables.
    pub event: Option<EventRef>,
    /// Key values, in `spec.key_columns` order.
    pub key: Vec<Value>,
    /// Data values, in `spec.columns` order.
    pub values: Vec<Value>,
    /// The record may only update an existing row, never create one.
    pub update_only: bool,
}

impl Record {
    /// The spec of this record's table.
    pub fn spec(&self) -> &'static TableSpec {
        match self {
            Record::Event(_) | Record::EventUpdate(_) => &EventRecord::SPEC,
            Record::Aircraft(_) => &AircraftRecord::SPEC,
            Record::Engine(_) => &EngineRecord::SPEC,
            Record::Crew(_) => &CrewRecord::SPEC,
            Record::FlightTime(_) => &FlightTimeRecord::SPEC,
            Record::Injury(_) => &InjuryRecord::SPEC,
            Record::Finding(_) => &FindingRecord::SPEC,
            Record::Occurrence(_) => &OccurrenceRecord::SPEC,
            Record::Sequence(_) => &SequenceRecord::SPEC,
            Record::Narrative(_) => &NarrativeRecord::SPEC,
            Record::Recommendation(_) => &RecommendationRecord::SPEC,
            Record::Report(_) => &ReportRecord::SPEC,
            Record::Code(_) => &CodeRecord::SPEC,
            Record::IdLink(_) => &IdLinkRecord::SPEC,
        }
    }

    /// Splits the record for a generic upsert.
    pub fn into_parts(self) -> RecordParts {
        let spec = self.spec();
        let update_only = matches!(self, Record::EventUpdate(_));
        let (event, (key, values)) = match self {
            Record::Event(r) | Record::EventUpdate(r) => (None, r.into_values()),
            Record::Code(r) => (None, r.into_values()),
            Record::IdLink(r) => (None, r.into_values()),
            Record::Aircraft(r) => (Some(r.event.clone()), r.into_values()),
            Record::Engine(r) => (Some(r.event.clone()), r.into_values()),
            Record::Crew(r) => (Some(r.event.clone()), r.into_values()),
            Record::FlightTime(r) => (Some(r.event.clone()), r.into_values()),
            Record::Injury(r) => (Some(r.event.clone()), r.into_values()),
            Record::Finding(r) => (Some(r.event.clone()), r.into_values()),
            Record::Occurrence(r) => (Some(r.event.clone()), r.into_values()),
            Record::Sequence(r) => (Some(r.event.clone()), r.into_values()),
            Record::Narrative(r) => (Some(r.event.clone()), r.into_values()),
            Record::Recommendation(r) => (Some(r.event.clone()), r.into_values()),
            Record::Report(r) => (Some(r.event.clone()), r.into_values()),
        };
        RecordParts { spec, event, key, values, update_only }
    }

    /// Every table spec, parents before children: the order a store must create
    /// tables in and a loader should write them in.
    pub const ALL_SPECS: [&'static TableSpec; 14] = [
        &CodeRecord::SPEC,
        &IdLinkRecord::SPEC,
        &EventRecord::SPEC,
        &AircraftRecord::SPEC,
        &EngineRecord::SPEC,
        &CrewRecord::SPEC,
        &FlightTimeRecord::SPEC,
        &InjuryRecord::SPEC,
        &FindingRecord::SPEC,
        &OccurrenceRecord::SPEC,
        &SequenceRecord::SPEC,
        &NarrativeRecord::SPEC,
        &RecommendationRecord::SPEC,
        &ReportRecord::SPEC,
    ];
}

/// A record a reader or store refused, with where it was and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// File the record came from.
    pub file: String,
    /// 1-based line (CSV record number counting the header as line 1, or JSON
    /// element number).
    pub line: u64,
    /// The offending field, when one field is to blame.
    pub field: Option<String>,
    /// Why the record was refused, in one sentence.
    pub reason: String,
    /// Table the record was meant for, when known.
    pub table: Option<String>,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(field) = &self.field {
            write!(f, ": field {field}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A record with the source line it came from, so a store can reject it precisely.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcedRecord {
    /// 1-based line or element number in the source file.
    pub line: u64,
    /// The record.
    pub record: Record,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_values_line_up() {
        let r = Record::Engine(EngineRecord {
            event: EventRef::EvId("20080107X00026".into()),
            aircraft_key: 2,
            eng_no: 1,
            eng_type: Some("REC".into()),
            power_units: Some(180),
            ..Default::default()
        });
        let parts = r.into_parts();
        assert_eq!(parts.spec.name, "engines");
        assert_eq!(parts.key, vec![Value::Int(2), Value::Int(1)]);
        assert_eq!(parts.values.len(), parts.spec.columns.len());
        assert_eq!(parts.values[0], Value::Text("REC".into()));
        assert_eq!(parts.event, Some(EventRef::EvId("20080107X00026".into())));
    }

    #[test]
    fn every_spec_has_distinct_columns() {
        for spec in Record::ALL_SPECS {
            let mut all: Vec<&str> = spec.key_columns.iter().chain(spec.columns).copied().collect();
            let n = all.len();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), n, "{} repeats a column", spec.name);
        }
    }
}
