//! The dashboard's stylesheet and icon, compiled into the binary and served
//! as files (the Content-Security-Policy allows no inline style).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

static STYLE: &str = include_str!("../../assets/dashboard/dashboard.css");
static CHALLENGE: &str = include_str!("../../assets/dashboard/challenge.js");
static SCRIPT: &str = include_str!("../../assets/dashboard/dashboard.js");
static ICON: &str = include_str!("../../assets/dashboard/icon.svg");

pub(crate) async fn style() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"))], STYLE).into_response()
}

pub(crate) async fn icon() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"))], ICON).into_response()
}

/// The pages' enhancement script: keeps the view's forms equal to the address
/// on back/forward (every page loads it; pages work without it).
pub(crate) async fn script() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"))], SCRIPT).into_response()
}

/// The script that solves the sign-in form's proof-of-work challenge (loaded
/// by that form alone).
pub(crate) async fn challenge() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"))], CHALLENGE).into_response()
}
