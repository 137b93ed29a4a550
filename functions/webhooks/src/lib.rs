//! The SQS consumer that delivers webhooks: see `shared::delivery`.

pub use shared::delivery::Deliverer;
