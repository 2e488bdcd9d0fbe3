//! Middleware every response passes through. See the crate documentation for the order.

mod etag;
mod observe;
mod problems;
mod timeout;

pub(crate) use etag::etag;
pub(crate) use observe::{RequestId, observe};
pub(crate) use problems::problems;
pub(crate) use timeout::timeout;
