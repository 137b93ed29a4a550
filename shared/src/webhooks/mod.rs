//! Webhooks: endpoints and their signing secrets, the queue message that carries one event
//! to one endpoint, the attempt log, the retry schedule, the outbound destination policy,
//! and the verdict on each attempt.

pub mod attempts;
#[cfg(feature = "delivery")]
mod copies;
#[cfg(feature = "delivery")]
pub mod delivery;
mod destinations;
mod endpoint;
pub mod endpoints;
#[cfg(feature = "sqs")]
pub mod fanout;
pub mod limits;
mod message;
#[cfg(feature = "delivery")]
mod request;
mod schedule;
mod signing;
#[cfg(feature = "delivery")]
pub mod verdict;

pub use attempts::{Attempt, Outcome};
pub use destinations::{Destinations, WebhookUrl, MAX_URL_CHARS};
pub use endpoint::{get, list, Endpoint, Health, Subscription, DISABLE_AFTER_FAILING};
pub use message::{Delivery, TestEvent, WebhookType};
pub use schedule::RetrySchedule;
pub use signing::{
    signature_header, SecretVersion, EVENT_ID_HEADER, EVENT_TYPE_HEADER, MAX_SIGNING_SECRETS,
    SIGNATURE_HEADER, USER_AGENT,
};
