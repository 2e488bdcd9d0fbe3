//! Extractors whose refusals are our own problem documents: the framework's
//! rejection texts (`Invalid URL: Invalid UTF-8 in ev_id`) never reach a client.

use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::http::request::Parts;

use crate::error::ApiError;

/// The one parameter of a route's path (`{ev_id}`, `{id}`), as text. A value
/// that is not percent-encoded UTF-8 is a 400 naming the parameter.
#[derive(Debug, Clone)]
pub(crate) struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::rejection::PathRejection;
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(text)) => Ok(PathText(text)),
            Err(PathRejection::FailedToDeserializePathParams(_)) => {
                let route = parts.extensions.get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
                Err(ApiError::invalid(param_name(&route), "must be percent-encoded UTF-8 text"))
            }
            Err(other) => Err(ApiError::internal(format!("path parameter of a route: {}", other.body_text()))),
        }
    }
}

/// The name of the first `{param}` of a route template (`path` when none).
fn param_name(route: &str) -> String {
    route
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map_or_else(|| "path".to_string(), |(name, _)| name.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_parameter_is_named_from_the_route() {
        assert_eq!(super::param_name("/api/v1/events/{ev_id}"), "ev_id");
        assert_eq!(super::param_name("/api/v1/admin/users/{id}/role"), "id");
        assert_eq!(super::param_name("/health"), "path");
    }
}
