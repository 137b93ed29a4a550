//! The event source mappings AWS runs, done locally: a DynamoDB stream poller that invokes
//! the `fanout` function, and an SQS poller that invokes `delivery`. Both send real Lambda
//! event shapes and honour partial batch failures, as the deployed mappings do.

use std::future::Future;

use serde_json::Value;

mod queue;
mod stream;

pub use queue::{lambda_sqs_record, QueuePoller};
pub use stream::{lambda_stream_record, StreamPoller};

/// Invokes a function with an event and returns its response payload.
pub trait Invoker: Send + Sync {
    fn invoke(
        &self,
        function: &str,
        event: Value,
    ) -> impl Future<Output = Result<Value, String>> + Send;
}

/// The Lambda Invoke API that `cargo lambda watch` serves next to the HTTP routes.
pub struct HttpInvoker {
    client: reqwest::Client,
    base_url: String,
}

impl HttpInvoker {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            client: reqwest::Client::new(),
            base_url: base_url.into(),
        }
    }
}

impl Invoker for HttpInvoker {
    async fn invoke(&self, function: &str, event: Value) -> Result<Value, String> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.base_url
        );
        let response = self
            .client
            .post(url)
            .json(&event)
            .send()
            .await
            .map_err(|e| format!("invoking {function}: {e}"))?;
        let failed = !response.status().is_success()
            || response.headers().contains_key("x-amz-function-error");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if failed || body.get("errorType").is_some() {
            return Err(format!("{function} failed: {body}"));
        }
        Ok(body)
    }
}

/// The identifiers a partial batch response names as failed.
pub fn batch_item_failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["itemIdentifier"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
