//! Test pings: sent only where asked, even when disabled, and never retried.

use std::time::Duration;

use integration_tests::verifiers::Verifier;
use integration_tests::{growth_org, pipeline, post, webhook_endpoints_router, Call, Receiver};
use serde_json::{json, Value};

use super::{logged_attempts, subscribe, subscribed_receiver};

/// A test goes to the one endpoint it names, signed like any event, even while that
/// endpoint is disabled, and is logged with the endpoint's attempts.
#[tokio::test]
async fn a_test_ping_goes_only_where_asked_even_when_disabled() {
    pipeline();
    let org = growth_org().await;
    let (receiver, id, secret) = subscribed_receiver(&org.key).await;
    let (bystander, _, _) = subscribed_receiver(&org.key).await;
    let router = webhook_endpoints_router().await;
    let test = |endpoint: &str| post(&format!("/api/v1/webhook_endpoints/{endpoint}/test"));

    // A bare POST, as `curl -X POST` sends it.
    let queued = test(&id).key(&org.key).send(&router).await;
    assert_eq!(queued.status, 200, "{}", queued.body);
    assert_eq!(queued.body["data"]["event_type"], "ping");
    assert_eq!(queued.body["data"]["endpoint_id"], id.as_str());
    let ping_id = queued.body["data"]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    assert_eq!(got[0].event_id(), ping_id);
    assert_eq!(got[0].headers["x-leadgrid-event-type"], "ping");
    let signature = got[0].headers["x-leadgrid-signature"].to_str().unwrap();
    assert!(Verifier::Rust.verifies(signature, &got[0].body, &secret, 300));
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "ping");
    assert_eq!(body["data"], json!({ "endpoint_id": id }));
    let logged = logged_attempts(&org.key, &id, &ping_id).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0]["event_type"], "ping");
    assert_eq!(logged[0]["outcome"], "delivered");
    assert_eq!(logged[0]["status"], 200);
    assert_eq!(logged[0]["url"], receiver.url.as_str());

    let disabled = integration_tests::patch(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .json(&json!({"disabled": true}))
        .send(&router)
        .await;
    assert_eq!(disabled.status, 200);
    let again = test(&id).key(&org.key).json(&json!({})).send(&router).await;
    assert_eq!(again.status, 200, "{}", again.body);
    receiver
        .wait_for(Duration::from_secs(120), |got| got.len() == 2)
        .await;
    let shown = Call::get(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert!(
        shown.body["data"]["disabled_at"].is_string(),
        "still disabled"
    );

    let with_fields = test(&id)
        .key(&org.key)
        .json(&json!({"event": "dossier.created"}))
        .send(&router)
        .await;
    assert_eq!(with_fields.status, 400, "{}", with_fields.body);
    let unknown = test(&uuid::Uuid::now_v7().to_string())
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(unknown.status, 404);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(bystander.requests().is_empty(), "never fanned out");
    assert_eq!(receiver.requests().len(), 2);
}

/// A test the receiver fails is tried once, and neither disables the endpoint nor marks
/// it failing: not even a 410.
#[tokio::test]
async fn a_failed_test_is_not_retried_and_changes_nothing() {
    pipeline();
    let org = growth_org().await;
    let gone = Receiver::start(|_, _| 410).await;
    let created = subscribe(&org.key, json!({"url": gone.url})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let router = webhook_endpoints_router().await;
    let queued = post(&format!("/api/v1/webhook_endpoints/{id}/test"))
        .key(&org.key)
        .send(&router)
        .await;
    let ping_id = queued.body["data"]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    gone.wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    let logged = logged_attempts(&org.key, &id, &ping_id).await;
    assert_eq!(logged[0]["outcome"], "failed");
    assert_eq!(logged[0]["status"], 410);
    // The test schedule retries within about a second; a test is not retried at all.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(gone.requests().len(), 1);
    let shown = Call::get(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(shown.body["data"]["disabled_at"], Value::Null);
    assert_eq!(shown.body["data"]["failing_since"], Value::Null);
}
