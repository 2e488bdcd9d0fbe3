//! Reader for the tables of NTSB's relational database (`avall.mdb`,
//! `Pre2008.mdb`) as `mdb-export` writes them: one CSV per table, quoted strings,
//! Access dates `MM/DD/YY HH:MM:SS`.
//!
//! Each table maps to one record type (the `events_aircraft_basic` extract to an
//! event and an aircraft). Columns are looked up without regard to case, since
//! NTSB spells them both ways (`Aircraft_Key`, `aircraft_key`). A bad value in a
//! typed column rejects its row, naming the field; other rows keep loading.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use ntsb_model::SourceKind;
use ntsb_model::normalize;
use ntsb_model::records::*;
use ntsb_model::vocab::{Damage, EventType, InjuryLevel, Phase, Weather, far_part};

use crate::AvallTable;
use crate::csv_rows::{CsvStream, Row, file_label};
use crate::{Error, RecordStream, Result};

/// Opens one exported table from a CSV file.
pub fn open(path: &Path, table: AvallTable) -> Result<Box<dyn RecordStream>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    stream_table(BufReader::with_capacity(1 << 16, file), path, file_label(path), table)
}

/// Streams one table from any byte source (a file, or `mdb-export`'s stdout for
/// Access databases). `label` names the source in rejects (`avall.mdb:events`).
pub fn stream_table<R: Read + 'static>(
    input: R,
    path: &Path,
    label: String,
    table: AvallTable,
) -> Result<Box<dyn RecordStream>> {
    let (name, required, map) = table_plan(table);
    let checked = move |row: &mut Row| -> Vec<Record> {
        check_width(row);
        map(row)
    };
    let stream = CsvStream::new(input, path, label, name, SourceKind::Avall, required, checked)?;
    Ok(Box::new(stream))
}

/// How one row becomes records.
type MapFn = fn(&mut Row) -> Vec<Record>;

/// Table name for rejects, required columns and row mapping of each table.
fn table_plan(table: AvallTable) -> (&'static str, &'static [&'static str], MapFn) {
    use AvallTable::*;
    const KEY: &[&str] = &["ev_id", "Aircraft_Key"];
    match table {
        Events => ("events", &["ev_id"], map_event),
        EventsAircraftBasic => ("events_aircraft_basic", KEY, map_event_aircraft_basic),
        Aircraft => ("aircraft", KEY, map_aircraft),
        Engines => ("engines", &["ev_id", "Aircraft_Key", "eng_no"], map_engine),
        FlightCrew => ("Flight_Crew", &["ev_id", "Aircraft_Key", "crew_no"], map_crew),
        FlightTime => ("flight_time", &["ev_id", "Aircraft_Key", "crew_no"], map_flight_time),
        Injury => ("injury", &["ev_id", "Aircraft_Key", "inj_person_category", "injury_level"], map_injury),
        Findings => ("Findings", &["ev_id", "Aircraft_Key", "finding_no"], map_finding),
        EventsSequence => ("Events_Sequence", &["ev_id", "Aircraft_Key", "Occurrence_No"], map_events_sequence),
        Occurrences => ("Occurrences", &["ev_id", "Aircraft_Key", "Occurrence_No"], map_occurrence),
        SeqOfEvents => ("seq_of_events", &["ev_id", "Aircraft_Key", "Occurrence_No", "seq_event_no"], map_sequence),
        Narratives => ("narratives", &["ev_id"], map_narrative),
        NtsbAdmin => ("NTSB_Admin", &["ev_id"], map_admin),
    }
}

/// `mdb-export` writes every field of every row, so a row whose field count
/// differs from the header's has broken quoting and no field can be trusted.
fn check_width(row: &mut Row) {
    let (got, want) = (row.record.len(), row.header.names().len());
    if got != want {
        let column = row.header.names().get(got.min(want.saturating_sub(1))).cloned().unwrap_or_default();
        row.note(&column, format!("is misplaced: the row has {got} fields, the header {want} (broken quoting?)"));
    }
}

fn event_ref(row: &mut Row) -> EventRef {
    EventRef::EvId(row.event_id("ev_id"))
}

/// Local time from Access's `HHMM` integer (`1415` → `14:15`); `None` when out of range.
pub fn hhmm(value: Option<i64>) -> Option<String> {
    let v = value?;
    let (h, m) = (v / 100, v % 100);
    ((0..24).contains(&h) && (0..60).contains(&m)).then(|| format!("{h:02}:{m:02}"))
}

/// `C` → `cause`, `F` → `factor`, blank or anything else → `None`.
pub fn cause_factor(raw: &str) -> Option<String> {
    match raw.trim().to_ascii_uppercase().as_str() {
        "C" => Some("cause".into()),
        "F" => Some("factor".into()),
        _ => None,
    }
}

/// Broad phase of a CICTT `phase_no` (`Events_Sequence`, 2008+): 100 prior to
/// flight … 990 unknown. These codes differ from the legacy `ct_phase_flt_spec`.
pub fn cictt_phase(code: i64) -> Option<Phase> {
    Some(match code {
        100..=199 => Phase::Standing,
        200..=299 => Phase::Taxi,
        300..=349 => Phase::Takeoff,
        350..=399 | 401 => Phase::Climb,
        404 => Phase::Descent,
        405 => Phase::Maneuvering,
        400..=449 => Phase::Cruise,
        453 => Phase::Hover,
        450..=499 => Phase::Maneuvering,
        504 | 509 => Phase::GoAround,
        500..=549 => Phase::Approach,
        550..=599 => Phase::Landing,
        600..=699 => Phase::Descent,
        700..=899 => Phase::Other,
        990..=999 => Phase::Unknown,
        _ => return None,
    })
}

fn injury_level(raw: Option<&String>) -> Option<String> {
    raw.and_then(|s| InjuryLevel::parse(s)).map(|l| l.as_str().to_string())
}

fn upper(row: &Row, column: &str) -> Option<String> {
    row.text(column).map(|s| s.to_ascii_uppercase())
}

fn map_event(row: &mut Row) -> Vec<Record> {
    let ev_id = row.event_id("ev_id");
    let event_date = row.date("ev_date");
    let event_time = hhmm(row.int("ev_time"));
    let (lat, lon) = coordinates(row);
    let highest_raw = row.text("ev_highest_injury");
    let weather_raw = row.text("wx_cond_basic");
    let inj_fatal = row.int("inj_tot_f");
    let inj_serious = row.int("inj_tot_s");
    let inj_minor = row.int("inj_tot_m");
    let inj_none = row.int("inj_tot_n");
    let country =
        row.text("ev_country").map(|c| if normalize::is_united_states(&c) { "United States".into() } else { c });
    vec![Record::Event(EventRecord {
        ev_id: Some(ev_id),
        ntsb_no: row.text("ntsb_no"),
        event_type: row.text("ev_type").and_then(|t| EventType::parse(&t)).map(|t| t.as_str().to_string()),
        event_date,
        event_time,
        city: row.text("ev_city"),
        state: normalize::state_code(row.raw("ev_state")),
        country,
        latitude: lat,
        longitude: lon,
        airport_code: row.text("ev_nr_apt_id"),
        airport_name: row.text("apt_name"),
        highest_injury: injury_level(highest_raw.as_ref()),
        highest_injury_raw: highest_raw,
        inj_fatal,
        inj_serious,
        inj_minor,
        inj_none,
        weather: weather_raw.as_deref().and_then(Weather::parse).map(|w| w.as_str().to_string()),
        weather_raw,
        light_condition: upper(row, "light_cond"),
        ..Default::default()
    })]
}

/// Decimal `dec_latitude`/`dec_longitude` when the table has them and they are
/// valid, else the DMS `latitude`/`longitude` strings (`0413500N`). Invalid
/// coordinates are dropped rather than rejecting the event.
fn coordinates(row: &Row) -> (Option<f64>, Option<f64>) {
    let decimal = normalize::coordinate_pair(
        normalize::latitude(row.raw("dec_latitude")),
        normalize::longitude(row.raw("dec_longitude")),
    );
    if decimal.0.is_some() {
        return decimal;
    }
    normalize::coordinate_pair(normalize::latitude(row.raw("latitude")), normalize::longitude(row.raw("longitude")))
}

fn map_event_aircraft_basic(row: &mut Row) -> Vec<Record> {
    let ev_id = row.event_id("ev_id");
    let event_date = row.date("ev_date");
    let aircraft_key = row.required_int("Aircraft_Key");
    let highest_raw = row.text("ev_highest_injury");
    let make_raw = row.text("acft_make");
    vec![
        Record::Event(EventRecord {
            ev_id: Some(ev_id.clone()),
            event_date,
            highest_injury: injury_level(highest_raw.as_ref()),
            highest_injury_raw: highest_raw,
            ..Default::default()
        }),
        Record::Aircraft(AircraftRecord {
            event: EventRef::EvId(ev_id),
            aircraft_key,
            make: make_raw.as_deref().and_then(normalize::make_name),
            make_raw,
            model: row.text("acft_model"),
            ..Default::default()
        }),
    ]
}

fn map_aircraft(row: &mut Row) -> Vec<Record> {
    let event = event_ref(row);
    let aircraft_key = row.required_int("Aircraft_Key");
    let num_engines = row.int("num_eng");
    let make_raw = row.text("acft_make");
    let category_raw = row.text("acft_category");
    let far_raw = row.text("far_part");
    let damage_raw = row.text("damage");
    let phase_raw = row.text("phase_flt_spec");
    vec![Record::Aircraft(AircraftRecord {
        event,
        aircraft_key,
        ntsb_no: row.text("ntsb_no"),
        registration: row.text("regis_no"),
        serial_no: row.text("acft_serial_no"),
        make: make_raw.as_deref().and_then(normalize::make_name),
        make_raw,
        model: row.text("acft_model"),
        category: category_raw.as_ref().map(|c| c.to_ascii_uppercase()),
        category_raw,
        amateur_built: normalize::yes_no(row.raw("homebuilt")),
        num_engines,
        far_part: far_raw.as_deref().and_then(far_part),
        far_part_raw: far_raw,
        schedule: upper(row, "oper_sched"),
        purpose: row.text("type_fly"),
        operator: row.text("oper_name"),
        damage: damage_raw.as_deref().and_then(Damage::parse).map(|d| d.as_str().to_string()),
        damage_raw,
        phase: phase_raw.as_deref().and_then(Phase::parse).map(|p| p.as_str().to_string()),
        phase_raw,
        ..Default::default()
    })]
}

fn map_engine(row: &mut Row) -> Vec<Record> {
    vec![Record::Engine(EngineRecord {
        event: event_ref(row),
        aircraft_key: row.required_int("Aircraft_Key"),
        eng_no: row.required_int("eng_no"),
        eng_type: row.text("eng_type"),
        eng_mfgr: row.text("eng_mfgr"),
        eng_model: row.text("eng_model"),
        power_units: row.int("power_units"),
        hp_or_lbs: row.text("hp_or_lbs"),
        carb_fuel_injection: row.text("carb_fuel_injection"),
        propeller_type: row.text("propeller_type"),
        propeller_make: row.text("propeller_make"),
        propeller_model: row.text("propeller_model"),
        eng_time_total: row.real("eng_time_total"),
        eng_time_last_insp: row.real("eng_time_last_insp"),
        eng_time_overhaul: row.real("eng_time_overhaul"),
    })]
}

fn map_crew(row: &mut Row) -> Vec<Record> {
    let inj = row.text("crew_inj_level");
    vec![Record::Crew(CrewRecord {
        event: event_ref(row),
        aircraft_key: row.required_int("Aircraft_Key"),
        crew_no: row.required_int("crew_no"),
        crew_category: row.text("crew_category"),
        crew_age: row.int("crew_age"),
        crew_sex: upper(row, "crew_sex"),
        med_certf: row.text("med_certf"),
        med_crtf_vldty: row.text("med_crtf_vldty"),
        date_lst_med: row.date("date_lst_med"),
        crew_inj_level: injury_level(inj.as_ref()),
        seatbelts_used: normalize::yes_no(row.raw("seatbelts_used")),
        shldr_harn_used: normalize::yes_no(row.raw("shldr_harn_used")),
        crew_res_state: row.text("crew_res_state"),
        bfr: normalize::yes_no(row.raw("bfr")),
        bfr_date: row.date("bfr_date"),
    })]
}

/// A key text column: missing is the row's problem.
fn required_text(row: &mut Row, column: &str) -> String {
    match row.text(column) {
        Some(v) => v,
        None => {
            row.note(column, "is required".to_string());
            String::new()
        }
    }
}

fn map_flight_time(row: &mut Row) -> Vec<Record> {
    vec![Record::FlightTime(FlightTimeRecord {
        event: event_ref(row),
        aircraft_key: row.required_int("Aircraft_Key"),
        crew_no: row.required_int("crew_no"),
        flight_type: required_text(row, "flight_type"),
        flight_craft: required_text(row, "flight_craft"),
        flight_hours: row.real("flight_hours"),
    })]
}

fn map_injury(row: &mut Row) -> Vec<Record> {
    vec![Record::Injury(InjuryRecord {
        event: event_ref(row),
        aircraft_key: row.required_int("Aircraft_Key"),
        inj_person_category: required_text(row, "inj_person_category"),
        injury_level: required_text(row, "injury_level"),
        inj_person_count: row.int("inj_person_count"),
    })]
}

fn map_finding(row: &mut Row) -> Vec<Record> {
    vec![Record::Finding(FindingRecord {
        event: event_ref(row),
        aircraft_key: row.required_int("Aircraft_Key"),
        finding_no: row.required_int("finding_no"),
        finding_code: row.text("finding_code"),
        finding_description: row.text("finding_description"),
        category_no: row.int("category_no"),
        subcategory_no: row.int("subcategory_no"),
        section_no: row.int("section_no"),
        subsection_no: row.int("subsection_no"),
        modifier_no: row.int("modifier_no"),
        cause_factor: cause_factor(row.raw("Cause_Factor")),
    })]
}

fn map_events_sequence(row: &mut Row) -> Vec<Record> {
    let phase_no = row.int("phase_no");
    let phase_meaning = row.text("phase_meaning");
    let phase = phase_meaning.as_deref().and_then(Phase::parse).or_else(|| phase_no.and_then(cictt_phase));
    let occurrence_meaning = row.text("occurrence_meaning").or_else(|| row.text("Occurrence_Description"));
    vec![Record::Occurrence(OccurrenceRecord {
        event: event_ref(row),
        aircraft_key: row.required_int("Aircraft_Key"),
        code_system: "cictt".into(),
        occurrence_no: row.required_int("Occurrence_No"),
        occurrence_code: row.text("Occurrence_Code"),
        occurrence_meaning,
        phase_no,
        phase_meaning,
        phase: phase.map(|p| p.as_str().to_string()),
        eventsoe_no: row.int("eventsoe_no"),
        defining_event: normalize::yes_no(row.raw("Defining_ev")),
        altitude: None,
    })]
}

fn map_occurrence(row: &mut Row) -> Vec<Record> {
    let phase_no = row.int("Phase_of_Flight");
    let phase = phase_no.and_then(|n| u32::try_from(n).ok()).and_then(Phase::from_code);
    vec![Record::Occurrence(OccurrenceRecord {
        event: event_ref(row),
        aircraft_key: row.required_int("Aircraft_Key"),
        code_system: "legacy".into(),
        occurrence_no: row.required_int("Occurrence_No"),
        occurrence_code: row.text("Occurrence_Code"),
        phase_no,
        phase: phase.map(|p| p.as_str().to_string()),
        altitude: row.int("Altitude"),
        ..Default::default()
    })]
}

fn map_sequence(row: &mut Row) -> Vec<Record> {
    vec![Record::Sequence(SequenceRecord {
        event: event_ref(row),
        aircraft_key: row.required_int("Aircraft_Key"),
        occurrence_no: row.required_int("Occurrence_No"),
        seq_event_no: row.required_int("seq_event_no"),
        group_code: row.text("group_code"),
        subj_code: row.text("Subj_Code"),
        subj_meaning: None,
        cause_factor: cause_factor(row.raw("Cause_Factor")),
        modifier_code: row.text("Modifier_Code"),
        person_code: row.text("Person_Code"),
    })]
}

fn map_narrative(row: &mut Row) -> Vec<Record> {
    let event = event_ref(row);
    let aircraft_key = row.int("Aircraft_Key").unwrap_or(0);
    let narrative = row.text("narr_accf").or_else(|| row.text("narr_inc"));
    let preliminary = row.text("narr_accp");
    let probable_cause = row.text("narr_cause");
    if narrative.is_none() && preliminary.is_none() && probable_cause.is_none() {
        return Vec::new();
    }
    vec![Record::Narrative(NarrativeRecord {
        event,
        aircraft_key,
        narrative,
        preliminary,
        probable_cause,
        findings_text: None,
    })]
}

fn map_admin(row: &mut Row) -> Vec<Record> {
    let ev_id = row.event_id("ev_id");
    let approval_date = row.date("approval_date");
    // Status rows describe events; they must never create one.
    vec![Record::EventUpdate(EventRecord {
        ev_id: Some(ev_id),
        record_status: upper(row, "rec_stat"),
        approval_date,
        ..Default::default()
    })]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_cause_factor() {
        assert_eq!(hhmm(Some(1415)).as_deref(), Some("14:15"));
        assert_eq!(hhmm(Some(5)).as_deref(), Some("00:05"));
        assert_eq!(hhmm(Some(2460)), None);
        assert_eq!(hhmm(Some(-1)), None);
        assert_eq!(cause_factor(" c").as_deref(), Some("cause"));
        assert_eq!(cause_factor("F").as_deref(), Some("factor"));
        assert_eq!(cause_factor(" "), None);
    }

    #[test]
    fn cictt_phase_codes() {
        assert_eq!(cictt_phase(100), Some(Phase::Standing));
        assert_eq!(cictt_phase(350), Some(Phase::Climb));
        assert_eq!(cictt_phase(402), Some(Phase::Cruise));
        assert_eq!(cictt_phase(509), Some(Phase::GoAround));
        assert_eq!(cictt_phase(553), Some(Phase::Landing));
        assert_eq!(cictt_phase(990), Some(Phase::Unknown));
        assert_eq!(cictt_phase(42), None);
    }
}
