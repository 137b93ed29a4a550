//! An endpoint failing for the whole window is disabled and says why; a success ends a streak.

use std::time::Duration;

use integration_tests::{growth_org, stack, Call, Receiver};
use serde_json::{json, Value};
use shared::webhooks::Outcome;
use uuid::Uuid;

use super::{batch, endpoint, note_created, sqs_message};

/// Every attempt failing for the whole window disables the endpoint, and `GET` says why and
/// since when; one delivered attempt ends a streak.
#[tokio::test]
async fn an_endpoint_that_fails_for_the_whole_window_is_disabled_and_says_why() {
    let org = growth_org().await;
    let stack = stack().await;
    let failing = Receiver::start(|_, _| 500).await;
    let (id, _) = endpoint(&org, &failing.url, None).await;
    // Its retries go to a queue of its own: the test makes each attempt itself.
    let (mut deliverer, _retries) = stack
        .deliverer_with_own_queue(shared::webhooks::RetrySchedule::seconds(&[0; 10]))
        .await;
    deliverer.disable_after_failing = Duration::from_secs(2);
    let delivery = shared::webhooks::Delivery::new(org.id, id, &note_created()).unwrap();
    let sent = std::time::SystemTime::now();
    let router = integration_tests::webhook_endpoints_router().await;
    let show = |id: Uuid| Call::get(&format!("/api/v1/webhook_endpoints/{id}")).key(&org.key);

    deliverer
        .handle(batch(sqs_message(&delivery, sent, 1)))
        .await;
    let first = show(id).send(&router).await.body["data"].clone();
    assert!(first["failing_since"].is_string(), "{first}");
    assert_eq!(first["disabled_at"], Value::Null);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    deliverer
        .handle(batch(sqs_message(&delivery, sent, 2)))
        .await;
    let disabled = show(id).send(&router).await.body["data"].clone();
    assert!(disabled["disabled_at"].is_string(), "{disabled}");
    let reason = disabled["disabled_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Every delivery failed from ")
            && reason.contains(first["failing_since"].as_str().unwrap())
            && reason.ends_with("for over 2 seconds."),
        "{reason}"
    );
    let attempts = stack
        .attempt_log(org.id, id, Some(&delivery.event_id))
        .await;
    let outcomes: Vec<Outcome> = attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, [Outcome::Retrying, Outcome::Disabled]);
    assert_eq!(failing.requests().len(), 2);

    // Enabled again by its owner: the streak and the reason are gone.
    let enabled = integration_tests::patch(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .json(&json!({"disabled": false}))
        .send(&router)
        .await;
    assert_eq!(enabled.status, 200);
    assert_eq!(enabled.body["data"]["disabled_reason"], Value::Null);
    assert_eq!(enabled.body["data"]["failing_since"], Value::Null);

    // A receiver that fails once, then recovers: the delivered attempt ends the streak.
    let flaky = Receiver::start(|_, before| if before == 0 { 500 } else { 200 }).await;
    let (recovering, _) = endpoint(&org, &flaky.url, None).await;
    let delivery = shared::webhooks::Delivery::new(org.id, recovering, &note_created()).unwrap();
    deliverer
        .handle(batch(sqs_message(&delivery, sent, 1)))
        .await;
    assert!(show(recovering).send(&router).await.body["data"]["failing_since"].is_string());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    deliverer
        .handle(batch(sqs_message(&delivery, sent, 2)))
        .await;
    let recovered = show(recovering).send(&router).await.body["data"].clone();
    assert_eq!(recovered["failing_since"], Value::Null, "{recovered}");
    assert_eq!(recovered["disabled_at"], Value::Null);
}
