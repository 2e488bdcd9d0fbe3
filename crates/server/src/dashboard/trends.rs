//! `/trends`: yearly and monthly counts and fatal rates with their 95%
//! intervals drawn as bands; decades, seasons and days of the week.

use axum::extract::{RawQuery, State};
use maud::html;
use ntsb_model::query::{Breakdown, BreakdownRow};

use super::charts::{Bar, Point, bars, breakdown_table, columns, figure, rate_band};
use super::layout::{Page, active_filters, downloads, filter_form, respond, shell};
use super::query::PageQuery;
use crate::error::ApiError;
use crate::routes::stats::{MAX_ROWS, breakdown_of};
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
    let q = PageQuery::parse(raw.as_deref())?;
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
