//! The local event source mappings: real DynamoDB stream records and SQS messages, handed
//! to the consumer functions in Lambda's event shapes, with partial batch failures honoured.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadgrid_tools::local::pollers::{Invoker, QueuePoller, StreamPoller};
use serde_json::{json, Value};
use shared::table::store::{s, Item};

/// Calls the real consumer functions in process, recording every event it passes on.
#[derive(Clone, Default)]
struct InProcess {
    seen: Arc<Mutex<Vec<Value>>>,
    fail_bodies: Vec<String>,
}

impl Invoker for InProcess {
    async fn invoke(&self, function: &str, event: Value) -> Result<Value, String> {
        self.seen.lock().unwrap().push(event.clone());
        match function {
            "fanout" => {
                let event: aws_lambda_events::event::dynamodb::Event =
                    serde_json::from_value(event)
                        .map_err(|e| format!("not a DynamoDB event: {e}"))?;
                let fanout = integration_tests::stack().await.fanout();
                Ok(serde_json::to_value(fanout::handle(&fanout, event).await).unwrap())
            }
            "sqs-test" => {
                let event: aws_lambda_events::event::sqs::SqsEvent =
                    serde_json::from_value(event).map_err(|e| format!("not an SQS event: {e}"))?;
                let mut response = aws_lambda_events::event::sqs::SqsBatchResponse::default();
                for record in event.records {
                    if self.fail_bodies.contains(record.body.as_ref().unwrap()) {
                        response.add_failure(record.message_id.unwrap());
                    }
                }
                Ok(serde_json::to_value(response).unwrap())
            }
            other => Err(format!("no function {other}")),
        }
    }
}

fn outbox_item(org: uuid::Uuid, id: &str) -> Item {
    let payload = json!({"id": id, "type": "dossier.created", "created_at": "2026-04-15T12:04:10Z", "data": {"id": "a91c"}});
    HashMap::from([
        ("PK".to_string(), s(format!("ORG#{org}"))),
        ("SK".to_string(), s(format!("EVT#{id}"))),
        ("id".to_string(), s(id)),
        ("type".to_string(), s("dossier.created")),
        ("payload".to_string(), s(payload.to_string())),
    ])
}

#[tokio::test]
async fn stream_poller_delivers_outbox_inserts_in_lambdas_shape() {
    let stack = integration_tests::stack().await;
    let db = stack.dynamodb();
    let table = stack.config.table_name.clone();
    let invoker = InProcess::default();
    let mut poller = StreamPoller::new(
        db.clone(),
        aws_sdk_dynamodbstreams::Client::new(&stack.sdk),
        &table,
        "us-east-1",
        "fanout",
        invoker.clone(),
        None,
    )
    .starting_at_latest();
    poller.poll_once().await.unwrap();

    let org = uuid::Uuid::now_v7();
    let event_id = format!("evt_{}", uuid::Uuid::now_v7().simple());
    db.put_item()
        .table_name(&table)
        .set_item(Some(outbox_item(org, &event_id)))
        .send()
        .await
        .unwrap();
    // Not an outbox insert: filtered out like the deployed mapping's FilterCriteria does.
    db.put_item()
        .table_name(&table)
        .set_item(Some(HashMap::from([
            ("PK".to_string(), s(format!("ORG#{org}"))),
            ("SK".to_string(), s("NOT_AN_EVENT")),
        ])))
        .send()
        .await
        .unwrap();

    let mut delivered = Vec::new();
    for _ in 0..40 {
        poller.poll_once().await.unwrap();
        delivered = invoker
            .seen
            .lock()
            .unwrap()
            .iter()
            .flat_map(|e| e["Records"].as_array().unwrap().clone())
            .filter(|r| r["dynamodb"]["Keys"]["PK"]["S"] == format!("ORG#{org}"))
            .collect();
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        delivered.len(),
        1,
        "exactly the outbox insert: {delivered:?}"
    );
    let record = &delivered[0];
    assert_eq!(record["eventName"], "INSERT");
    assert_eq!(record["eventSource"], "aws:dynamodb");
    assert_eq!(record["dynamodb"]["NewImage"]["id"]["S"], event_id.as_str());
    assert!(record["dynamodb"]["NewImage"]["payload"]["S"].is_string());
    assert_eq!(record["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
    let (found_org, envelope) =
        fanout::envelope_from_record(&serde_json::from_value(record.clone()).unwrap()).unwrap();
    assert_eq!(found_org, org);
    assert_eq!(envelope.data, json!({"id": "a91c"}));
}

#[tokio::test]
async fn queue_poller_deletes_successes_and_redelivers_failures() {
    use aws_sdk_sqs::types::QueueAttributeName;
    let stack = integration_tests::stack().await;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let name = format!("poller-test-{}", uuid::Uuid::now_v7().simple());
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for body in ["ok-1", "fail-me", "ok-2"] {
        sqs.send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let invoker = InProcess {
        fail_bodies: vec!["fail-me".into()],
        ..InProcess::default()
    };
    let poller = QueuePoller {
        sqs: sqs.clone(),
        queue_url: url.clone(),
        queue_arn: format!("arn:aws:sqs:us-east-1:123456789012:{name}"),
        region: "us-east-1".into(),
        function: "sqs-test".into(),
        invoker: invoker.clone(),
    };
    let mut received = 0;
    let mut deleted = 0;
    for _ in 0..5 {
        let (r, d) = poller.poll_once(Duration::from_secs(0)).await.unwrap();
        received += r;
        deleted += d;
        if received >= 3 {
            break;
        }
    }
    assert_eq!((received, deleted), (3, 2));
    let first = invoker.seen.lock().unwrap()[0]["Records"][0].clone();
    assert_eq!(first["eventSource"], "aws:sqs");
    assert!(first["receiptHandle"].is_string());
    assert!(first["attributes"]["ApproximateReceiveCount"].is_string());

    // The failed message comes back once its visibility timeout has passed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut again = Vec::new();
    for _ in 0..5 {
        poller.poll_once(Duration::from_secs(1)).await.unwrap();
        again = invoker.seen.lock().unwrap()[1..]
            .iter()
            .flat_map(|e| e["Records"].as_array().unwrap().clone())
            .collect();
        if !again.is_empty() {
            break;
        }
    }
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["body"], "fail-me");
    assert_eq!(again[0]["attributes"]["ApproximateReceiveCount"], "2");
}
