//! Middleware every response passes through. See the crate documentation for the order.

mod content_type;
mod etag;
mod observe;
mod problems;
mod timeout;

pub(crate) use content_type::json_only;
pub(crate) use etag::etag;
pub(crate) use observe::{RequestId, observe};
pub(crate) use problems::problems;
pub(crate) use timeout::timeout;
