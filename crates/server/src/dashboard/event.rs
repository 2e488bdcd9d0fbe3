//! `/events/{ev_id}`: one event laid out for reading (and printing): what
//! happened, the narrative and probable cause, aircraft and engines, crew,
//! injuries, findings, the sequence of occurrences, recommendations,
//! revisions and sources. It reads the very document `/api/v1/events/{ev_id}`
//! serves, so the page holds everything the API does. A signed-in visitor also
//! sees the `fatal` model's score of the event with its contributions, from
//! the engine `/api/v1/ml/predict` uses (the same stored facts, the same model).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use maud::{Markup, html};
use ntsb_model::query::EventDetail;

use super::layout::{Page, shell};
use super::query::encode_path;
use super::text::{Text, int, opt};
use crate::error::ApiError;
use crate::params::{NoParams, Query};
use crate::routes::events::document_of;
use crate::state::{AppState, blocking};

pub(crate) async fn page(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    _: Query<NoParams>,
) -> Result<Page, ApiError> {
    let Path(ev_id) = path.map_err(|e| ApiError::invalid("ev_id", e.body_text()))?;
    let ev_id = ev_id.trim().to_string();
    let shown: String = ev_id.chars().take(40).collect();
    let missing = || ApiError::NotFound(format!("no event with ev_id or case number {shown:?}"));
    let body = document_of(&state, &ev_id).await?.ok_or_else(missing)?;
    let detail: EventDetail =
        serde_json::from_slice(&body).map_err(|e| ApiError::internal(format!("reading an event document: {e}")))?;
    let score = match super::session::current() {
        Some(_) => Some(score_of(&state, detail.summary.ev_id.clone()).await?),
        None => None,
    };
    Ok(Page::Html(render(&detail, score)))
}

/// The `fatal` model's answer for the stored event (as `POST /api/v1/ml/predict`
/// with `{"model": "fatal", "ev_id": …}` computes it), or why there is none.
async fn score_of(state: &AppState, ev_id: Option<String>) -> Result<Markup, ApiError> {
    let model = state.ml.get(ntsb_ml::ModelKind::Fatal);
    let (Some(model), Some(training), Some(ev_id)) = (model, state.training.clone(), ev_id) else {
        return Ok(html! {
            p id="no-model" role="status" { "No " code { "fatal" } " model is trained on this server, so this event has no score: "
                "an operator trains it with " code { "ntsb ml train --model fatal" } " and the server picks it up without a restart." }
        });
    };
    let row = blocking(move || Ok(training.training_row(&ev_id)?)).await?;
    Ok(match row {
        Some(row) => super::predict::answer(&model, &ntsb_ml::Facts::from(row), "Score of the fatal model"),
        None => {
            html! { p id="no-model" role="status" { "This event cannot be scored (the store holds no facts for it)." } }
        }
    })
}

fn yes_no(v: Option<bool>) -> Markup {
    opt(v.map(|b| if b { "yes" } else { "no" }))
}

fn num<T: ToString>(v: Option<T>) -> Markup {
    opt(v.map(|n| n.to_string()).as_deref())
}

fn render(d: &EventDetail, score: Option<Markup>) -> Markup {
    let s = &d.summary;
    let id = s.ev_id.clone().unwrap_or_default();
    let place = [s.city.as_deref(), s.state.as_deref(), s.country.as_deref()]
        .into_iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let title = format!("Event {id}");
    let main = html! {
        article.event {
            header {
                h1 { "Event " (Text(&id)) }
                p.lead {
                    (opt(s.event_date.as_deref())) " · " (opt(s.event_type.as_deref())) " · " (opt(Some(place.as_str())))
                }
                p.noprint { a href=(format!("/api/v1/events/{}", encode_path(&id))) { "This event as JSON (API)" } }
            }
            section aria-labelledby="facts-title" {
                h2 id="facts-title" { "Facts" }
                dl.facts {
                    div { dt { "Case number" } dd { (opt(s.ntsb_no.as_deref())) } }
                    div { dt { "Date and local time" } dd { (opt(s.event_date.as_deref())) " " (opt(d.event_time.as_deref())) } }
                    div { dt { "Highest injury" } dd { (opt(s.highest_injury.as_deref())) } }
                    div { dt { "Fatal" } dd id="fig-fatal" { (int(s.injuries.fatal)) } }
                    div { dt { "Serious" } dd { (int(s.injuries.serious)) } }
                    div { dt { "Minor" } dd { (int(s.injuries.minor)) } }
                    div { dt { "Uninjured" } dd { (int(s.injuries.none)) } }
                    div { dt { "Phase of flight" } dd { (opt(s.phase.as_deref())) } }
                    div { dt { "Weather" } dd { (opt(s.weather.as_deref())) } }
                    div { dt { "Light" } dd { (opt(d.light_condition.as_deref())) } }
                    div { dt { "Airport" } dd { (opt(d.airport_code.as_deref())) " " (opt(d.airport_name.as_deref())) } }
                    div { dt { "Coordinates" } dd { (num(s.latitude)) ", " (num(s.longitude)) } }
                    div { dt { "Report status" } dd { (opt(d.report_status.as_deref())) } }
                    div { dt { "Published" } dd { (opt(d.publication_date.as_deref())) } }
                    @if s.synthetic { div { dt { "Sample" } dd { "synthetic demo data" } } }
                }
            }
            @if let Some(score) = score {
                section.noprint aria-labelledby="score-title" id="score" {
                    h2 id="score-title" { "Model score" }
                    p { "How likely an event like this one is fatal, by the " code { "fatal" } " model (it reads the damage and the aircraft involved), and what moved the score." }
                    (score)
                }
            }
            section aria-labelledby="narrative-title" {
                h2 id="narrative-title" { "Narrative" }
                @match d.narrative.as_deref().filter(|t| !t.trim().is_empty()) {
                    Some(t) => { @for para in t.split("\n").filter(|p| !p.trim().is_empty()) { p.narrative { (Text(para)) } } },
                    None => p { "No narrative recorded." },
                }
                h2 { "Probable cause" }
                @match d.probable_cause.as_deref().filter(|t| !t.trim().is_empty()) {
                    Some(t) => p.cause { (Text(t)) },
                    None => p { "No probable cause recorded." },
                }
            }
            section aria-labelledby="aircraft-title" {
                h2 id="aircraft-title" { "Aircraft" }
                @if d.aircraft.is_empty() { p { "No aircraft recorded." } }
                @for a in &d.aircraft {
                    h3 { "Aircraft " (a.aircraft_key) ": " (opt(a.make.as_deref())) " " (opt(a.model.as_deref())) }
                    dl.facts {
                        div { dt { "Registration" } dd { (opt(a.registration.as_deref())) } }
                        div { dt { "Serial number" } dd { (opt(a.serial_no.as_deref())) } }
                        div { dt { "Make as reported" } dd { (opt(a.make_raw.as_deref())) } }
                        div { dt { "Category" } dd { (opt(a.category.as_deref())) } }
                        div { dt { "Amateur-built" } dd { (yes_no(a.amateur_built)) } }
                        div { dt { "Engines" } dd { (num(a.num_engines)) " " (opt(a.engine_type.as_deref())) } }
                        div { dt { "FAR part" } dd { (opt(a.far_part.as_deref())) } }
                        div { dt { "Schedule" } dd { (opt(a.schedule.as_deref())) } }
                        div { dt { "Purpose" } dd { (opt(a.purpose.as_deref())) } }
                        div { dt { "Operator" } dd { (opt(a.operator.as_deref())) } }
                        div { dt { "Damage" } dd { (opt(a.damage.as_deref())) } }
                        div { dt { "Phase" } dd { (opt(a.phase.as_deref())) } }
                    }
                    @if !a.engines.is_empty() {
                        div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" { table {
                            caption { "Engines of aircraft " (a.aircraft_key) }
                            thead { tr { th scope="col" { "no." } th scope="col" { "type" } th scope="col" { "maker" } th scope="col" { "model" }
                                th scope="col" { "power" } th scope="col" { "fuel" } th scope="col" { "propeller" } th scope="col" { "hours total" } } }
                            tbody { @for e in &a.engines { tr {
                                th scope="row" { (e.eng_no) }
                                td { (opt(e.eng_type.as_deref())) } td { (opt(e.eng_mfgr.as_deref())) } td { (opt(e.eng_model.as_deref())) }
                                td { (num(e.power_units)) " " (opt(e.hp_or_lbs.as_deref())) } td { (opt(e.carb_fuel_injection.as_deref())) }
                                td { (opt(e.propeller_type.as_deref())) " " (opt(e.propeller_make.as_deref())) " " (opt(e.propeller_model.as_deref())) }
                                td.num { (num(e.eng_time_total)) }
                            } } }
                        } }
                    }
                }
            }
            @if !d.crew.is_empty() {
                section aria-labelledby="crew-title" {
                    h2 id="crew-title" { "Crew" }
                    div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" { table {
                        caption { "Flight crew" }
                        thead { tr { th scope="col" { "aircraft, no." } th scope="col" { "category" } th scope="col" { "age" } th scope="col" { "sex" }
                            th scope="col" { "medical" } th scope="col" { "injury" } th scope="col" { "seat belt" } th scope="col" { "harness" } } }
                        tbody { @for c in &d.crew { tr {
                            th scope="row" { (c.aircraft_key) ", " (c.crew_no) }
                            td { (opt(c.crew_category.as_deref())) } td.num { (num(c.crew_age)) } td { (opt(c.crew_sex.as_deref())) }
                            td { (opt(c.med_certf.as_deref())) } td { (opt(c.crew_inj_level.as_deref())) }
                            td { (yes_no(c.seatbelts_used)) } td { (yes_no(c.shldr_harn_used)) }
                        } } }
                    } }
                }
            }
            @if !d.injury_rows.is_empty() {
                section aria-labelledby="injuries-title" {
                    h2 id="injuries-title" { "Injuries by aircraft" }
                    div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" { table {
                        caption { "People by aircraft, category and injury" }
                        thead { tr { th scope="col" { "aircraft" } th scope="col" { "people" } th scope="col" { "injury" } th scope="col" { "count" } } }
                        tbody { @for i in &d.injury_rows { tr {
                            th scope="row" { (i.aircraft_key) } td { (Text(&i.person_category)) } td { (Text(&i.injury_level)) } td.num { (num(i.count)) }
                        } } }
                    } }
                }
            }
            section aria-labelledby="findings-title" {
                h2 id="findings-title" { "Findings" }
                @if d.findings.is_empty() { p { "No findings recorded." } } @else {
                    div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" { table {
                        caption { "Findings, by aircraft" }
                        thead { tr { th scope="col" { "aircraft, no." } th scope="col" { "finding" } th scope="col" { "code" } th scope="col" { "cause or factor" } } }
                        tbody { @for f in &d.findings { tr {
                            th scope="row" { (f.aircraft_key) ", " (f.finding_no) }
                            td { (opt(f.description.as_deref())) } td { (opt(f.code.as_deref())) } td { (opt(f.cause_factor.as_deref())) }
                        } } }
                    } }
                }
            }
            section aria-labelledby="sequence-title" {
                h2 id="sequence-title" { "Sequence of events" }
                @if d.occurrences.is_empty() { p { "No sequence recorded." } } @else {
                    ol.timeline {
                        @for o in &d.occurrences {
                            li {
                                strong { (opt(o.meaning.as_deref().or(o.code.as_deref()))) }
                                @if o.defining_event == Some(true) { " " span.badge { "defining event" } }
                                br;
                                span.meta { "aircraft " (o.aircraft_key) " · " (opt(o.phase_meaning.as_deref().or(o.phase.as_deref())))
                                    " · " (Text(&o.code_system)) " " (opt(o.code.as_deref())) }
                            }
                        }
                    }
                }
            }
            @if !d.recommendations.is_empty() {
                section aria-labelledby="recs-title" {
                    h2 id="recs-title" { "Safety recommendations" }
                    ul { @for r in &d.recommendations { li { (Text(r)) } } }
                }
            }
            section aria-labelledby="revisions-title" {
                h2 id="revisions-title" { "Revisions" }
                @if d.revisions.is_empty() { p { "No field has changed since it was first loaded." } } @else {
                    div.table-wrap tabindex="0" role="region" aria-label="Scrollable table" { table {
                        caption { "Changed fields, oldest first" }
                        thead { tr { th scope="col" { "when" } th scope="col" { "table" } th scope="col" { "row" } th scope="col" { "field" }
                            th scope="col" { "before" } th scope="col" { "after" } th scope="col" { "source" } } }
                        tbody { @for r in &d.revisions { tr {
                            th scope="row" { (Text(&r.changed_at)) } td { (Text(&r.table)) } td { (Text(&r.row_key)) } td { (Text(&r.field)) }
                            td { (opt(r.old_value.as_deref())) } td { (opt(r.new_value.as_deref())) } td { (Text(&r.source)) }
                        } } }
                    } }
                }
            }
            section aria-labelledby="sources-title" {
                h2 id="sources-title" { "Sources" }
                ul { @for src in &d.sources { li { (Text(&src.path)) " (" (Text(&src.format)) ", load " (src.load_id) ", " (Text(&src.loaded_at)) ")" } } }
            }
        }
    };
    shell(&title, "", main)
}
