//! The queue poller: an SQS queue, read as the deployed event source mapping reads it,
//! invoking `delivery`.

use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::{batch_item_failures, Invoker};

/// An SQS message in the JSON shape Lambda hands to a queue consumer.
pub fn lambda_sqs_record(message: &Message, queue_arn: &str, region: &str) -> Value {
    let attributes: serde_json::Map<String, Value> = message
        .attributes
        .iter()
        .flatten()
        .map(|(name, value)| (name.as_str().to_string(), Value::String(value.clone())))
        .collect();
    let message_attributes: serde_json::Map<String, Value> = message
        .message_attributes
        .iter()
        .flatten()
        .map(|(name, value)| {
            (
                name.clone(),
                json!({
                    "stringValue": value.string_value,
                    "dataType": value.data_type,
                    "stringListValues": [],
                    "binaryListValues": [],
                }),
            )
        })
        .collect();
    json!({
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    })
}

pub struct QueuePoller<I> {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub function: String,
    pub invoker: I,
}

impl<I: Invoker> QueuePoller<I> {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                result = self.poll_once(Duration::from_secs(1)) => {
                    if let Err(err) = result {
                        eprintln!("[queue poller] {err}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }
    }

    /// Receives one batch, invokes the function with it, and deletes what succeeded. Failed
    /// messages stay in the queue and come back when their visibility timeout ends (a retry
    /// the function scheduled is a new, delayed message). Returns (received, deleted).
    pub async fn poll_once(&self, wait: Duration) -> Result<(usize, usize), String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| format!("SQS: {}", crate::local::describe(e)))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok((0, 0));
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| lambda_sqs_record(m, &self.queue_arn, &self.region))
            .collect();
        let failed = match self
            .invoker
            .invoke(&self.function, json!({ "Records": records }))
            .await
        {
            Ok(response) => batch_item_failures(&response),
            Err(err) => {
                eprintln!("[queue poller] {err}");
                return Ok((messages.len(), 0));
            }
        };
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !m.message_id.as_ref().is_some_and(|id| failed.contains(id)))
            .enumerate()
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone()?)
                    .build()
                    .ok()
            })
            .collect();
        let deleted = entries.len();
        if deleted > 0 {
            self.sqs
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| format!("SQS: {}", crate::local::describe(e)))?;
        }
        Ok((messages.len(), deleted))
    }
}
