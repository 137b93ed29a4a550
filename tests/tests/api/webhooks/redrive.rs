//! `events redrive` delivers an event the stream consumer gave up on, exactly once.

use std::time::Duration;

use integration_tests::{growth_org, outbox, pipeline, stack, Receiver};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{create_dossier, endpoint, ids};

/// A fault between the stream and the queue: an endpoint item the fan-out cannot read
/// makes it fail the organization's event past its retries, so the event's stream position
/// goes to the failure queue. Once the fault is mended, `events redrive` delivers the event
/// once, however often it is redriven.
#[tokio::test]
async fn redrive_delivers_an_event_the_stream_consumer_gave_up_on_exactly_once() {
    use leadgrid_tools::admin::events::Redrive;
    pipeline();
    let stack = stack().await;
    let org = growth_org().await;
    let db = stack.dynamodb();
    let broken = shared::table::store::key(
        &format!("ORG#{}", org.id),
        &shared::table::keys::endpoint_sk(Uuid::now_v7()),
    );
    db.put_item()
        .table_name(&stack.config.table_name)
        .set_item(Some(broken.clone()))
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let failure_queue = std::env::var("STREAM_FAILURE_QUEUE_URL").unwrap();

    let dossier = create_dossier(&org, "Redriven").await;
    let event_id = outbox(org.id).await[0].id.clone();
    let mut failure = None;
    for _ in 0..200 {
        let seen = sqs
            .receive_message()
            .queue_url(&failure_queue)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
        failure = seen
            .messages
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.body().is_some());
        if failure.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failure = failure.expect("the fan-out's retries ran out and its position was sent");

    db.delete_item()
        .table_name(&stack.config.table_name)
        .set_key(Some(broken))
        .send()
        .await
        .unwrap();
    let receiver = Receiver::start(|_, _| 200).await;
    endpoint(&org, &receiver.url, None).await;
    let events_queue = stack.config.events_queue_url.clone().unwrap();
    let admin = stack.admin();
    let streams = aws_sdk_dynamodbstreams::Client::new(&stack.sdk);
    let redrive = Redrive {
        admin: &admin,
        streams: &streams,
        sqs: &sqs,
        failure_queue_url: &failure_queue,
        events_queue_url: &events_queue,
    };
    let report = serde_json::to_value(redrive.run().await.unwrap()).unwrap();
    assert!(report["kept"].as_array().unwrap().is_empty(), "{report}");
    assert!(
        report["redriven"]
            .as_array()
            .unwrap()
            .contains(&json!({ "event_id": event_id, "queued": 1 })),
        "{report}"
    );
    let delivered = receiver
        .wait_for(Duration::from_secs(20), |r| !r.is_empty())
        .await;
    assert_eq!(ids(&delivered), std::slice::from_ref(&event_id));
    let body: Value = serde_json::from_str(&delivered[0].body).unwrap();
    assert_eq!(body["data"]["id"], dossier["id"]);

    // The same position again: nothing is sent twice.
    sqs.send_message()
        .queue_url(&failure_queue)
        .message_body(failure.body.unwrap())
        .send()
        .await
        .unwrap();
    let again = serde_json::to_value(redrive.run().await.unwrap()).unwrap();
    assert!(
        again["already_redriven"]
            .as_array()
            .unwrap()
            .contains(&json!(event_id)),
        "{again}"
    );
    assert!(!again
        .to_string()
        .contains(&format!("{{\"event_id\":\"{event_id}\"")));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.requests().len(), 1);
}
