//! `/trends`: yearly and monthly counts and fatal rates with their 95%
//! intervals drawn as bands; decades, seasons and days of the week; and a
//! comparison of two filter sets side by side.
//!
//! The comparison keeps both sets in the URL: the first set under the API's
//! filter names, the second under the same names prefixed `b.`
//! (`/trends?far_part=91&b.far_part=135`; `compare=on` opens it with an empty
//! second set, which means all events). Each set is validated as the API
//! validates its filters, a bad second-set value being reported as `b.NAME`.

use axum::extract::{RawQuery, State};
use maud::html;
use ntsb_model::query::{Breakdown, BreakdownRow};

use super::charts::{
    Bar, Cell, Point, SERIES, Series, Table, bars, breakdown_table, columns, figure, lines, rate_band,
};
use super::layout::{Page, active_filters, downloads, filter_form, filter_set_form, respond, shell};
use super::query::{PageQuery, SECOND, second_names};
use super::text::Text;
use crate::error::ApiError;
use crate::routes::stats::{MAX_ROWS, breakdown_of, summary_of};
use crate::state::AppState;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The month name of a key `01`…`12`, or the key itself.
fn month(key: &str) -> String {
    key.parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .map_or_else(|| key.to_string(), |m| m.to_string())
}

pub(crate) async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Page, ApiError> {
    let names: Vec<&str> = second_names().iter().map(String::as_str).chain(["compare"]).collect();
    let q = PageQuery::parse_extra(raw.as_deref(), &names)?;
    let comparing = q.extras.iter().any(|(k, _)| k.starts_with(SECOND)) || q.get("compare").is_some();
    if comparing {
        return compare(&state, &q).await;
    }
    let filter = q.filter(&state).await?;
    let (years, months, decades, seasons, days) = tokio::try_join!(
        breakdown_of(&state, Breakdown::Year, filter.clone(), 1, MAX_ROWS),
        breakdown_of(&state, Breakdown::Month, filter.clone(), 1, MAX_ROWS),
        breakdown_of(&state, Breakdown::Decade, filter.clone(), 1, MAX_ROWS),
        breakdown_of(&state, Breakdown::Season, filter.clone(), 1, MAX_ROWS),
        breakdown_of(&state, Breakdown::DayOfWeek, filter.clone(), 1, MAX_ROWS),
    )?;
    let qr = &q;
    let year_link = move |r: &BreakdownRow| qr.with("/trends", "year", Some(&r.key));
    let years_t = breakdown_table("years", "By year", "year", &years, |r| r.key.clone(), Some(&year_link));
    let months_t = breakdown_table("months", "By month", "month", &months, |r| month(&r.key), None);
    let decades_t = breakdown_table("decades", "By decade", "decade", &decades, |r| format!("{}s", r.key), None);
    let seasons_t = breakdown_table("seasons", "By season", "season", &seasons, |r| r.key.clone(), None);
    let days_t = breakdown_table(
        "days",
        "By day of week",
        "day",
        &days,
        |r| r.key2.clone().unwrap_or_else(|| r.key.clone()),
        None,
    );
    let tables = [&years_t, &months_t, &decades_t, &seasons_t, &days_t];
    respond(&q, "trends", &tables, || {
        let year_points: Vec<Point> = years.iter().map(|r| Point::of(r.key.clone(), r)).collect();
        let month_points: Vec<Point> = months.iter().map(|r| Point::of(month(&r.key), r)).collect();
        let ranked = |rows: &[BreakdownRow], label: &dyn Fn(&BreakdownRow) -> String| -> Vec<Bar> {
            rows.iter()
                .map(|r| Bar { label: label(r), value: r.events, part: Some(r.fatal_events), href: None })
                .collect()
        };
        let main = html! {
            h1 { "Trends" }
            (active_filters(&q, "/trends"))
            (filter_form(&q, "/trends", &[]))
            p { a id="compare-link" href=(q.with("/trends", "compare", Some("on"))) { "Compare with a second filter set" } }
            section aria-labelledby="yearly-title" {
                h2 id="yearly-title" { "By year" }
                (figure("Events per year (fatal in red)", columns("chart-years", "Events per year, fatal events in red", &year_points), &years_t, &q.csv_href("/trends", "years")))
                (figure("Fatal rate per year with its 95% interval", rate_band("chart-year-rate", "Share of events with a fatality per year; the band is the 95% Wilson interval", &year_points), &years_t, &q.csv_href("/trends", "years")))
            }
            section aria-labelledby="monthly-title" {
                h2 id="monthly-title" { "By month of the year" }
                (figure("Events per month (fatal in red)", columns("chart-months", "Events per month of the year, fatal events in red", &month_points), &months_t, &q.csv_href("/trends", "months")))
                (figure("Fatal rate per month with its 95% interval", rate_band("chart-month-rate", "Share of events with a fatality per month; the band is the 95% Wilson interval", &month_points), &months_t, &q.csv_href("/trends", "months")))
            }
            div.cols {
                section { (figure("By decade", bars("chart-decades", "Events per decade, fatal events in red", &ranked(&decades, &|r| format!("{}s", r.key))), &decades_t, &q.csv_href("/trends", "decades"))) }
                section { (figure("By season", bars("chart-seasons", "Events per season, fatal events in red", &ranked(&seasons, &|r| r.key.clone())), &seasons_t, &q.csv_href("/trends", "seasons"))) }
                section { (figure("By day of week", bars("chart-days", "Events per day of the week, fatal events in red", &ranked(&days, &|r| r.key2.clone().unwrap_or_default())), &days_t, &q.csv_href("/trends", "days"))) }
            }
            (downloads(&q, "/trends", &tables))
        };
        shell("Trends", "/trends", main)
    })
}

/// The filters of a set in words (`far_part = 91, state = TX`), or "all events".
fn describe(q: &PageQuery) -> String {
    if q.filters.is_empty() {
        "all events".to_string()
    } else {
        q.filters.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")
    }
}

/// Two filter sets side by side: totals, events per year and the fatal rate per
/// year with both 95% intervals, each from the functions the API answers with.
async fn compare(state: &AppState, a: &PageQuery) -> Result<Page, ApiError> {
    let b = a.second()?;
    let (fa, fb) = tokio::try_join!(a.filter(state), b.filter(state))?;
    let (sa, sb, ya, yb) = tokio::try_join!(
        summary_of(state, fa.clone()),
        summary_of(state, fb.clone()),
        breakdown_of(state, Breakdown::Year, fa, 1, MAX_ROWS),
        breakdown_of(state, Breakdown::Year, fb, 1, MAX_ROWS),
    )?;
    let (name_a, name_b) = (describe(a), describe(&b));
    let mut years: Vec<String> = ya.iter().chain(&yb).map(|r| r.key.clone()).collect();
    years.sort();
    years.dedup();
    let find = |rows: &[BreakdownRow], key: &str| rows.iter().find(|r| r.key == key).cloned();
    let totals_t = Table {
        id: "compare-totals",
        caption: format!("Totals: A ({name_a}) and B ({name_b})"),
        columns: vec!["figure", "A", "B"],
        rows: vec![
            vec![Cell::Text("events".into()), Cell::Int(sa.events), Cell::Int(sb.events)],
            vec![Cell::Text("fatal events".into()), Cell::Int(sa.fatal_events), Cell::Int(sb.fatal_events)],
            vec![Cell::Text("fatal rate".into()), Cell::Rate(sa.fatal_rate), Cell::Rate(sb.fatal_rate)],
            vec![
                Cell::Text("fatal rate, 95% low".into()),
                Cell::Rate(sa.fatal_rate_ci95[0]),
                Cell::Rate(sb.fatal_rate_ci95[0]),
            ],
            vec![
                Cell::Text("fatal rate, 95% high".into()),
                Cell::Rate(sa.fatal_rate_ci95[1]),
                Cell::Rate(sb.fatal_rate_ci95[1]),
            ],
            vec![Cell::Text("fatalities".into()), Cell::Int(sa.fatalities), Cell::Int(sb.fatalities)],
        ],
    };
    let side = |r: Option<BreakdownRow>| -> [Cell; 4] {
        match r {
            Some(r) => [
                Cell::Int(r.events),
                Cell::Rate(r.fatal_rate),
                Cell::Rate(r.fatal_rate_ci95[0]),
                Cell::Rate(r.fatal_rate_ci95[1]),
            ],
            None => [Cell::Int(0), Cell::Text(String::new()), Cell::Text(String::new()), Cell::Text(String::new())],
        }
    };
    let years_t = Table {
        id: "compare-years",
        caption: format!("By year: A ({name_a}) and B ({name_b})"),
        columns: vec![
            "year",
            "A events",
            "A fatal rate",
            "A 95% low",
            "A 95% high",
            "B events",
            "B fatal rate",
            "B 95% low",
            "B 95% high",
        ],
        rows: years
            .iter()
            .map(|y| {
                let mut row = vec![Cell::Text(y.clone())];
                row.extend(side(find(&ya, y.as_str())));
                row.extend(side(find(&yb, y.as_str())));
                row
            })
            .collect(),
    };
    let tables = [&totals_t, &years_t];
    respond(a, "trends", &tables, || {
        let series = |rows: &[BreakdownRow], name: &str, colour, rate: bool| Series {
            name: name.to_string(),
            colour,
            values: years
                .iter()
                .map(|y| {
                    find(rows, y.as_str()).map(|r| {
                        if rate {
                            (r.fatal_rate, r.fatal_rate_ci95[0], r.fatal_rate_ci95[1])
                        } else {
                            (r.events as f64, r.events as f64, r.events as f64)
                        }
                    })
                })
                .collect(),
        };
        let rates = [series(&ya, "A", SERIES[0], true), series(&yb, "B", SERIES[1], true)];
        let counts = [series(&ya, "A", SERIES[0], false), series(&yb, "B", SERIES[1], false)];
        // Each form changes its own set and carries the other as hidden fields.
        let keep_b: Vec<(String, String)> = a.extras.clone();
        let mut keep_a: Vec<(String, String)> = a.filters.clone();
        keep_a.push(("compare".into(), "on".into()));
        let main = html! {
            h1 { "Trends: comparison" }
            p { "Two filter sets side by side. The address holds both (the second set's parameters start with "
                code { (SECOND) } "), so this comparison can be bookmarked and shared. "
                a id="stop-compare" href=(a.without("/trends", |k| k.starts_with(SECOND) || k == "compare")) { "Stop comparing" } }
            div.cols {
                section aria-labelledby="set-a-title" {
                    h2 id="set-a-title" { "A: " span id="set-a" { (Text(&name_a)) } }
                    (filter_set_form("/trends", "", "Filter set A", &|n| a.get(n).unwrap_or("").to_string(), &keep_b))
                }
                section aria-labelledby="set-b-title" {
                    h2 id="set-b-title" { "B: " span id="set-b" { (Text(&name_b)) } }
                    (filter_set_form("/trends", SECOND, "Filter set B", &|n| a.get(n).unwrap_or("").to_string(), &keep_a))
                }
            }
            section aria-labelledby="totals-title" {
                h2 id="totals-title" { "Totals" }
                (totals_t.render())
            }
            section aria-labelledby="compare-years-title" {
                h2 id="compare-years-title" { "By year" }
                (figure("Fatal rate per year, A and B, with their 95% intervals", lines("chart-compare-rate", "Share of events with a fatality per year for A and B; the bands are the 95% Wilson intervals", &years, &rates, true), &years_t, &a.csv_href("/trends", "compare-years")))
                (figure("Events per year, A and B", lines("chart-compare-events", "Events per year for A and B", &years, &counts, false), &years_t, &a.csv_href("/trends", "compare-years")))
            }
            (downloads(a, "/trends", &tables))
        };
        shell("Trends: comparison", "/trends", main)
    })
}
