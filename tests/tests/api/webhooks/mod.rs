//! Domain events delivered as signed webhooks through the deployed pipeline's code: the
//! stream poller feeds `fanout`, the queue poller feeds `delivery`.

use integration_tests::{dossiers_router, post, stack, Received, TestOrg};
use serde_json::{json, Value};
use shared::domain::outbox::EventType;
use shared::webhooks::Destinations;
use uuid::Uuid;

mod delivery;
mod destinations;
mod disabling;
mod redrive;
mod retries;
mod rotation;

fn local() -> Destinations {
    Destinations::parse("public,loopback").unwrap()
}

async fn endpoint(org: &TestOrg, url: &str, events: Option<&str>) -> (Uuid, String) {
    let admin = stack().await.admin();
    let events = leadgrid_tools::admin::webhooks::parse_event_types(events).unwrap();
    let created = admin
        .create_webhook(org.id, url, events, local())
        .await
        .unwrap();
    (created.endpoint.id, created.secret)
}

async fn create_dossier(org: &TestOrg, name: &str) -> Value {
    let reply = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": name}))
        .send(&dossiers_router().await)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["data"].clone()
}

fn ids(requests: &[Received]) -> Vec<String> {
    requests.iter().map(Received::event_id).collect()
}

fn header<'a>(request: &'a Received, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A receive of the queue message for `delivery`, sent at `sent`, for the `receive_count`th
/// time.
pub(crate) fn sqs_message(
    delivery: &shared::webhooks::Delivery,
    sent: std::time::SystemTime,
    receive_count: u32,
) -> aws_lambda_events::event::sqs::SqsMessage {
    let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
    message.message_id = Some(Uuid::new_v4().to_string());
    message.receipt_handle = Some("not-a-real-receipt".into());
    message.body = Some(serde_json::to_string(delivery).unwrap());
    let sent_ms = sent
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    message
        .attributes
        .insert("SentTimestamp".into(), sent_ms.to_string());
    message
        .attributes
        .insert("ApproximateReceiveCount".into(), receive_count.to_string());
    message
}

/// A `note.created` event with a fresh id, as the outbox would hold it.
fn note_created() -> shared::domain::outbox::Envelope {
    shared::domain::outbox::Envelope {
        id: format!("evt_{}", Uuid::now_v7().simple()),
        kind: EventType::NoteCreated,
        created_at: "2026-11-26T12:00:00Z".into(),
        data: json!({"id": "n"}),
    }
}

pub(crate) fn batch(
    message: aws_lambda_events::event::sqs::SqsMessage,
) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records.push(message);
    event
}
