//! The dashboard's stylesheet and icon, compiled into the binary and served
//! as files (the Content-Security-Policy allows no inline style).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

static STYLE: &str = include_str!("../../assets/dashboard/dashboard.css");
static ICON: &str = include_str!("../../assets/dashboard/icon.svg");

pub(crate) async fn style() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"))], STYLE).into_response()
}

pub(crate) async fn icon() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"))], ICON).into_response()
}
