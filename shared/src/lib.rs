//! Everything the LeadGrid functions share, in layers (arrows point down only):
//!
//! - [`web`]: the request shell, extractors, the gate (API keys, plan, rate limit) every
//!   API function runs behind, and the idempotency layer inside it;
//! - [`webhooks`]: endpoints, signing, destination policy, fan-out and delivery;
//! - [`domain`]: dossiers, contacts, links, notes, flows, organizations, request fields and the
//!   outbox of domain events; it knows nothing of HTTP;
//! - [`table`]: the single table's schema, keys, store and transactions, the only code that
//!   calls DynamoDB;
//! - [`error`], [`config`], [`functions`] (the registry of the deployment's functions), [`secrets`], [`clock`], [`ids`], [`names`], [`text`] (how text compares),
//!   [`panics`] (a panic fails one request or record, not the sandbox), [`metrics`] (EMF
//!   lines) and `cv` (S3).
//!
//! S3 and SQS clients sit behind the `s3` and `sqs` features, so each function compiles
//! only what it uses.

pub mod clock;
pub mod config;
#[cfg(feature = "s3")]
pub mod cv;
pub mod domain;
pub mod error;
pub mod functions;
pub mod ids;
pub mod metrics;
pub mod names;
pub mod panics;
pub mod secrets;
pub mod table;
pub mod text;
pub mod web;
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
