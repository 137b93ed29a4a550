//! Fan-out: each domain event becomes one queue message per endpoint subscribed to it, so a
//! failing endpoint never delays or re-sends to the others.

use std::collections::HashMap;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use uuid::Uuid;

use crate::domain::outbox::Envelope;
use crate::table::store::Db;
use crate::webhooks::{self, Delivery, Endpoint};
use crate::ApiError;

pub struct Fanout {
    pub db: Db,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Fanout {
    /// Queues `envelope` for every endpoint of `org` that wants it; returns how many.
    /// `endpoints` caches each organization's endpoints for the rest of a batch.
    pub async fn fan_out(
        &self,
        org: Uuid,
        envelope: &Envelope,
        endpoints: &mut HashMap<Uuid, Vec<Endpoint>>,
    ) -> Result<usize, ApiError> {
        if let std::collections::hash_map::Entry::Vacant(slot) = endpoints.entry(org) {
            slot.insert(webhooks::list(&self.db, org).await?);
        }
        let targets: Vec<&Endpoint> = endpoints[&org]
            .iter()
            .filter(|e| e.wants(envelope.kind))
            .collect();
        // The payload is serialized once, for every endpoint's message.
        let delivery = Delivery::new(org, Uuid::nil(), envelope)?;
        for chunk in targets.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, endpoint)| {
                    let message = Delivery {
                        endpoint_id: endpoint.id,
                        ..delivery.clone()
                    };
                    let body = serde_json::to_string(&message).map_err(ApiError::internal)?;
                    // SQS fair queues: an organization with a backlog does not hold up the
                    // messages of the others.
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .message_group_id(org.to_string())
                        .build()
                        .map_err(ApiError::internal)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .sqs
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| ApiError::internal(aws_sdk_sqs::error::DisplayErrorContext(e)))?;
            // The whole event is retried: endpoints already queued may get it twice, which
            // at-least-once delivery allows and the event id lets receivers spot.
            if let Some(failed) = out.failed().first() {
                return Err(ApiError::internal(format!(
                    "queueing event {} failed: {}",
                    envelope.id,
                    failed.message().unwrap_or(failed.code())
                )));
            }
        }
        Ok(targets.len())
    }
}
