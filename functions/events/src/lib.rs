//! The DynamoDB stream consumer. The event source mapping's filter hands it outbox inserts
//! only; it reads the domain event each one carries. Records it cannot read are reported as
//! batch item failures, so the mapping retries them (bisecting the batch) instead of
//! dropping them.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use shared::events::envelope_from_record;

pub async fn handle(event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        match envelope_from_record(record) {
            Ok((org, envelope)) => {
                tracing::info!(org = %org, event_id = %envelope.id, event_type = envelope.kind.as_str(), "domain event");
            }
            Err(err) => {
                tracing::error!(error = %err, "unreadable outbox record");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}
