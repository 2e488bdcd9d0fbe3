//! The one place an [`EventFilter`] becomes SQL, for both backends: a `WHERE`
//! clause over the `event_facts` table (aliased `e`; migration 0004: one narrow
//! row per event, kept by triggers) with its parameters. Text columns compare
//! bytewise on both (PostgreSQL's are `COLLATE "C"`); the few differences
//! (case-insensitive country, `ILIKE`, list membership) come from [`Dialect`].
//!
//! Every query of [`crate::Queries`] builds its condition here, so a filter means
//! the same thing in a listing, a statistic, a map and an export. User values
//! only ever travel as parameters; the SQL text is assembled from static pieces.

use ntsb_model::query::EventFilter;
use ntsb_model::{normalize, vocab};

use super::{Arg, Dialect};
use crate::Result;
use crate::query::{invalid, like_prefix, non_empty};

/// Condition on events with at least one narrative, preliminary or probable-cause text.
pub(crate) const HAS_TEXT: &str = "e.has_text = 1";

/// 1 for events with at least one destroyed aircraft.
pub(crate) const DESTROYED: &str = "e.destroyed";

/// 1 for fatal events: the event's own fatality count, or its highest injury
/// when the count is missing.
pub(crate) const FATAL: &str = "e.fatal";

/// A `WHERE` clause under construction: conditions joined with `AND`, and their
/// positional parameters in order.
#[derive(Debug)]
pub(crate) struct Where {
    conds: Vec<String>,
    /// Parameters, in the order their `?` appear.
    pub params: Vec<Arg>,
    /// The SQL spoken.
    pub dialect: Dialect,
}

fn text(s: &str) -> Arg {
    Arg::Text(s.to_string())
}

impl Where {
    /// The conditions of `f`, validated (inverted date range or box, bad
    /// coordinates, empty strings are [`Error::InvalidQuery`]).
    pub fn from_filter(f: &EventFilter, dialect: Dialect) -> Result<Where> {
        let mut w = Where::new(dialect);
        if let (Some(from), Some(to)) = (f.from, f.to)
            && from > to
        {
            return Err(invalid("to", format!("{to} is before from {from}")));
        }
        if let Some(from) = f.from {
            w.push("e.event_date >= ?", [text(&from.format("%Y-%m-%d").to_string())]);
        }
        if let Some(to) = f.to {
            w.push("e.event_date <= ?", [text(&to.format("%Y-%m-%d").to_string())]);
        }
        if let Some(year) = f.year {
            if !(1000..=9998).contains(&year) {
                return Err(invalid("year", format!("{year} is not a four-digit year")));
            }
            // A range on the text date, so the date index answers it.
            w.push(
                "e.event_date >= ? AND e.event_date < ?",
                [text(&format!("{year:04}-01-01")), text(&format!("{:04}-01-01", year + 1))],
            );
        }
        if let Some(state) = &f.state {
            w.push("e.state = ?", [text(&non_empty("state", state)?.to_ascii_uppercase())]);
        }
        if let Some(country) = &f.country {
            w.push(&dialect.eq_nocase("e.country"), [text(non_empty("country", country)?)]);
        }
        if let Some(level) = f.highest_injury {
            w.push("e.highest_injury = ?", [text(level.as_str())]);
        }
        if let Some(phase) = f.phase {
            w.push("e.phase = ?", [text(phase.as_str())]);
        }
        if let Some(weather) = f.weather {
            w.push("e.weather = ?", [text(weather.as_str())]);
        }
        if let Some(t) = f.event_type {
            w.push("e.event_type = ?", [text(t.as_str())]);
        }
        match f.has_narrative {
            Some(true) => w.push(HAS_TEXT, []),
            Some(false) => w.push(&format!("NOT {HAS_TEXT}"), []),
            None => {}
        }
        if let Some(b) = f.bbox {
            let finite = [b.min_lat, b.max_lat, b.min_lon, b.max_lon].iter().all(|v| v.is_finite());
            if !finite
                || !(-90.0..=90.0).contains(&b.min_lat)
                || !(-90.0..=90.0).contains(&b.max_lat)
                || !(-180.0..=180.0).contains(&b.min_lon)
                || !(-180.0..=180.0).contains(&b.max_lon)
            {
                return Err(invalid("bbox", "coordinates must be longitudes in -180..180 and latitudes in -90..90"));
            }
            if b.min_lat > b.max_lat || b.min_lon > b.max_lon {
                return Err(invalid("bbox", "must be min_lon,min_lat,max_lon,max_lat with min ≤ max"));
            }
            w.push(
                "e.latitude BETWEEN ? AND ? AND e.longitude BETWEEN ? AND ?",
                [Arg::Real(b.min_lat), Arg::Real(b.max_lat), Arg::Real(b.min_lon), Arg::Real(b.max_lon)],
            );
        }
        if let Some(ids) = &f.event_ids {
            w.push(&dialect.in_list("e.id"), [Arg::Ints(ids.clone())]);
        }
        w.push_aircraft(f)?;
        Ok(w)
    }

    /// Aircraft-level conditions: one `EXISTS` so the same aircraft must match all
    /// of them (make CESSNA and model 172 means a Cessna 172), and an event with
    /// several matching aircraft is still one row.
    fn push_aircraft(&mut self, f: &EventFilter) -> Result<()> {
        let model_cond;
        let mut conds: Vec<&str> = Vec::new();
        let mut params = Vec::new();
        if let Some(make) = &f.make {
            let m = normalize::make_name(make).ok_or_else(|| invalid("make", "must not be empty"))?;
            conds.push("a.make = ?");
            params.push(Arg::Text(m));
        }
        if let Some(model) = &f.model {
            model_cond = format!("a.model {} ? ESCAPE '\\'", self.dialect.like_nocase());
            conds.push(&model_cond);
            params.push(Arg::Text(like_prefix(non_empty("model", model)?)));
        }
        if let Some(category) = &f.category {
            conds.push("a.category = ?");
            params.push(text(&non_empty("category", category)?.to_ascii_uppercase()));
        }
        if let Some(part) = &f.far_part {
            let p = non_empty("far_part", part)?;
            let code = vocab::far_part(p).unwrap_or_else(|| p.to_ascii_uppercase());
            conds.push("a.far_part = ?");
            params.push(Arg::Text(code));
        }
        if let Some(damage) = f.damage {
            conds.push("a.damage = ?");
            params.push(text(damage.as_str()));
        }
        if !conds.is_empty() {
            let sql = format!("EXISTS (SELECT 1 FROM aircraft a WHERE a.event_id = e.id AND {})", conds.join(" AND "));
            self.push(&sql, params);
        }
        Ok(())
    }

    /// No condition yet.
    pub fn new(dialect: Dialect) -> Where {
        Where { conds: Vec::new(), params: Vec::new(), dialect }
    }

    /// Adds one condition (static SQL text) with its parameters.
    pub fn push(&mut self, sql: &str, params: impl IntoIterator<Item = Arg>) {
        self.conds.push(format!("({sql})"));
        self.params.extend(params);
    }

    /// `WHERE …`, or nothing when there is no condition.
    pub fn sql(&self) -> String {
        if self.conds.is_empty() { String::new() } else { format!("WHERE {}", self.conds.join(" AND ")) }
    }

    /// `AND …` to append to an existing `WHERE`, or nothing.
    pub fn and_sql(&self) -> String {
        if self.conds.is_empty() { String::new() } else { format!("AND {}", self.conds.join(" AND ")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use ntsb_model::query::BBox;

    #[test]
    fn like_prefix_escapes_wildcards() {
        assert_eq!(like_prefix("17_%\\"), "17\\_\\%\\\\%");
    }

    #[test]
    fn invalid_inputs_name_their_parameter() {
        let bad = |f: EventFilter| match Where::from_filter(&f, Dialect::Sqlite) {
            Err(Error::InvalidQuery { parameter, .. }) => parameter,
            other => panic!("{other:?}"),
        };
        let d = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(bad(EventFilter { from: d(2010, 2, 1), to: d(2010, 1, 1), ..Default::default() }), "to");
        let inverted = BBox { min_lon: 10.0, min_lat: 0.0, max_lon: 5.0, max_lat: 1.0 };
        assert_eq!(bad(EventFilter { bbox: Some(inverted), ..Default::default() }), "bbox");
        assert_eq!(bad(EventFilter { make: Some("  ".into()), ..Default::default() }), "make");
        assert_eq!(bad(EventFilter { year: Some(12), ..Default::default() }), "year");
    }

    #[test]
    fn no_filter_is_no_clause() {
        let w = Where::from_filter(&EventFilter::default(), Dialect::Postgres).unwrap();
        assert_eq!(w.sql(), "");
        assert!(w.params.is_empty());
    }

    #[test]
    fn dialects_differ_only_where_they_must() {
        let f = EventFilter {
            country: Some("usa".into()),
            model: Some("17".into()),
            event_ids: Some(vec![3, 1]),
            ..Default::default()
        };
        let lite = Where::from_filter(&f, Dialect::Sqlite).unwrap();
        let pg = Where::from_filter(&f, Dialect::Postgres).unwrap();
        assert_eq!(lite.params, pg.params);
        assert!(lite.sql().contains("e.country = ? COLLATE NOCASE"), "{}", lite.sql());
        assert!(pg.sql().contains("lower(e.country) = lower(?)"), "{}", pg.sql());
        assert!(lite.sql().contains("json_each(?)") && pg.sql().contains("e.id = ANY(?)"));
        assert!(lite.sql().contains("a.model LIKE ?") && pg.sql().contains("a.model ILIKE ?"));
    }
}
