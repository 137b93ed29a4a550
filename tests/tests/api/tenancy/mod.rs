//! Organizations sharing one deployment cannot hurt each other: secrets stay out of the
//! table, replays reach only eligible endpoints, one organization's slow receivers do not
//! hold up another's webhooks, egress to one host is bounded, replays count, scopes mean
//! what the docs say, a CV is exactly the file checked, and nothing private is cached.

use integration_tests::{post, webhook_endpoints_router};
use serde_json::Value;

mod deliveries;
mod requests;
mod scopes;
mod secrets;

async fn subscribe(key: &str, body: Value) -> integration_tests::Reply {
    post("/api/v1/webhook_endpoints")
        .key(key)
        .json(&body)
        .send(&webhook_endpoints_router().await)
        .await
}
