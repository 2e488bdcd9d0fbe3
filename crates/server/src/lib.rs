//! The HTTP API of NTSB Analytics.
//!
//! This crate is the only one that knows HTTP. It turns requests into calls on the
//! store's read interface ([`ntsb_store::Queries`]) and the full-text index
//! ([`ntsb_search::SearchIndex`]), and their answers into JSON, GeoJSON, CSV or
//! RFC 9457 problem documents. Handlers stay thin: they parse parameters
//! ([`params`]), run the blocking engine call on tokio's blocking pool, and
//! serialise.
//!
//! Every response passes through the same middleware (outermost first): request
//! id and metrics, security headers, CORS (only when origins are configured),
//! compression, problem documents for bare error statuses, request timeout,
//! body-size limit. Cacheable `GET`s under `/api/v1` also get an `ETag` and
//! `Cache-Control`, answer `If-None-Match` with `304`, and are answered from the
//! in-process [`cache::ResponseCache`] until the store's data version changes.
//!
//! The same router serves the dashboard's HTML pages at `/` (unless
//! [`ServerOptions::dashboard`] is off), built from the same query functions as
//! the JSON routes; see `docs/ARCHITECTURE.md`.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<ntsb_store::sqlite::SqliteStore>,
//! #               index: std::sync::Arc<ntsb_search::SearchIndex>) -> std::io::Result<()> {
//! use ntsb_server::{AppState, ServerOptions};
//! let state = AppState::from_sqlite(store, index);
//! let listen = "127.0.0.1:8080".parse().unwrap();
//! ntsb_server::serve(state, listen, ServerOptions::default(), ntsb_server::shutdown_signal()).await
//! # }
//! ```
#![deny(missing_docs)]

mod access;
pub mod cache;
mod connections;
mod csv;
mod dashboard;
mod error;
mod extract;
mod fields;
mod json;
mod live;
mod metrics;
mod middleware;
mod openapi;
pub mod params;
mod process;
pub mod redis_link;
mod routes;
mod server;
pub mod shared_counters;
mod state;
pub mod tls;

pub use access::{Policy, policy_for};
pub use error::{ApiError, Problem};
pub use live::{DEFAULT_HEARTBEAT, DEFAULT_TICKET_TTL, Live, LiveOptions};
pub use metrics::{Family, Metrics};
pub use openapi::openapi;
pub use routes::{CONTENT_SECURITY_POLICY, policies, route_paths, router, router_with};
pub use server::{
    DEFAULT_MAX_CONNECTIONS_PER_IP, LISTEN_BACKLOG, Role, ServerOptions, bind, serve, serve_on, shutdown_signal,
};
pub use state::{AppState, DEFAULT_CACHE_BYTES};
pub use tls::TlsOptions;
