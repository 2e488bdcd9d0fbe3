//! The rows of an event detail, mapped once for both backends. How they are
//! read differs on purpose: SQLite reads one event's rows on the calling thread
//! (`sqlite/query.rs`), PostgreSQL reads each table once for a whole set of
//! events, with `event_id` first (`postgres/detail.rs`). Each mapper takes the
//! column its first field is in.

use ntsb_model::query::{
    AircraftDetail, CrewDetail, EngineDetail, FindingDetail, InjuryDetail, OccurrenceDetail, RevisionDetail, SourceRef,
};

use super::Row;
use crate::Result;

/// `aircraft_key, ntsb_no, registration, serial_no, make, make_raw, model, category,
/// category_raw, amateur_built, num_engines, engine_type, far_part, far_part_raw,
/// schedule, purpose, operator, damage, damage_raw, phase, phase_raw`.
pub(crate) fn aircraft(r: &dyn Row, at: usize) -> Result<AircraftDetail> {
    Ok(AircraftDetail {
        aircraft_key: r.get(at)?,
        ntsb_no: r.get(at + 1)?,
        registration: r.get(at + 2)?,
        serial_no: r.get(at + 3)?,
        make: r.get(at + 4)?,
        make_raw: r.get(at + 5)?,
        model: r.get(at + 6)?,
        category: r.get(at + 7)?,
        category_raw: r.get(at + 8)?,
        amateur_built: r.get(at + 9)?,
        num_engines: r.get(at + 10)?,
        engine_type: r.get(at + 11)?,
        far_part: r.get(at + 12)?,
        far_part_raw: r.get(at + 13)?,
        schedule: r.get(at + 14)?,
        purpose: r.get(at + 15)?,
        operator: r.get(at + 16)?,
        damage: r.get(at + 17)?,
        damage_raw: r.get(at + 18)?,
        phase: r.get(at + 19)?,
        phase_raw: r.get(at + 20)?,
        engines: Vec::new(),
    })
}

/// `eng_no, eng_type, eng_mfgr, eng_model, power_units, hp_or_lbs, carb_fuel_injection,
/// propeller_type, propeller_make, propeller_model, eng_time_total, eng_time_last_insp,
/// eng_time_overhaul`.
pub(crate) fn engine(r: &dyn Row, at: usize) -> Result<EngineDetail> {
    Ok(EngineDetail {
        eng_no: r.get(at)?,
        eng_type: r.get(at + 1)?,
        eng_mfgr: r.get(at + 2)?,
        eng_model: r.get(at + 3)?,
        power_units: r.get(at + 4)?,
        hp_or_lbs: r.get(at + 5)?,
        carb_fuel_injection: r.get(at + 6)?,
        propeller_type: r.get(at + 7)?,
        propeller_make: r.get(at + 8)?,
        propeller_model: r.get(at + 9)?,
        eng_time_total: r.get(at + 10)?,
        eng_time_last_insp: r.get(at + 11)?,
        eng_time_overhaul: r.get(at + 12)?,
    })
}

/// `aircraft_key, crew_no, crew_category, crew_age, crew_sex, med_certf, crew_inj_level,
/// seatbelts_used, shldr_harn_used`.
pub(crate) fn crew(r: &dyn Row, at: usize) -> Result<CrewDetail> {
    Ok(CrewDetail {
        aircraft_key: r.get(at)?,
        crew_no: r.get(at + 1)?,
        crew_category: r.get(at + 2)?,
        crew_age: r.get(at + 3)?,
        crew_sex: r.get(at + 4)?,
        med_certf: r.get(at + 5)?,
        crew_inj_level: r.get(at + 6)?,
        seatbelts_used: r.get(at + 7)?,
        shldr_harn_used: r.get(at + 8)?,
    })
}

/// `aircraft_key, inj_person_category, injury_level, inj_person_count`.
pub(crate) fn injury(r: &dyn Row, at: usize) -> Result<InjuryDetail> {
    Ok(InjuryDetail {
        aircraft_key: r.get(at)?,
        person_category: r.get(at + 1)?,
        injury_level: r.get(at + 2)?,
        count: r.get(at + 3)?,
    })
}

/// `aircraft_key, finding_no, finding_code, finding_description, cause_factor`.
pub(crate) fn finding(r: &dyn Row, at: usize) -> Result<FindingDetail> {
    Ok(FindingDetail {
        aircraft_key: r.get(at)?,
        finding_no: r.get(at + 1)?,
        code: r.get(at + 2)?,
        description: r.get(at + 3)?,
        cause_factor: r.get(at + 4)?,
    })
}

/// `aircraft_key, code_system, occurrence_no, occurrence_code, occurrence_meaning, phase,
/// phase_meaning, defining_event`.
pub(crate) fn occurrence(r: &dyn Row, at: usize) -> Result<OccurrenceDetail> {
    Ok(OccurrenceDetail {
        aircraft_key: r.get(at)?,
        code_system: r.get(at + 1)?,
        occurrence_no: r.get(at + 2)?,
        code: r.get(at + 3)?,
        meaning: r.get(at + 4)?,
        phase: r.get(at + 5)?,
        phase_meaning: r.get(at + 6)?,
        defining_event: r.get(at + 7)?,
    })
}

/// `table_name, row_key, field, old_value, new_value, load_id, coalesce(path, ''), changed_at`.
pub(crate) fn revision(r: &dyn Row, at: usize) -> Result<RevisionDetail> {
    Ok(RevisionDetail {
        table: r.get(at)?,
        row_key: r.get(at + 1)?,
        field: r.get(at + 2)?,
        old_value: r.get(at + 3)?,
        new_value: r.get(at + 4)?,
        load_id: r.get(at + 5)?,
        source: file_name(r.get(at + 6)?),
        changed_at: r.get(at + 7)?,
    })
}

/// `id, path, format, started_at` of a load.
pub(crate) fn source(r: &dyn Row, at: usize) -> Result<SourceRef> {
    Ok(SourceRef {
        load_id: r.get(at)?,
        path: file_name(r.get(at + 1)?),
        format: r.get(at + 2)?,
        loaded_at: r.get(at + 3)?,
    })
}

/// The file name of a loaded path, which is all an event's detail shows: the
/// detail is public, and where the operator keeps files on the server is not
/// (the load ledger, for operators, keeps the whole path).
fn file_name(path: String) -> String {
    match path.rsplit(['/', '\\']).next() {
        Some(name) if name.len() < path.len() => name.to_string(),
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_detail_names_files_without_their_directory() {
        assert_eq!(super::file_name("/var/lib/ntsb/downloads/avall.zip".into()), "avall.zip");
        assert_eq!(super::file_name(r"C:\avdata\avall.mdb".into()), "avall.mdb");
        assert_eq!(super::file_name("up19.csv".into()), "up19.csv");
        assert_eq!(super::file_name(String::new()), "");
    }
}
