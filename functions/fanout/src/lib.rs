//! The DynamoDB stream consumer. The event source mapping's filter hands it outbox inserts
//! only; it fans each domain event out to the delivery queue, one message per subscribed
//! endpoint. Stream batches are retried from the first failed record on, so processing stops
//! there: records after it come back anyway.

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use shared::domain::outbox::envelope_from_record;
use shared::webhooks::fanout::Fanout;

pub async fn handle(fanout: &Fanout, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let mut endpoints = HashMap::new();
    for record in &event.records {
        let result = match envelope_from_record(record) {
            Ok((org, envelope)) => fanout
                .fan_out(org, &envelope, &mut endpoints)
                .await
                .map(|queued| {
                    tracing::info!(org = %org, event_id = %envelope.id, event_type = envelope.kind.as_str(), queued, "domain event");
                })
                .map_err(|err| err.to_string()),
            Err(err) => Err(err),
        };
        if let Err(err) = result {
            tracing::error!(error = %err, "outbox record not fanned out; retrying from it");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}
