//! [`Facts`] written once: the statements that read every event's facts (or
//! those of some events) for in-memory projections, the same on both backends.

use std::collections::HashMap;

use super::{Arg, Conn, SqlStore};
use crate::Result;
use crate::facts::{AircraftFacts, CodeDescriptions, CodeFact, EventFacts, Facts};

const EVENTS: &str = "SELECT e.id, e.event_date, e.state, e.country, e.highest_injury, e.event_type, e.weather, \
     e.phase, e.latitude, e.longitude, e.inj_fatal, e.inj_serious, e.inj_minor, e.fatal, e.destroyed, e.has_text, e.make \
     FROM event_facts e";

const AIRCRAFT: &str = "SELECT a.event_id, a.make, a.model, a.category, a.far_part, a.damage FROM aircraft a";

const FINDINGS: &str = "SELECT f.event_id, f.finding_code, CASE WHEN f.cause_factor = 'cause' THEN 1 ELSE 0 END \
     FROM findings f WHERE f.finding_code <> ''";

const OCCURRENCES: &str = "SELECT o.event_id, o.occurrence_code, CASE WHEN o.defining_event = 1 THEN 1 ELSE 0 END \
     FROM occurrences o WHERE o.occurrence_code <> ''";

/// Reads the facts of every event, or of `ids`, on one connection.
fn read_facts(db: &mut dyn Conn, ids: Option<&[i64]>) -> Result<Vec<EventFacts>> {
    let d = db.dialect();
    let args: Vec<Arg> = ids.map(|ids| vec![Arg::Ints(ids.to_vec())]).unwrap_or_default();
    // `WHERE`/`AND` the column is among `ids`, or nothing for every event.
    let restrict = |col: &str, glue: &str| match ids {
        None => String::new(),
        Some(_) => format!("{glue} {}", d.in_list(col)),
    };
    let mut events = Vec::new();
    db.each_row(&format!("{EVENTS} {} ORDER BY e.id", restrict("e.id", "WHERE")), &args, &mut |r| {
        events.push(EventFacts {
            id: r.get(0)?,
            event_date: r.get(1)?,
            state: r.get(2)?,
            country: r.get(3)?,
            highest_injury: r.get(4)?,
            event_type: r.get(5)?,
            weather: r.get(6)?,
            phase: r.get(7)?,
            latitude: r.get(8)?,
            longitude: r.get(9)?,
            inj_fatal: r.get(10)?,
            inj_serious: r.get(11)?,
            inj_minor: r.get(12)?,
            fatal: r.get::<i64>(13)? != 0,
            destroyed: r.get::<i64>(14)? != 0,
            has_text: r.get::<i64>(15)? != 0,
            make: r.get(16)?,
            ..Default::default()
        });
        Ok(true)
    })?;
    let at: HashMap<i64, usize> = events.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    let sql = format!("{AIRCRAFT} {} ORDER BY a.event_id, a.aircraft_key", restrict("a.event_id", "WHERE"));
    db.each_row(&sql, &args, &mut |r| {
        if let Some(&i) = at.get(&r.get::<i64>(0)?) {
            events[i].aircraft.push(AircraftFacts {
                make: r.get(1)?,
                model: r.get(2)?,
                category: r.get(3)?,
                far_part: r.get(4)?,
                damage: r.get(5)?,
            });
        }
        Ok(true)
    })?;
    for (sql, findings) in [(FINDINGS, true), (OCCURRENCES, false)] {
        let column = if findings { "f.event_id" } else { "o.event_id" };
        let order = if findings { "f.event_id, f.id" } else { "o.event_id, o.id" };
        let sql = format!("{sql} {} ORDER BY {order}", restrict(column, "AND"));
        db.each_row(&sql, &args, &mut |r| {
            if let Some(&i) = at.get(&r.get::<i64>(0)?) {
                let fact = CodeFact { code: r.get(1)?, flag: r.get::<i64>(2)? != 0 };
                if findings { events[i].findings.push(fact) } else { events[i].occurrences.push(fact) }
            }
            Ok(true)
        })?;
    }
    Ok(events)
}

impl<S: SqlStore> Facts for S {
    fn event_facts(&self, ids: Option<&[i64]>) -> Result<Vec<EventFacts>> {
        if ids.is_some_and(<[i64]>::is_empty) {
            return Ok(Vec::new());
        }
        self.read(|db| read_facts(db, ids))
    }

    fn code_descriptions(&self) -> Result<CodeDescriptions> {
        self.read(|db| {
            let pairs = |db: &mut dyn Conn, sql: &str| db.query(sql, &[], |r| Ok((r.get(0)?, r.get(1)?)));
            Ok(CodeDescriptions {
                findings: pairs(
                    db,
                    "SELECT finding_code, min(finding_description) FROM findings \
                     WHERE finding_code <> '' AND finding_description <> '' GROUP BY finding_code ORDER BY 1",
                )?,
                occurrences: pairs(
                    db,
                    "SELECT occurrence_code, min(occurrence_meaning) FROM occurrences \
                     WHERE occurrence_code <> '' AND occurrence_meaning <> '' GROUP BY occurrence_code ORDER BY 1",
                )?,
            })
        })
    }
}
