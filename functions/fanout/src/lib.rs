//! The DynamoDB stream consumer. The event source mapping's filter hands it outbox inserts
//! only; it fans each domain event out to the delivery queue, one message per subscribed
//! endpoint. Stream batches are retried from the first failed record on, so processing stops
//! there: records after it come back anyway.

use std::collections::HashMap;
use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use shared::domain::outbox::{envelope_of, Envelope, PAYLOAD_ATTRIBUTE};
use shared::webhooks::fanout::Fanout;
use shared::webhooks::Endpoint;
use shared::ApiError;
use uuid::Uuid;

pub async fn handle(fanout: &Fanout, event: Event) -> DynamoDbEventResponse {
    handle_with(fanout, event).await
}

/// The envelope an outbox insert's stream record carries, with its organization: the
/// Lambda event's shape is read here, at the edge; what an outbox item holds is the
/// domain's ([`envelope_of`]).
pub fn envelope_from_record(record: &EventRecord) -> Result<(Uuid, Envelope), String> {
    let text = |name: &str| match record.change.new_image.get(name) {
        Some(serde_dynamo::AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    envelope_of(text(shared::table::schema::PK), text(PAYLOAD_ATTRIBUTE))
}

/// What the handler asks of the fan-out, so that a test can stand in a failing one.
trait FanOut {
    fn fan_out(
        &self,
        org: Uuid,
        envelope: &Envelope,
        endpoints: &mut HashMap<Uuid, Vec<Endpoint>>,
    ) -> impl Future<Output = Result<usize, ApiError>>;
}

impl FanOut for Fanout {
    fn fan_out(
        &self,
        org: Uuid,
        envelope: &Envelope,
        endpoints: &mut HashMap<Uuid, Vec<Endpoint>>,
    ) -> impl Future<Output = Result<usize, ApiError>> {
        Fanout::fan_out(self, org, envelope, endpoints)
    }
}

async fn handle_with(fanout: &impl FanOut, event: Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let mut endpoints = HashMap::new();
    for record in &event.records {
        let result = match envelope_from_record(record) {
            Ok((org, envelope)) => {
                shared::panics::caught(fanout.fan_out(org, &envelope, &mut endpoints))
                    .await
                    .map_err(|panic| format!("fan-out panicked: {panic}"))
                    .and_then(|fanned| fanned.map_err(|err| err.to_string()))
                    .map(|queued| {
                        tracing::info!(org = %org, event_id = %envelope.id, event_type = envelope.kind.as_str(), queued, "domain event");
                    })
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::outbox::{outbox_item, EventType};

    /// Panics on the event about the dossier named "boom" and fans the others out.
    struct PanicsOnBoom;

    impl FanOut for PanicsOnBoom {
        async fn fan_out(
            &self,
            _: Uuid,
            envelope: &Envelope,
            _: &mut HashMap<Uuid, Vec<Endpoint>>,
        ) -> Result<usize, ApiError> {
            assert_ne!(envelope.data["name"], "boom", "a bug in fan-out");
            Ok(1)
        }
    }

    fn outbox_insert(name: &str, sequence_number: &str) -> serde_json::Value {
        let item = outbox_item(
            Uuid::now_v7(),
            EventType::DossierCreated,
            &serde_json::json!({ "name": name }),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        let image: serde_dynamo::Item = serde_dynamo::Item::from(item);
        serde_json::json!({
            "eventID": sequence_number,
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": {
                "SequenceNumber": sequence_number,
                "SizeBytes": 100,
                "StreamViewType": "NEW_IMAGE",
                "NewImage": serde_json::to_value(image).unwrap(),
            },
        })
    }

    #[tokio::test]
    async fn a_panicking_record_fails_from_itself_on_and_earlier_records_stand() {
        let event: Event = serde_json::from_value(serde_json::json!({
            "Records": [outbox_insert("fine", "100"), outbox_insert("boom", "200"), outbox_insert("later", "300")],
        }))
        .unwrap();
        let response = handle_with(&PanicsOnBoom, event).await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_deref())
            .collect();
        assert_eq!(failed, [Some("200")]);
    }
}
