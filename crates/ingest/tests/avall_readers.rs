//! Avall table readers over hand-written fixtures in `mdb-export`'s layout, and
//! exact counts over the real 2008+ tables in the shared corpus.

use ntsb_ingest::formats::avall;
use ntsb_ingest::{AvallTable, Item, RecordStream, detect};
use ntsb_model::SourceKind;
use ntsb_model::records::*;
use ntsb_test_support::{fixture, shared_data};

fn collect(stream: Box<dyn RecordStream>) -> (Vec<SourcedRecord>, Vec<Reject>) {
    ntsb_ingest::read_all(stream).expect("no fatal error")
}

fn read(name: &str, table: AvallTable) -> (Vec<SourcedRecord>, Vec<Reject>) {
    let path = fixture(&format!("avall/{name}"));
    let stream = avall::open(&path, table).expect("opens");
    assert_eq!(stream.kind(), SourceKind::Avall);
    collect(stream)
}

fn ev(id: &str) -> EventRef {
    EventRef::EvId(id.into())
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn fixtures_are_detected_as_their_tables() {
    use AvallTable::*;
    for (name, table) in [
        ("events.csv", Events),
        ("aircraft.csv", Aircraft),
        ("engines.csv", Engines),
        ("Findings.csv", Findings),
        ("Events_Sequence.csv", EventsSequence),
        ("Occurrences.csv", Occurrences),
        ("seq_of_events.csv", SeqOfEvents),
        ("narratives.csv", Narratives),
        ("NTSB_Admin.csv", NtsbAdmin),
        ("events_aircraft_basic.csv", EventsAircraftBasic),
        ("Flight_Crew.csv", FlightCrew),
        ("flight_time.csv", FlightTime),
        ("injury.csv", Injury),
    ] {
        let got = detect(&fixture(&format!("avall/{name}"))).expect("readable");
        assert_eq!(got, Ok(ntsb_ingest::Format::Avall(table)), "{name}");
    }
}

#[test]
fn events_map_every_field_and_reject_bad_dates_and_ids() {
    let (records, rejects) = read("events.csv", AvallTable::Events);
    assert_eq!(records.len(), 2);
    let Record::Event(e) = &records[0].record else { panic!("event expected") };
    assert_eq!(records[0].line, 2);
    assert_eq!(e.ev_id, s("20990101X00001"));
    assert_eq!(e.ntsb_no, s("XYZ99FA001"));
    assert_eq!(e.event_type, s("accident"));
    assert_eq!(e.event_date, s("2009-01-02"));
    assert_eq!(e.event_time, s("14:15"));
    assert_eq!((e.city.clone(), e.state.clone(), e.country.clone()), (s("Springfield"), s("IL"), s("United States")));
    let lat = e.latitude.expect("DMS latitude");
    let lon = e.longitude.expect("DMS longitude");
    assert!((lat - (39.0 + 47.0 / 60.0)).abs() < 1e-9);
    assert!((lon + (89.0 + 39.0 / 60.0)).abs() < 1e-9);
    assert_eq!((e.airport_code.clone(), e.airport_name.clone()), (s("TST"), s("Test Field")));
    assert_eq!((e.highest_injury.clone(), e.highest_injury_raw.clone()), (s("fatal"), s("FATL")));
    assert_eq!((e.inj_fatal, e.inj_serious, e.inj_minor, e.inj_none), (Some(2), Some(0), Some(0), Some(1)));
    assert_eq!((e.weather.clone(), e.weather_raw.clone()), (s("VMC"), s("VMC")));
    assert_eq!(e.light_condition, s("DAYL"));

    let Record::Event(e2) = &records[1].record else { panic!("event expected") };
    assert_eq!(e2.event_type, s("incident"));
    assert_eq!(e2.event_time, None);
    assert_eq!(e2.state, None, "ZZ is no state");
    assert_eq!((e2.latitude, e2.longitude), (Some(45.5), Some(-122.25)), "decimal columns win");
    assert_eq!(e2.weather, s("IMC"));
    assert_eq!(e2.highest_injury, s("none"));

    assert_eq!(rejects.len(), 2);
    assert_eq!((rejects[0].line, rejects[0].field.as_deref()), (4, Some("ev_date")));
    assert!(rejects[0].file.ends_with("avall/events.csv"));
    assert!(rejects[0].reason.contains("is not a date"), "{}", rejects[0].reason);
    assert_eq!((rejects[1].line, rejects[1].field.as_deref()), (5, Some("ev_id")));
    assert_eq!(rejects[1].table.as_deref(), Some("events"));
}

#[test]
fn aircraft_normalise_make_far_damage_phase() {
    let (records, rejects) = read("aircraft.csv", AvallTable::Aircraft);
    assert_eq!(records.len(), 2);
    let Record::Aircraft(a) = &records[0].record else { panic!("aircraft expected") };
    let want = AircraftRecord {
        event: ev("20990101X00001"),
        aircraft_key: 1,
        ntsb_no: s("XYZ99FA001"),
        registration: s("N12345"),
        serial_no: s("172S0001"),
        make: s("CESSNA"),
        make_raw: s("CESSNA AIRCRAFT CO"),
        model: s("172S"),
        category: s("AIR"),
        category_raw: s("AIR"),
        amateur_built: Some(false),
        num_engines: Some(1),
        engine_type: None,
        far_part: s("091"),
        far_part_raw: s("091"),
        schedule: None,
        purpose: s("PERS"),
        operator: None,
        damage: s("substantial"),
        damage_raw: s("SUBS"),
        phase: s("landing"),
        phase_raw: s("571"),
    };
    assert_eq!(a, &want);
    let Record::Aircraft(b) = &records[1].record else { panic!("aircraft expected") };
    assert_eq!((b.make.clone(), b.category.clone(), b.category_raw.clone()), (s("PIPER"), s("AIR"), s("air")));
    assert_eq!((b.amateur_built, b.far_part.clone(), b.damage.clone()), (Some(true), s("135"), s("destroyed")));
    assert_eq!((b.schedule.clone(), b.operator.clone(), b.phase.clone()), (s("NSCH"), s("Acme Air"), None));
    assert_eq!(rejects.len(), 1);
    assert_eq!((rejects[0].line, rejects[0].field.as_deref()), (4, Some("Aircraft_Key")));
}

#[test]
fn engines_with_bad_number_and_broken_quotes() {
    let (records, rejects) = read("engines.csv", AvallTable::Engines);
    let engines: Vec<&EngineRecord> =
        records.iter().map(|r| if let Record::Engine(e) = &r.record { e } else { panic!("engine") }).collect();
    assert_eq!(engines.len(), 3);
    assert_eq!((engines[2].eng_no, engines[2].eng_mfgr.clone()), (3, s("After the broken row")));
    assert_eq!(engines[0].eng_time_total, Some(1200.5));
    assert_eq!(engines[0].power_units, Some(180));
    assert_eq!(engines[0].eng_mfgr, s("Lycoming"));
    assert_eq!((engines[1].aircraft_key, engines[1].eng_no), (1, 1));
    assert_eq!(engines[1].eng_model, s("PT6A \"-42\""));
    assert_eq!(engines[1].eng_time_total, None);
    assert_eq!(rejects[0].line, 3);
    assert_eq!(rejects[0].field.as_deref(), Some("power_units"));
    assert!(rejects[0].reason.contains("\"lots\" is not a whole number"), "{}", rejects[0].reason);
    // A stray quote inside a quoted key: the row is refused, the next one loads.
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert_eq!((rejects[1].line, rejects[1].field.as_deref()), (5, Some("eng_no")));
}

#[test]
fn findings_cause_factor_and_keys() {
    let (records, rejects) = read("Findings.csv", AvallTable::Findings);
    let f: Vec<&FindingRecord> =
        records.iter().map(|r| if let Record::Finding(f) = &r.record { f } else { panic!("finding") }).collect();
    assert_eq!(f.len(), 3);
    assert_eq!(
        f[0],
        &FindingRecord {
            event: ev("20990101X00001"),
            aircraft_key: 1,
            finding_no: 1,
            finding_code: s("204151044"),
            finding_description: s("Personnel issues-Test finding - C"),
            category_no: Some(2),
            subcategory_no: Some(4),
            section_no: Some(15),
            subsection_no: Some(10),
            modifier_no: Some(44),
            cause_factor: s("cause"),
        }
    );
    assert_eq!(f[1].cause_factor, s("factor"));
    assert_eq!(f[2].cause_factor, None);
    assert_eq!(rejects.len(), 1);
    assert_eq!((rejects[0].line, rejects[0].field.as_deref()), (5, Some("Aircraft_Key")));
}

#[test]
fn events_sequence_phases_from_meaning_or_code() {
    let (records, rejects) = read("Events_Sequence.csv", AvallTable::EventsSequence);
    assert!(rejects.is_empty(), "{rejects:?}");
    let o: Vec<&OccurrenceRecord> =
        records.iter().map(|r| if let Record::Occurrence(o) = &r.record { o } else { panic!("occ") }).collect();
    assert_eq!(
        o[0],
        &OccurrenceRecord {
            event: ev("20990101X00001"),
            aircraft_key: 1,
            code_system: "cictt".into(),
            occurrence_no: 1,
            occurrence_code: s("551240"),
            occurrence_meaning: s("Hard landing"),
            phase_no: Some(551),
            phase_meaning: s("Landing-Flare/Touchdown"),
            phase: s("landing"),
            eventsoe_no: Some(240),
            defining_event: Some(true),
            altitude: None,
        }
    );
    assert_eq!((o[1].phase.clone(), o[1].defining_event), (s("standing"), Some(false)));
    assert_eq!((o[2].phase.clone(), o[2].phase_meaning.clone()), (s("landing"), None));
    assert_eq!(o[3].event, ev("20200928102039"), "all-digit ids since 2020 are accepted");
    assert_eq!(o[3].phase, s("descent"));
}

#[test]
fn legacy_occurrences_and_sequence_of_events() {
    let (records, rejects) = read("Occurrences.csv", AvallTable::Occurrences);
    assert!(rejects.is_empty());
    let Record::Occurrence(o) = &records[0].record else { panic!("occ") };
    assert_eq!((o.code_system.as_str(), o.occurrence_code.clone()), ("legacy", s("130")));
    assert_eq!((o.phase_no, o.phase.clone(), o.altitude), (Some(571), s("landing"), Some(0)));
    let Record::Occurrence(o2) = &records[1].record else { panic!("occ") };
    assert_eq!((o2.phase_no, o2.phase.clone(), o2.altitude), (None, None, Some(100)));

    let (records, rejects) = read("seq_of_events.csv", AvallTable::SeqOfEvents);
    assert!(rejects.is_empty());
    assert_eq!(
        records[0].record,
        Record::Sequence(SequenceRecord {
            event: ev("20001212X00001"),
            aircraft_key: 1,
            occurrence_no: 1,
            seq_event_no: 1,
            group_code: s("1"),
            subj_code: s("24522"),
            subj_meaning: None,
            cause_factor: s("cause"),
            modifier_code: s("3110"),
            person_code: s("4000"),
        })
    );
    let Record::Sequence(q) = &records[1].record else { panic!("seq") };
    assert_eq!(q.cause_factor, None);
}

#[test]
fn narratives_admin_and_basic_extract() {
    let (records, rejects) = read("narratives.csv", AvallTable::Narratives);
    assert!(rejects.is_empty());
    assert_eq!(records.len(), 2, "a row without text yields nothing");
    assert_eq!(
        records[0].record,
        Record::Narrative(NarrativeRecord {
            event: ev("20990101X00001"),
            aircraft_key: 1,
            narrative: s("The pilot reported a test \"event\".\nSecond line."),
            preliminary: s("Preliminary text."),
            probable_cause: s("The pilot's test error."),
            findings_text: None,
        })
    );
    let Record::Narrative(n) = &records[1].record else { panic!("narr") };
    assert_eq!(n.narrative, s("Incident text."));
    assert_eq!(records[1].line, 4, "line numbers count the embedded newline");

    let (records, rejects) = read("NTSB_Admin.csv", AvallTable::NtsbAdmin);
    assert_eq!(
        records[0].record,
        Record::EventUpdate(EventRecord {
            ev_id: s("20990101X00001"),
            record_status: s("F"),
            approval_date: s("2009-02-11"),
            ..Default::default()
        })
    );
    let Record::EventUpdate(e) = &records[1].record else { panic!("status rows update events, never create them") };
    assert_eq!((e.record_status.clone(), e.approval_date.clone()), (s("B"), None));
    assert_eq!(rejects.len(), 1);
    assert_eq!((rejects[0].line, rejects[0].field.as_deref()), (4, Some("approval_date")));

    let (records, rejects) = read("events_aircraft_basic.csv", AvallTable::EventsAircraftBasic);
    assert!(rejects.is_empty());
    assert_eq!(records.len(), 4);
    assert_eq!(
        records[0].record,
        Record::Event(EventRecord {
            ev_id: s("20990101X00001"),
            event_date: s("2009-01-02"),
            highest_injury: s("fatal"),
            highest_injury_raw: s("FATL"),
            ..Default::default()
        })
    );
    let Record::Aircraft(a) = &records[1].record else { panic!("aircraft") };
    assert_eq!(
        (a.make.clone(), a.make_raw.clone(), a.model.clone()),
        (s("CESSNA"), s("Cessna Aircraft Co"), s("172S"))
    );
}

#[test]
fn crew_flight_time_injury() {
    let (records, rejects) = read("Flight_Crew.csv", AvallTable::FlightCrew);
    assert!(rejects.is_empty());
    assert_eq!(
        records[0].record,
        Record::Crew(CrewRecord {
            event: ev("20990101X00001"),
            aircraft_key: 1,
            crew_no: 1,
            crew_category: s("PLT"),
            crew_age: Some(54),
            crew_sex: s("M"),
            med_certf: s("CL3"),
            med_crtf_vldty: s("VNOW"),
            date_lst_med: s("2008-06-01"),
            crew_inj_level: s("fatal"),
            seatbelts_used: Some(true),
            shldr_harn_used: Some(false),
            crew_res_state: s("IL"),
            bfr: Some(true),
            bfr_date: s("2008-05-01"),
        })
    );
    let (records, rejects) = read("flight_time.csv", AvallTable::FlightTime);
    assert_eq!(records.len(), 1);
    let Record::FlightTime(t) = &records[0].record else { panic!("ft") };
    assert_eq!((t.flight_type.as_str(), t.flight_craft.as_str(), t.flight_hours), ("TOTL", "ALL", Some(1520.5)));
    assert_eq!((rejects[0].line, rejects[0].field.as_deref()), (3, Some("flight_type")));

    let (records, rejects) = read("injury.csv", AvallTable::Injury);
    assert_eq!(records.len(), 1);
    let Record::Injury(i) = &records[0].record else { panic!("inj") };
    assert_eq!((i.inj_person_category.as_str(), i.injury_level.as_str(), i.inj_person_count), ("PLT", "FATL", Some(1)));
    assert_eq!((rejects[0].line, rejects[0].field.as_deref()), (3, Some("inj_person_count")));
}

/// Garbage never panics a reader, and whatever it refuses is said: every reject
/// names the file, a data line of it and a reason, and every non-blank data line
/// gives a record or a reject (nothing is dropped silently).
#[test]
fn garbage_is_rejected_by_file_line_and_reason() {
    let inputs: [&[u8]; 5] = [
        b"",
        b"ev_id,Aircraft_Key,eng_no\n\xff\xfe,\"\n",
        b"ev_id,Aircraft_Key,eng_no,power_units\n20990101X00001,99999999999999999999,1e400,NaN\n",
        b"EV_ID,AIRCRAFT_KEY,ENG_NO\n,,,,,,\n\"\"\"\n",
        b"\xef\xbb\xbfev_id,Aircraft_Key,Occurrence_No,seq_event_no,phase_no,Phase_of_Flight,ev_time\n1,2,3,4,-5,99999999999,-2400\n",
    ];
    for table in AvallTable::ALL {
        for input in inputs {
            let Ok(stream) = avall::stream_table(input, std::path::Path::new("garbage.csv"), "garbage".into(), table)
            else {
                continue;
            };
            let text = String::from_utf8_lossy(input);
            let lines = text.lines().count() as u64;
            let mut seen = std::collections::BTreeSet::new();
            for item in stream {
                match item {
                    Ok(Item::Record(r)) => {
                        seen.insert(r.line);
                    }
                    Ok(Item::Reject(r)) => {
                        assert!(r.file.ends_with("garbage"), "{table:?}: the reject names the file as given: {r}");
                        assert!((2..=lines).contains(&r.line), "{table:?}: line {} of {lines}: {r}", r.line);
                        assert!(!r.reason.trim().is_empty(), "{table:?}: {r:?}");
                        seen.insert(r.line);
                    }
                    Err(e) => {
                        assert!(!e.to_string().is_empty());
                        break;
                    }
                }
            }
            let data_lines = text.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()).count();
            assert!(seen.len() <= data_lines, "{table:?}: more lines than the input has: {seen:?}");
            if !text.contains('"') {
                // Without quotes a physical line is a row: each one is accounted for.
                assert_eq!(seen.len(), data_lines, "{table:?} on {text:?}: {seen:?}");
            }
        }
    }
}

fn count_real(name: &str, table: AvallTable) -> Option<(usize, usize, usize)> {
    let dir = shared_data(&format!("avall_real_{name}"))?;
    let path = dir.join("ntsb/avall_2008plus").join(name);
    let (records, rejects) = collect(avall::open(&path, table).expect("opens"));
    assert!(rejects.is_empty(), "{name}: {:?}", &rejects[..rejects.len().min(3)]);
    let events = records.iter().filter(|r| matches!(r.record, Record::Event(_) | Record::EventUpdate(_))).count();
    Some((records.len(), events, rejects.len()))
}

#[test]
fn real_findings() {
    let Some((n, _, _)) = count_real("Findings.csv", AvallTable::Findings) else { return };
    assert_eq!(n, 66_319);
}

#[test]
fn real_events_sequence() {
    let Some((n, _, _)) = count_real("Events_Sequence.csv", AvallTable::EventsSequence) else { return };
    assert_eq!(n, 62_861);
}

#[test]
fn real_engines() {
    let Some((n, _, _)) = count_real("engines.csv", AvallTable::Engines) else { return };
    assert_eq!(n, 27_298);
}

#[test]
fn real_ntsb_admin() {
    let Some((n, events, _)) = count_real("NTSB_Admin.csv", AvallTable::NtsbAdmin) else { return };
    assert_eq!((n, events), (29_773, 29_773));
}

#[test]
fn real_events_aircraft_basic() {
    let Some((n, events, _)) = count_real("events_aircraft_basic.csv", AvallTable::EventsAircraftBasic) else {
        return;
    };
    assert_eq!((n, events), (2 * 26_799, 26_799));
}
