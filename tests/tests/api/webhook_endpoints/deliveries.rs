//! What an endpoint receives: deliveries until unsubscribed, nothing while disabled, replays.

use std::time::Duration;

use integration_tests::verifiers::Verifier;
use integration_tests::{
    delete, dossiers_router, growth_org, pipeline, post, webhook_endpoints_router,
};
use serde_json::{json, Value};

use super::subscribed_receiver;

/// A REST-hook subscription from start to end, through the real delivery path: subscribe,
/// an event arrives signed with the secret the API returned, unsubscribe, nothing more.
#[tokio::test]
async fn subscribe_receive_verify_unsubscribe() {
    pipeline();
    let org = growth_org().await;
    let (receiver, id, secret) = subscribed_receiver(&org.key).await;

    let dossiers = dossiers_router().await;
    let made = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "Subscribed"}))
        .send(&dossiers)
        .await;
    assert_eq!(made.status, 201);
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    let signature = got[0]
        .headers
        .get("x-leadgrid-signature")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(Verifier::Rust.verifies(signature, &got[0].body, &secret, 300));
    assert_eq!(got[0].event_id(), {
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        body["id"].as_str().unwrap().to_string()
    });

    let unsubscribed = delete(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&webhook_endpoints_router().await)
        .await;
    assert_eq!(unsubscribed.status, 200);
    let after = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "After unsubscribing"}))
        .send(&dossiers)
        .await;
    assert_eq!(after.status, 201);
    // Time for the stream and queue pollers to carry it, were anything subscribed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.requests().len(), 1, "nothing after unsubscribing");
}

/// Disabled: nothing is sent. Enabled again: events made from then on are sent.
#[tokio::test]
async fn a_disabled_endpoint_gets_nothing_until_it_is_enabled_again() {
    pipeline();
    let org = growth_org().await;
    let (receiver, id, _) = subscribed_receiver(&org.key).await;
    let path = format!("/api/v1/webhook_endpoints/{id}");
    let router = webhook_endpoints_router().await;
    let set_disabled = |disabled: bool| {
        integration_tests::patch(&path)
            .key(&org.key)
            .json(&json!({ "disabled": disabled }))
    };
    let disabled = set_disabled(true).send(&router).await;
    assert_eq!(disabled.status, 200);
    assert!(disabled.body["data"]["disabled_at"].is_string());

    let dossiers = dossiers_router().await;
    let create = |name: &'static str| {
        post("/api/v1/dossiers")
            .key(&org.key)
            .json(&json!({"type": "sales", "name": name}))
    };
    assert_eq!(create("While disabled").send(&dossiers).await.status, 201);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(receiver.requests().is_empty(), "nothing while disabled");

    let enabled = set_disabled(false).send(&router).await;
    assert_eq!(enabled.body["data"]["disabled_at"], Value::Null);
    let after = create("After enabling").send(&dossiers).await;
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_after: Vec<Value> = receiver
        .requests()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["data"]["id"].clone())
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got_after, [after.body["data"]["id"].clone()]);
}

/// A replay sends the same event again, through the queue and the delivery function.
#[tokio::test]
async fn a_replay_sends_a_past_event_again_unchanged() {
    pipeline();
    let org = growth_org().await;
    let (receiver, id, _) = subscribed_receiver(&org.key).await;
    let made = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "Replayed"}))
        .send(&dossiers_router().await)
        .await;
    assert_eq!(made.status, 201);
    let first = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    let event_id = first[0].event_id();

    let router = webhook_endpoints_router().await;
    let replay = |endpoint: &str, event: &str| {
        post(&format!("/api/v1/webhook_endpoints/{endpoint}/replay"))
            .key(&org.key)
            .json(&json!({ "event_id": event }))
    };
    let queued = replay(&id, &event_id).send(&router).await;
    assert_eq!(queued.status, 200, "{}", queued.body);
    assert_eq!(
        queued.body["data"],
        json!({"event_id": event_id, "event_type": "dossier.created", "endpoint_id": id, "queued": true})
    );
    let both = receiver
        .wait_for(Duration::from_secs(120), |got| got.len() >= 2)
        .await;
    assert_eq!(both[1].event_id(), event_id);
    assert_eq!(both[1].body, both[0].body, "the same body, byte for byte");

    let malformed = replay(&id, "evt_../../x").send(&router).await;
    assert_eq!(malformed.status, 400);
    let unknown = replay(&id, "evt_00000000000000000000000000000000")
        .send(&router)
        .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("kept 30 days"));
    let no_endpoint = replay(&uuid::Uuid::now_v7().to_string(), &event_id)
        .send(&router)
        .await;
    assert_eq!(no_endpoint.status, 404);

    // What an outage missed is replayed once the endpoint is enabled again, though it was
    // made before: the replay was asked for after.
    let set_disabled = |disabled: bool| {
        integration_tests::patch(&format!("/api/v1/webhook_endpoints/{id}"))
            .key(&org.key)
            .json(&json!({ "disabled": disabled }))
    };
    assert_eq!(set_disabled(true).send(&router).await.status, 200);
    let refused = replay(&id, &event_id).send(&router).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.error_code(), "endpoint_disabled");
    assert_eq!(set_disabled(false).send(&router).await.status, 200);
    assert_eq!(replay(&id, &event_id).send(&router).await.status, 200);
    let three = receiver
        .wait_for(Duration::from_secs(120), |got| got.len() >= 3)
        .await;
    assert_eq!(three[2].event_id(), event_id);
}
