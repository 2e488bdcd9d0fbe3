//! `/aircraft`: makes, makes and models, categories, number of engines and
//! amateur-built, each with fatal rates and their 95% intervals, and a
//! minimum-count control (`min_count`, as on the API).

use axum::extract::{RawQuery, State};
use maud::{Markup, html};
use ntsb_model::query::{Breakdown, BreakdownRow};
use serde::Deserialize;
use utoipa::IntoParams;

use super::charts::{Bar, Table, bars, breakdown_table, figure};
use super::layout::{Page, active_filters, downloads, filter_form, respond, shell};
use super::query::PageQuery;
use crate::error::ApiError;
use crate::fields::Bounded;
use crate::routes::stats::breakdown_of;
use crate::state::AppState;

/// The aircraft page's own parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct AircraftQuery {
    /// Leave out groups with fewer events (default 1).
    min_count: Option<Bounded<1, 1_000_000>>,
}

/// Rows of the make and make/model rankings.
const TOP: usize = 25;

pub(crate) async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Page, ApiError> {
    let (q, own) = PageQuery::parse_with::<AircraftQuery>(raw.as_deref())?;
    let min = own.min_count.map_or(1, |m| m.get() as u64);
    let filter = q.filter(&state).await?;
    let (makes, models, categories, engines, amateur) = tokio::try_join!(
        breakdown_of(&state, Breakdown::Make, filter.clone(), min, TOP),
        breakdown_of(&state, Breakdown::MakeModel, filter.clone(), min, TOP),
        breakdown_of(&state, Breakdown::Category, filter.clone(), min, TOP),
        breakdown_of(&state, Breakdown::Engines, filter.clone(), min, TOP),
        breakdown_of(&state, Breakdown::AmateurBuilt, filter.clone(), min, TOP),
    )?;
    let qr = &q;
    let make_link = move |r: &BreakdownRow| qr.with("/aircraft", "make", Some(&r.key));
    let model_link = move |r: &BreakdownRow| {
        let mut href = qr.with("/aircraft", "make", Some(&r.key));
        if let Some(m) = &r.key2 {
            href.push_str(if href.contains('?') { "&" } else { "?" });
            href.push_str(&super::query::encode([("model", m.as_str())].into_iter()));
        }
        href
    };
    let category_link = move |r: &BreakdownRow| qr.with("/aircraft", "category", Some(&r.key));
    let model_label = |r: &BreakdownRow| format!("{} {}", r.key, r.key2.as_deref().unwrap_or(""));
    let makes_t = breakdown_table("makes", "By make", "make", &makes, |r| r.key.clone(), Some(&make_link));
    let models_t =
        breakdown_table("models", "By make and model", "make and model", &models, model_label, Some(&model_link));
    let categories_t =
        breakdown_table("categories", "By category", "category", &categories, |r| r.key.clone(), Some(&category_link));
    let engines_t = breakdown_table("engines", "By number of engines", "engines", &engines, |r| r.key.clone(), None);
    let amateur_t = breakdown_table("amateur", "Amateur-built", "amateur-built", &amateur, |r| r.key.clone(), None);
    let tables = [&makes_t, &models_t, &categories_t, &engines_t, &amateur_t];
    respond(&q, "aircraft", &tables, || {
        let main = html! {
            h1 { "Aircraft" }
            (active_filters(&q, "/aircraft"))
            (filter_form(&q, "/aircraft", &["min_count"]))
            form.inline method="get" action="/aircraft" aria-label="Minimum events per row" {
                @for (k, v) in &q.filters { input type="hidden" name=(k) value=(v); }
                label for="min_count" { "Show rows with at least this many events" }
                " "
                input id="min_count" name="min_count" type="number" min="1" value=(min);
                " "
                button type="submit" { "Apply" }
            }
            p { "A fatal rate over few events says little: the 95% interval in each table shows how little." }
            (section("makes", "By make", &makes, &makes_t, &q, &|r| r.key.clone()))
            (section("models", "By make and model", &models, &models_t, &q, &model_label))
            div.cols {
                (section("categories", "By category", &categories, &categories_t, &q, &|r| r.key.clone()))
                (section("engines", "By number of engines", &engines, &engines_t, &q, &|r| r.key.clone()))
                (section("amateur", "Amateur-built", &amateur, &amateur_t, &q, &|r| r.key.clone()))
            }
            (downloads(&q, "/aircraft", &tables))
        };
        shell("Aircraft", "/aircraft", main)
    })
}

fn section(
    id: &'static str,
    title: &str,
    rows: &[BreakdownRow],
    table: &Table,
    q: &PageQuery,
    label: &dyn Fn(&BreakdownRow) -> String,
) -> Markup {
    let items: Vec<Bar> =
        rows.iter().map(|r| Bar { label: label(r), value: r.events, part: Some(r.fatal_events), href: None }).collect();
    html! {
        section {
            (figure(title, bars(&format!("chart-{id}"), &format!("{title}: events, fatal events in red"), &items), table, &q.csv_href("/aircraft", id)))
        }
    }
}
