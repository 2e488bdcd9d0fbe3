//! The messages on the wire.
//!
//! **In** (`ntsb ingest --from-kafka`): each message value is one event as JSON,
//! in the shape `GET /api/v1/events/{ev_id}` returns ([`EventDetail`]), or a
//! change this program published (`{"seq", "kind", …, "event": <that shape>}`,
//! see [`change_value`]), so one deployment can feed another. [`decode`] turns
//! it into the records a file of the same event would give (the event row, its
//! aircraft with engines, crew, injury rows, findings, occurrences, narrative
//! and recommendations), which then go through the store's upsert, revision and
//! reject rules like any file's. `revisions` and `sources` describe the sending
//! store and are ignored. A message that is not such a document is refused with
//! the reason and the field at fault.
//!
//! **Out** (`ntsb serve --kafka-brokers`): [`change_value`] writes one change of
//! the store's change log with the event's detail document as it is now.

use ntsb_model::query::{EventDetail, EventSummary};
use ntsb_model::records::{
    AircraftRecord, CrewRecord, EngineRecord, EventRecord, EventRef, FindingRecord, InjuryRecord, NarrativeRecord,
    OccurrenceRecord, RecommendationRecord, Record,
};
use ntsb_store::Change;

/// What one message holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// An event to upsert: its `ev_id` and records, event first.
    Event {
        /// The event's id (the message key a producer should use).
        ev_id: String,
        /// The records, event row first.
        records: Vec<Record>,
    },
    /// A published change of an event that was deleted: nothing to apply
    /// (a deletion in another store does not delete here).
    Deleted,
}

/// Why a message was refused: the field at fault (a JSON path) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// JSON path of the offending field, when one is to blame.
    pub field: Option<String>,
    /// One sentence.
    pub reason: String,
}

fn malformed(field: Option<&str>, reason: impl Into<String>) -> Malformed {
    Malformed { field: field.map(str::to_string), reason: reason.into() }
}

/// Arrays a sender may leave out when they are empty.
const LISTS: [&str; 8] =
    ["aircraft", "crew", "injury_rows", "findings", "occurrences", "recommendations", "revisions", "sources"];

/// Decodes one message value (see the module documentation).
pub fn decode(value: Option<&[u8]>) -> Result<Decoded, Malformed> {
    let bytes = value.ok_or_else(|| malformed(None, "the message has no value"))?;
    let mut json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(None, format!("the message value is not JSON: {e}")))?;
    let serde_json::Value::Object(map) = &mut json else {
        return Err(malformed(None, "the message value is not a JSON object"));
    };
    // A change this program published: the event is under `event`.
    if map.contains_key("seq") && map.contains_key("kind") && map.contains_key("event") {
        match map.remove("event") {
            Some(serde_json::Value::Null) | None => return Ok(Decoded::Deleted),
            Some(event) => json = event,
        }
    }
    let serde_json::Value::Object(map) = &mut json else {
        return Err(malformed(Some("event"), "the change's event is not a JSON object"));
    };
    for list in LISTS {
        map.entry(list).or_insert_with(|| serde_json::Value::Array(Vec::new()));
    }
    let refused = |e: serde_path_to_error::Error<serde_json::Error>| {
        let path = e.path().to_string();
        malformed((path != ".").then_some(path.as_str()), e.into_inner().to_string())
    };
    // The listing fields first: inside the detail they are flattened, which
    // hides the path of a field at fault.
    let _: EventSummary = serde_path_to_error::deserialize(&json).map_err(refused)?;
    let detail: EventDetail = serde_path_to_error::deserialize(json).map_err(refused)?;
    let ev_id = match detail.summary.ev_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => return Err(malformed(Some("ev_id"), "the event has no ev_id")),
    };
    if ev_id.len() > 32 || !ev_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(malformed(Some("ev_id"), format!("{ev_id:?} is not an NTSB event id")));
    }
    Ok(Decoded::Event { records: records_of(&ev_id, detail), ev_id })
}

/// The records a file describing `detail` would give.
fn records_of(ev_id: &str, d: EventDetail) -> Vec<Record> {
    let event = || EventRef::EvId(ev_id.to_string());
    let s = d.summary;
    let mut out = Vec::with_capacity(2 + d.aircraft.len() * 2 + d.findings.len() + d.occurrences.len());
    out.push(Record::Event(EventRecord {
        ev_id: Some(ev_id.to_string()),
        ntsb_no: s.ntsb_no,
        event_type: s.event_type,
        event_date: s.event_date,
        event_time: d.event_time,
        city: s.city,
        state: s.state,
        country: s.country,
        latitude: s.latitude,
        longitude: s.longitude,
        airport_code: d.airport_code,
        airport_name: d.airport_name,
        highest_injury: s.highest_injury,
        inj_fatal: Some(count(s.injuries.fatal)),
        inj_serious: Some(count(s.injuries.serious)),
        inj_minor: Some(count(s.injuries.minor)),
        inj_none: Some(count(s.injuries.none)),
        weather: s.weather,
        light_condition: d.light_condition,
        phase: s.phase,
        report_status: d.report_status,
        record_status: d.record_status,
        publication_date: d.publication_date,
        synthetic: s.synthetic.then_some(true),
        ..EventRecord::default()
    }));
    for a in d.aircraft {
        let key = a.aircraft_key;
        out.push(Record::Aircraft(AircraftRecord {
            event: event(),
            aircraft_key: key,
            ntsb_no: a.ntsb_no,
            registration: a.registration,
            serial_no: a.serial_no,
            make: a.make,
            make_raw: a.make_raw,
            model: a.model,
            category: a.category,
            category_raw: a.category_raw,
            amateur_built: a.amateur_built,
            num_engines: a.num_engines,
            engine_type: a.engine_type,
            far_part: a.far_part,
            far_part_raw: a.far_part_raw,
            schedule: a.schedule,
            purpose: a.purpose,
            operator: a.operator,
            damage: a.damage,
            damage_raw: a.damage_raw,
            phase: a.phase,
            phase_raw: a.phase_raw,
        }));
        for e in a.engines {
            out.push(Record::Engine(EngineRecord {
                event: event(),
                aircraft_key: key,
                eng_no: e.eng_no,
                eng_type: e.eng_type,
                eng_mfgr: e.eng_mfgr,
                eng_model: e.eng_model,
                power_units: e.power_units,
                hp_or_lbs: e.hp_or_lbs,
                carb_fuel_injection: e.carb_fuel_injection,
                propeller_type: e.propeller_type,
                propeller_make: e.propeller_make,
                propeller_model: e.propeller_model,
                eng_time_total: e.eng_time_total,
                eng_time_last_insp: e.eng_time_last_insp,
                eng_time_overhaul: e.eng_time_overhaul,
            }));
        }
    }
    for c in d.crew {
        out.push(Record::Crew(CrewRecord {
            event: event(),
            aircraft_key: c.aircraft_key,
            crew_no: c.crew_no,
            crew_category: c.crew_category,
            crew_age: c.crew_age,
            crew_sex: c.crew_sex,
            med_certf: c.med_certf,
            crew_inj_level: c.crew_inj_level,
            seatbelts_used: c.seatbelts_used,
            shldr_harn_used: c.shldr_harn_used,
            ..CrewRecord::default()
        }));
    }
    for i in d.injury_rows {
        out.push(Record::Injury(InjuryRecord {
            event: event(),
            aircraft_key: i.aircraft_key,
            inj_person_category: i.person_category,
            injury_level: i.injury_level,
            inj_person_count: i.count,
        }));
    }
    for f in d.findings {
        out.push(Record::Finding(FindingRecord {
            event: event(),
            aircraft_key: f.aircraft_key,
            finding_no: f.finding_no,
            finding_code: f.code,
            finding_description: f.description,
            cause_factor: f.cause_factor,
            ..FindingRecord::default()
        }));
    }
    for o in d.occurrences {
        out.push(Record::Occurrence(OccurrenceRecord {
            event: event(),
            aircraft_key: o.aircraft_key,
            code_system: o.code_system,
            occurrence_no: o.occurrence_no,
            occurrence_code: o.code,
            occurrence_meaning: o.meaning,
            phase: o.phase,
            phase_meaning: o.phase_meaning,
            defining_event: o.defining_event,
            ..OccurrenceRecord::default()
        }));
    }
    if d.narrative.is_some() || d.probable_cause.is_some() {
        out.push(Record::Narrative(NarrativeRecord {
            event: event(),
            aircraft_key: 0,
            narrative: d.narrative,
            probable_cause: d.probable_cause,
            ..NarrativeRecord::default()
        }));
    }
    for (n, text) in d.recommendations.into_iter().enumerate() {
        out.push(Record::Recommendation(RecommendationRecord {
            event: event(),
            rec_no: i64::try_from(n).unwrap_or(i64::MAX).saturating_add(1),
            recommendation: Some(text),
        }));
    }
    out
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The value published for one change: `{"seq", "kind", "ev_id", "ntsb_no",
/// "fields", "changed_at", "event"}`, where `event` is the event's detail
/// document as `GET /api/v1/events/{ev_id}` returns it now (`null` for a
/// deleted event, or one the store no longer has).
pub fn change_value(change: &Change, detail_json: Option<&[u8]>) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Head<'a> {
        seq: u64,
        kind: ntsb_store::ChangeKind,
        ev_id: Option<&'a str>,
        ntsb_no: Option<&'a str>,
        fields: &'a [String],
        changed_at: &'a str,
    }
    let head = Head {
        seq: change.seq,
        kind: change.kind,
        ev_id: change.ev_id.as_deref(),
        ntsb_no: change.ntsb_no.as_deref(),
        fields: &change.fields,
        changed_at: &change.changed_at,
    };
    let mut out = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    // Splice the stored document in as it is (it is JSON already).
    out.pop();
    out.extend_from_slice(b",\"event\":");
    match detail_json {
        Some(doc) => out.extend_from_slice(doc),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_is_not_an_event_is_refused_with_the_field_at_fault() {
        assert_eq!(decode(None).unwrap_err().reason, "the message has no value");
        assert!(decode(Some(b"{not json")).unwrap_err().reason.starts_with("the message value is not JSON"));
        assert_eq!(decode(Some(b"[1]")).unwrap_err().reason, "the message value is not a JSON object");
        let err = decode(Some(br#"{"ev_id": "20080107X00026", "injuries": {"fatal": "two"}}"#)).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("injuries.fatal"), "{err:?}");
        let err = decode(Some(br#"{"ntsb_no": "X", "injuries": {"fatal":0,"serious":0,"minor":0,"none":0}, "has_narrative": false, "synthetic": false}"#))
            .unwrap_err();
        assert_eq!((err.field.as_deref(), err.reason.as_str()), (Some("ev_id"), "the event has no ev_id"));
    }

    #[test]
    fn a_published_change_decodes_to_its_event_and_a_deletion_to_nothing() {
        let change = Change {
            seq: 7,
            event_id: 1,
            ev_id: Some("20080107X00026".into()),
            ntsb_no: None,
            kind: ntsb_store::ChangeKind::Deleted,
            fields: vec![],
            load: None,
            changed_at: "2026-01-01T00:00:00Z".into(),
        };
        let value = change_value(&change, None);
        let json: serde_json::Value = serde_json::from_slice(&value).expect("json");
        assert_eq!(json["seq"], 7);
        assert_eq!(decode(Some(&value)), Ok(Decoded::Deleted));
        let doc = br#"{"ev_id":"20080107X00026","injuries":{"fatal":1,"serious":0,"minor":0,"none":0},"has_narrative":false,"synthetic":false,"probable_cause":"Fuel."}"#;
        let value = change_value(&Change { kind: ntsb_store::ChangeKind::Created, ..change }, Some(doc));
        let Ok(Decoded::Event { ev_id, records }) = decode(Some(&value)) else { panic!("not an event") };
        assert_eq!(ev_id, "20080107X00026");
        assert_eq!(records.len(), 2, "the event and its narrative");
    }
}
