//! Reader for NTSB's flat "AviationData" export (`Event.Id` … `Publication.Date`).
//!
//! The export has ONE ROW PER AIRCRAFT: a multi-aircraft event repeats the event's
//! fields, including its injury totals, on every row. The reader therefore emits an
//! [`AircraftRecord`] for every row but an [`EventRecord`] only for the first row of
//! each event, so event totals are never counted twice. Aircraft are numbered as
//! NTSB numbers them, by the case number's letter suffix (`…063A` is 1, `…063B` is
//! 2), because rows do not come in that order (the 2017 export lists B before A)
//! and other sources (avall) key the same aircraft by that number; rows without a
//! suffix are numbered in order of appearance.
//!
//! Rows of one event are adjacent in every release measured (the 2017-03-28 export:
//! 79,557 rows, 78,405 events, no event reappearing after another one), but nothing
//! guarantees it, so the reader keeps a map from event id to the next aircraft number:
//! memory grows with the number of events (a few MB for the whole database), not rows.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use ntsb_model::SourceKind;
use ntsb_model::normalize;
use ntsb_model::records::{AircraftRecord, EventRecord, EventRef, Record};
use ntsb_model::vocab::{Damage, EventType, InjuryLevel, Phase, Weather, far_part};

use crate::csv_rows::{CsvStream, Row, file_label};
use crate::{Error, RecordStream, Result};

/// Columns without which a file is not an AviationData export.
const REQUIRED: &[&str] = &["Event.Id", "Investigation.Type", "Accident.Number"];

/// Opens an AviationData CSV export as a stream of event and aircraft records.
pub fn open(path: &Path) -> Result<Box<dyn RecordStream>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut mapper = AviationDataMapper::default();
    let stream = CsvStream::new(
        BufReader::new(file),
        path,
        file_label(path),
        "aircraft",
        SourceKind::AviationData,
        REQUIRED,
        move |row: &mut Row<'_>| mapper.map(row),
    )?;
    Ok(Box::new(stream))
}

/// Maps AviationData rows to records, remembering how many aircraft of each event
/// it has seen.
#[derive(Debug, Default)]
struct AviationDataMapper {
    next_key: HashMap<String, i64>,
}

impl AviationDataMapper {
    /// Records of one row: the aircraft, preceded by the event on its first row.
    /// A row with a bad field yields nothing and does not use up an aircraft number.
    fn map(&mut self, row: &mut Row<'_>) -> Vec<Record> {
        check_width(row);
        let ev_id = row.ev_id("Event.Id");
        let event = event_fields(row, &ev_id);
        let mut aircraft = aircraft_fields(row);
        if row.problem.is_some() {
            return Vec::new();
        }
        let seen = self.next_key.entry(ev_id.clone()).or_insert(0);
        *seen += 1;
        let first_row = *seen == 1;
        aircraft.aircraft_key = normalize::aircraft_number_of(row.raw("Accident.Number")).unwrap_or(*seen);
        aircraft.event = EventRef::EvId(ev_id);
        if first_row {
            vec![Record::Event(event), Record::Aircraft(aircraft)]
        } else {
            vec![Record::Aircraft(aircraft)]
        }
    }
}

/// Notes a row whose field count differs from the header's: in these fixed-layout
/// exports that means broken quoting swallowed or split fields, so no field can be
/// trusted.
pub(crate) fn check_width(row: &mut Row<'_>) {
    let (got, want) = (row.record.len(), row.header.names().len());
    if got != want {
        let column = row.header.names().get(got.min(want.saturating_sub(1))).cloned().unwrap_or_default();
        row.note(&column, format!("is misplaced: the row has {got} fields, the header {want} (broken quoting?)"));
    }
}

/// Event-level fields of a row (identical on every row of the event).
fn event_fields(row: &mut Row<'_>, ev_id: &str) -> EventRecord {
    let country = row.text("Country");
    let location = row.text("Location");
    let in_us = country.as_deref().is_some_and(normalize::is_united_states);
    let (latitude, longitude) = coordinates(row, "Latitude", "Longitude");
    let (fatal, serious, minor, none) = (
        row.int("Total.Fatal.Injuries"),
        row.int("Total.Serious.Injuries"),
        row.int("Total.Minor.Injuries"),
        row.int("Total.Uninjured"),
    );
    let severity = row.text("Injury.Severity");
    let weather_raw = row.text("Weather.Condition");
    EventRecord {
        ev_id: Some(ev_id.to_string()),
        ntsb_no: row.text("Accident.Number").map(|n| normalize::base_ntsb_no(&n)),
        event_type: EventType::parse(row.raw("Investigation.Type")).map(|t| t.as_str().to_string()),
        event_date: row.date("Event.Date"),
        city: location.as_deref().and_then(normalize::city_from_location),
        state: if in_us { location.as_deref().and_then(normalize::state_from_location) } else { None },
        country,
        location_raw: location,
        latitude,
        longitude,
        airport_code: row.text("Airport.Code"),
        airport_name: row.text("Airport.Name"),
        highest_injury: highest_injury(severity.as_deref(), fatal, serious, minor, none)
            .map(|l| l.as_str().to_string()),
        highest_injury_raw: severity,
        inj_fatal: fatal,
        inj_serious: serious,
        inj_minor: minor,
        inj_none: none,
        weather: weather_raw.as_deref().and_then(Weather::parse).map(|w| w.as_str().to_string()),
        weather_raw,
        phase: Phase::parse(row.raw("Broad.Phase.of.Flight")).map(|p| p.as_str().to_string()),
        report_status: row.text("Report.Status"),
        publication_date: row.date("Publication.Date"),
        ..Default::default()
    }
}

/// Aircraft-level fields of a row; the caller fills in the event and the key.
fn aircraft_fields(row: &mut Row<'_>) -> AircraftRecord {
    let make_raw = row.text("Make");
    let category_raw = row.text("Aircraft.Category");
    let far_raw = row.text("FAR.Description");
    let damage_raw = row.text("Aircraft.Damage");
    let phase_raw = row.text("Broad.Phase.of.Flight");
    AircraftRecord {
        ntsb_no: row.text("Accident.Number"),
        registration: row.text("Registration.Number"),
        make: make_raw.as_deref().and_then(normalize::make_name),
        make_raw,
        model: row.text("Model"),
        category: category_raw.as_deref().and_then(category_code).map(str::to_string),
        category_raw,
        amateur_built: normalize::yes_no(row.raw("Amateur.Built")),
        num_engines: row.int("Number.of.Engines"),
        engine_type: row.text("Engine.Type"),
        far_part: far_raw.as_deref().and_then(far_part),
        far_part_raw: far_raw,
        schedule: row.text("Schedule"),
        purpose: row.text("Purpose.of.Flight"),
        operator: row.text("Air.Carrier"),
        damage: damage_raw.as_deref().and_then(Damage::parse).map(|d| d.as_str().to_string()),
        damage_raw,
        phase: phase_raw.as_deref().and_then(Phase::parse).map(|p| p.as_str().to_string()),
        phase_raw,
        ..Default::default()
    }
}

/// The worst injury of an event. `Injury.Severity` says `Fatal(2)` precisely, but
/// `Non-Fatal`, `Incident` and blanks only say "not fatal" (or nothing), and
/// `Unavailable` says nothing: then the injury totals decide.
pub(crate) fn highest_injury(
    severity: Option<&str>,
    fatal: Option<i64>,
    serious: Option<i64>,
    minor: Option<i64>,
    none: Option<i64>,
) -> Option<InjuryLevel> {
    let stated = severity.and_then(InjuryLevel::parse);
    match stated {
        Some(InjuryLevel::Unknown) | None => InjuryLevel::from_counts(fatal, serious, minor, none).or(stated),
        Some(level) => Some(level),
    }
}

/// A validated coordinate pair from two columns. A value that is present but is
/// not a coordinate is the row's problem; `0, 0` placeholders become unknown.
pub(crate) fn coordinates(row: &mut Row<'_>, lat_column: &str, lon_column: &str) -> (Option<f64>, Option<f64>) {
    let lat = coordinate(row, lat_column, normalize::latitude, "latitude");
    let lon = coordinate(row, lon_column, normalize::longitude, "longitude");
    normalize::coordinate_pair(lat, lon)
}

fn coordinate(row: &mut Row<'_>, column: &str, parse: fn(&str) -> Option<f64>, what: &str) -> Option<f64> {
    let raw = row.raw(column);
    if raw.trim().is_empty() {
        return None;
    }
    let value = parse(raw);
    if value.is_none() {
        row.note(column, format!("{raw:?} is not a valid {what}"));
    }
    value
}

/// NTSB's aircraft category code (`ct_acft_category`) for a category written as a
/// word (AviationData: `Airplane`, `Weight-Shift`) or already as a code (CAROL: `AIR`).
pub fn category_code(raw: &str) -> Option<&'static str> {
    Some(match raw.trim().to_ascii_lowercase().as_str() {
        "airplane" | "air" => "AIR",
        "helicopter" | "heli" => "HELI",
        "glider" | "gli" => "GLI",
        "balloon" | "ball" => "BALL",
        "gyrocraft" | "gyroplane" | "gyro" => "GYRO",
        "weight-shift" | "weight shift" | "wsft" => "WSFT",
        "powered parachute" | "powered-parachute" | "ppar" => "PPAR",
        "ultralight" | "ultr" | "ulgt" => "ULTR",
        "blimp" | "blim" => "BLIM",
        "powered-lift" | "powered lift" | "plft" => "PLFT",
        "rocket" | "rckt" => "RCKT",
        "unknown" | "unk" => "UNK",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_from_words_and_codes() {
        assert_eq!(category_code("Airplane"), Some("AIR"));
        assert_eq!(category_code("Weight-Shift"), Some("WSFT"));
        assert_eq!(category_code("Powered Parachute"), Some("PPAR"));
        assert_eq!(category_code("HELI"), Some("HELI"));
        assert_eq!(category_code("Unknown"), Some("UNK"));
        assert_eq!(category_code("Zeppelin"), None);
    }

    #[test]
    fn highest_injury_prefers_a_stated_level_then_counts() {
        let f = |s, c: [Option<i64>; 4]| highest_injury(s, c[0], c[1], c[2], c[3]);
        assert_eq!(f(Some("Fatal(2)"), [Some(0), None, None, None]), Some(InjuryLevel::Fatal));
        assert_eq!(f(Some("Non-Fatal"), [Some(0), Some(1), Some(2), None]), Some(InjuryLevel::Serious));
        assert_eq!(f(Some("Incident"), [Some(0), Some(0), Some(0), Some(5)]), Some(InjuryLevel::None));
        assert_eq!(f(None, [None, None, Some(1), None]), Some(InjuryLevel::Minor));
        assert_eq!(f(Some("Unavailable"), [None; 4]), Some(InjuryLevel::Unknown));
        assert_eq!(f(Some("Non-Fatal"), [None; 4]), None);
    }
}
