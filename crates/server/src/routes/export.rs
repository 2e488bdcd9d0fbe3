//! `GET /api/v1/export/events.{csv,geojson}`: every filtered event, streamed.
//!
//! A blocking producer walks the store's export cursor and sends chunks of about
//! 64 KiB through a bounded channel to the response body, so memory stays
//! constant whatever the size of the export, and a client that stops reading
//! stops the producer (its next send fails).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ntsb_model::query::{EventFilter, EventSummary};
use tokio::sync::mpsc;

use crate::access::AuthUser;
use crate::error::{ApiError, Problem};
use crate::params::{FilterQuery, Query, TextQuery};
use crate::routes::events::filter_of;
use crate::routes::geo::{GEO_JSON, feature};
use crate::state::{AppState, blocking};

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;
/// Chunks buffered between producer and client.
const CHANNEL: usize = 8;

/// Columns of the CSV export, in order.
pub(crate) const CSV_COLUMNS: &[&str] = &[
    "ev_id",
    "ntsb_no",
    "event_date",
    "event_type",
    "state",
    "city",
    "country",
    "latitude",
    "longitude",
    "highest_injury",
    "fatal",
    "serious",
    "minor",
    "none",
    "make",
    "model",
    "phase",
    "weather",
    "has_narrative",
    "synthetic",
];

#[utoipa::path(get, path = "/api/v1/export/events.csv", tag = "exports", summary = "Export events as CSV",
    description = "Every filtered event, oldest first, one row each (RFC 4180, header row first), streamed. \
        Costs one unit of the daily quota per 100 rows (rounded up), charged before streaming: \
        429 `quota_exceeded` when less is left.",
    params(FilterQuery, TextQuery),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn csv(
    State(state): State<AppState>,
    AuthUser(who): AuthUser,
    Query(filter, text, _): Query<FilterQuery, TextQuery>,
) -> Result<Response, ApiError> {
    let filter = filter_of(&state, &filter, &text).await?;
    let charged = charge_rows(&state, &who, &filter).await?;
    let mut header_row = CSV_COLUMNS.join(",");
    header_row.push_str("\r\n");
    let body = stream(state, filter, header_row, String::new(), |e, out, _| csv_row(e, out));
    Ok(attachment(body, "text/csv; charset=utf-8", "events.csv", charged))
}

#[utoipa::path(get, path = "/api/v1/export/events.geojson", tag = "exports", summary = "Export events as GeoJSON",
    description = "Every filtered event, oldest first, as one FeatureCollection (events without \
        coordinates have a null geometry), streamed. Costs one unit of the daily quota per 100 rows \
        (rounded up), charged before streaming: 429 `quota_exceeded` when less is left.",
    params(FilterQuery, TextQuery),
    responses((status = 200, description = "GeoJSON FeatureCollection", content_type = "application/geo+json", body = Object),
        (status = 400, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn geojson(
    State(state): State<AppState>,
    AuthUser(who): AuthUser,
    Query(filter, text, _): Query<FilterQuery, TextQuery>,
) -> Result<Response, ApiError> {
    let filter = filter_of(&state, &filter, &text).await?;
    let charged = charge_rows(&state, &who, &filter).await?;
    let head = "{\"type\":\"FeatureCollection\",\"features\":[\n".to_string();
    let body = stream(state, filter, head, "\n]}\n".to_string(), |e, out, first| {
        if !first {
            out.push_str(",\n");
        }
        out.push_str(&feature(e, None).to_string());
    });
    Ok(attachment(body, GEO_JSON, "events.geojson", charged))
}

/// Charges an export by the rows it will return: one unit of the daily quota
/// per [`ntsb_auth::EXPORT_ROWS_PER_UNIT`] rows (rounded up; the request's own
/// unit is the first), counted before anything is streamed.
async fn charge_rows(
    state: &AppState,
    who: &ntsb_auth::Principal,
    filter: &EventFilter,
) -> Result<Option<ntsb_auth::Limit>, ApiError> {
    let Some(auth) = state.auth.as_ref() else { return Ok(None) };
    if auth.tier(who.role).daily == 0 {
        return Ok(None);
    }
    let (counting, f) = (state.clone(), filter.clone());
    let rows = blocking(move || Ok(counting.queries.summary(&f)?.events)).await?;
    let units = rows.div_ceil(ntsb_auth::EXPORT_ROWS_PER_UNIT).max(1);
    crate::access::charge(Some(auth), who, units - 1).await
}

fn attachment(
    body: Body,
    content_type: &'static str,
    filename: &'static str,
    charged: Option<ntsb_auth::Limit>,
) -> Response {
    let mut res = body.into_response();
    if let Some(limit) = charged {
        res.extensions_mut().insert(limit);
    }
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Starts the producer and returns the body that streams what it writes.
fn stream(
    state: AppState,
    filter: EventFilter,
    head: String,
    tail: String,
    write: fn(&EventSummary, &mut String, bool),
) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL);
    tokio::task::spawn_blocking(move || {
        let mut buf = head;
        let mut first = true;
        let sent = state.queries.export_events(&filter, &mut |e| {
            write(e, &mut buf, first);
            first = false;
            if buf.len() >= CHUNK {
                let chunk = Bytes::from(std::mem::take(&mut buf));
                tx.blocking_send(Ok(chunk)).map_err(|_| client_gone())?;
            }
            Ok(())
        });
        match sent {
            Ok(_) => {
                buf.push_str(&tail);
                let _ = tx.blocking_send(Ok(Bytes::from(buf)));
            }
            Err(e) if is_client_gone(&e) => tracing::debug!("export stopped: the client went away"),
            Err(e) => {
                // The head is sent already: all we can do is cut the body short so
                // the client sees an incomplete download, not a complete-looking one.
                tracing::error!(cause = %e, "export failed mid-stream");
                let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
            }
        }
    });
    Body::from_stream(Chunks(rx))
}

const CLIENT_GONE: &str = "http client closed the export";

fn client_gone() -> ntsb_store::Error {
    ntsb_store::Error::Io {
        path: CLIENT_GONE.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client closed the connection"),
    }
}

fn is_client_gone(e: &ntsb_store::Error) -> bool {
    matches!(e, ntsb_store::Error::Io { path, .. } if path == CLIENT_GONE)
}

/// The receiving end of the producer's channel as a body stream.
struct Chunks(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// One CSV row (quoting and the formula guard: [`crate::csv::write_record`]).
fn csv_row(e: &EventSummary, out: &mut String) {
    let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let fields: [String; 20] = [
        e.ev_id.clone().unwrap_or_default(),
        e.ntsb_no.clone().unwrap_or_default(),
        e.event_date.clone().unwrap_or_default(),
        e.event_type.clone().unwrap_or_default(),
        e.state.clone().unwrap_or_default(),
        e.city.clone().unwrap_or_default(),
        e.country.clone().unwrap_or_default(),
        num(e.latitude),
        num(e.longitude),
        e.highest_injury.clone().unwrap_or_default(),
        e.injuries.fatal.to_string(),
        e.injuries.serious.to_string(),
        e.injuries.minor.to_string(),
        e.injuries.none.to_string(),
        e.make.clone().unwrap_or_default(),
        e.model.clone().unwrap_or_default(),
        e.phase.clone().unwrap_or_default(),
        e.weather.clone().unwrap_or_default(),
        e.has_narrative.to_string(),
        e.synthetic.to_string(),
    ];
    crate::csv::write_record(out, &fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let e = EventSummary { city: Some("Boise, \"ID\"".into()), ..EventSummary::default() };
        let mut out = String::new();
        csv_row(&e, &mut out);
        assert!(out.contains(",\"Boise, \"\"ID\"\"\","), "{out}");
        assert_eq!(out.matches(',').count(), CSV_COLUMNS.len() - 1 + 1, "{out}");
    }

    #[test]
    fn csv_defuses_a_formula_in_free_text() {
        let e = EventSummary { city: Some("=HYPERLINK(\"http://x\")".into()), ..EventSummary::default() };
        let mut out = String::new();
        csv_row(&e, &mut out);
        assert!(out.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "{out}");
    }
}
