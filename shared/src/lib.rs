//! Everything the LeadGrid functions share: one module per concept, so each function
//! compiles only what it uses (S3 and SQS clients sit behind the `s3` and `sqs` features).

pub mod auth;
pub mod clock;
pub mod config;
pub mod contacts;
#[cfg(feature = "s3")]
pub mod cv;
#[cfg(feature = "delivery")]
pub mod delivery;
pub mod dossiers;
pub mod error;
pub mod events;
#[cfg(feature = "sqs")]
pub mod fanout;
pub mod flows;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod links;
pub mod notes;
pub mod orgs;
pub mod pagination;
pub mod ratelimit;
pub mod secrets;
pub mod table;
pub mod validate;
pub mod webhooks;

pub use error::{ApiError, ApiResult};

/// Structured JSON logs through `tracing`; `RUST_LOG` sets the level (default `info`).
/// Never log keys, secrets or request bodies: only ids, statuses and durations.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
}
