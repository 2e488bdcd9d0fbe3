//! Which archives to keep: the newest archive of each of the last `hourly`
//! hours that have one, and of each of the last `daily` days (UTC) that have
//! one; the newest archive always. Everything else is deleted. Archives whose
//! names carry no time (not written by this program) are never touched.

use std::collections::BTreeSet;

use chrono::{DateTime, Timelike, Utc};

/// How many hourly and daily archives to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Newest archive of each of this many most recent hours.
    pub hourly: u32,
    /// Newest archive of each of this many most recent days.
    pub daily: u32,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { hourly: 48, daily: 30 }
    }
}

/// Why an archive is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Object name.
    pub name: String,
    /// `hourly`, `daily`, `hourly+daily` or `newest`.
    pub reason: &'static str,
}

/// What [`select`] decided, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Archives kept, with the rule that keeps each.
    pub keep: Vec<Kept>,
    /// Archives to delete.
    pub delete: Vec<String>,
}

/// Applies `policy` to `archives` (name and time taken).
pub fn select(archives: &[(String, DateTime<Utc>)], policy: Retention) -> Selection {
    let mut sorted: Vec<&(String, DateTime<Utc>)> = archives.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let (mut hours, mut days) = (BTreeSet::new(), BTreeSet::new());
    let mut out = Selection::default();
    for (i, (name, at)) in sorted.into_iter().enumerate() {
        let hour = at.with_minute(0).and_then(|t| t.with_second(0)).map(|t| t.timestamp()).unwrap_or_default();
        let day = at.date_naive();
        let by_hour = !hours.contains(&hour) && hours.len() < policy.hourly as usize;
        let by_day = !days.contains(&day) && days.len() < policy.daily as usize;
        if by_hour {
            hours.insert(hour);
        }
        if by_day {
            days.insert(day);
        }
        let reason = match (by_hour, by_day, i == 0) {
            (true, true, _) => "hourly+daily",
            (true, false, _) => "hourly",
            (false, true, _) => "daily",
            (false, false, true) => "newest",
            (false, false, false) => {
                out.delete.push(name.clone());
                continue;
            }
        };
        out.keep.push(Kept { name: name.clone(), reason });
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 30, 0).unwrap() + Duration::hours(h)
    }

    fn names(s: &Selection) -> (Vec<&str>, Vec<&str>) {
        (s.keep.iter().map(|k| k.name.as_str()).collect(), s.delete.iter().map(String::as_str).collect())
    }

    #[test]
    fn keeps_the_newest_per_hour_and_per_day() {
        // One archive an hour for 4 days, plus a second one in the newest hour.
        let mut archives: Vec<(String, DateTime<Utc>)> = (0..96).map(|h| (format!("h{h:02}"), at(h))).collect();
        archives.push(("h95b".into(), at(95) + Duration::minutes(10)));
        let s = select(&archives, Retention { hourly: 3, daily: 2 });
        let (keep, delete) = names(&s);
        // Hours 95 (its newest: h95b), 94, 93; days 4 (newest h95b) and 3 (its newest: h71).
        assert_eq!(keep, ["h95b", "h94", "h93", "h71"]);
        assert_eq!(s.keep[0].reason, "hourly+daily");
        assert_eq!(s.keep[3].reason, "daily");
        assert_eq!(delete.len(), archives.len() - 4);
        assert!(delete.contains(&"h95") && delete.contains(&"h00"));
    }

    #[test]
    fn defaults_keep_48_hourly_and_30_daily() {
        let archives: Vec<(String, DateTime<Utc>)> = (0..24 * 60).map(|h| (format!("a{h:04}"), at(h))).collect();
        let s = select(&archives, Retention::default());
        // 48 hourly (two days), then one per day for the 28 further days.
        assert_eq!(s.keep.len(), 48 + 28);
        assert_eq!(s.keep.len() + s.delete.len(), archives.len());
    }

    #[test]
    fn the_newest_is_kept_even_with_zero_limits_and_input_order_does_not_matter() {
        let mut archives = vec![("b".to_string(), at(1)), ("a".to_string(), at(0)), ("c".to_string(), at(2))];
        let s = select(&archives, Retention { hourly: 0, daily: 0 });
        assert_eq!(names(&s), (vec!["c"], vec!["b", "a"]));
        archives.reverse();
        assert_eq!(select(&archives, Retention { hourly: 0, daily: 0 }), s);
        assert_eq!(select(&[], Retention::default()), Selection::default());
    }
}
