//! `POST /webhook_endpoints/{id}/recover`: after an outage, what an endpoint missed arrives
//! once, signed as live deliveries are; asking again sends nothing; the organization's
//! recoveries are bounded, and so is each call.

use std::collections::BTreeSet;
use std::time::Duration;

use integration_tests::verifiers::Verifier;
use integration_tests::{
    contacts_router, dossiers_router, growth_org, outbox, patch, pipeline, post, stack,
    webhook_endpoints_router, Receiver, Reply, TestOrg,
};
use serde_json::{json, Value};
use shared::domain::outbox::{outbox_item, EventType};

use super::subscribe;

fn ten_minutes_ago() -> String {
    shared::clock::format(shared::clock::now() - time::Duration::minutes(10))
}

async fn recover(org: &TestOrg, endpoint: &str, body: Value) -> Reply {
    post(&format!("/api/v1/webhook_endpoints/{endpoint}/recover"))
        .key(&org.key)
        .json(&body)
        .send(&webhook_endpoints_router().await)
        .await
}

async fn set_disabled(org: &TestOrg, endpoint: &str, disabled: bool) {
    let changed = patch(&format!("/api/v1/webhook_endpoints/{endpoint}"))
        .key(&org.key)
        .json(&json!({ "disabled": disabled }))
        .send(&webhook_endpoints_router().await)
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
}

fn event_ids(got: &[integration_tests::Received]) -> BTreeSet<String> {
    got.iter().map(|r| r.event_id()).collect()
}

/// A receiver subscribed to `kind` only. Once it has an event, fan-out has passed every
/// event the organization made before that one (the stream keeps one partition's order).
async fn probe(org: &TestOrg, kind: &str) -> Receiver {
    let receiver = Receiver::start(|_, _| 200).await;
    let made = subscribe(&org.key, json!({"url": receiver.url, "events": [kind]})).await;
    assert_eq!(made.status, 201, "{}", made.body);
    receiver
}

#[tokio::test]
async fn a_recovery_sends_what_was_missed_once_and_a_repeat_sends_nothing() {
    pipeline();
    let org = growth_org().await;
    let every = Receiver::start(|_, _| 200).await;
    let listed = Receiver::start(|_, _| 200).await;
    let made = subscribe(&org.key, json!({"url": every.url})).await;
    let (every_id, secret) = (
        made.body["data"]["id"].as_str().unwrap().to_string(),
        made.body["data"]["secret"].as_str().unwrap().to_string(),
    );
    let made = subscribe(
        &org.key,
        json!({"url": listed.url, "events": ["dossier.created"]}),
    )
    .await;
    let listed_id = made.body["data"]["id"].as_str().unwrap().to_string();
    let fanned_out = probe(&org, "contact.updated").await;

    let dossiers = dossiers_router().await;
    let before = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "Before the outage"}))
        .send(&dossiers)
        .await;
    assert_eq!(before.status, 201);
    every
        .wait_for(Duration::from_secs(60), |got| got.len() == 1)
        .await;
    listed
        .wait_for(Duration::from_secs(60), |got| got.len() == 1)
        .await;

    set_disabled(&org, &every_id, true).await;
    set_disabled(&org, &listed_id, true).await;
    let seen = outbox(org.id).await.len();
    let missed = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "During the outage"}))
        .send(&dossiers)
        .await;
    assert_eq!(missed.status, 201);
    let contact = post("/api/v1/contacts")
        .key(&org.key)
        .json(&json!({"full_name": "Otto Outage"}))
        .send(&contacts_router().await)
        .await;
    let contact_id = contact.body["data"]["id"].as_str().unwrap();
    let changed = patch(&format!("/api/v1/contacts/{contact_id}"))
        .key(&org.key)
        .json(&json!({"role": "Buyer"}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(changed.status, 200);
    let during: Vec<_> = outbox(org.id).await.split_off(seen);
    assert_eq!(during.len(), 3);
    fanned_out
        .wait_for(Duration::from_secs(60), |got| !got.is_empty())
        .await;
    assert_eq!(every.requests().len(), 1, "nothing while disabled");

    set_disabled(&org, &every_id, false).await;
    set_disabled(&org, &listed_id, false).await;
    let since = json!({ "since": ten_minutes_ago() });
    let recovered = recover(&org, &every_id, since.clone()).await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    assert_eq!(recovered.body["data"]["object"], "webhook_recovery");
    assert_eq!(recovered.body["data"]["queued"], 3, "{}", recovered.body);
    assert_eq!(recovered.body["data"]["has_more"], false);
    assert_eq!(recovered.body["data"]["next"], Value::Null);
    let listed_recovery = recover(&org, &listed_id, since.clone()).await;
    assert_eq!(listed_recovery.body["data"]["queued"], 1, "its one type");

    let got = every
        .wait_for(Duration::from_secs(60), |got| got.len() >= 4)
        .await;
    let expected: BTreeSet<String> = during.iter().map(|e| e.id.clone()).collect();
    assert_eq!(event_ids(&got[1..]), expected, "exactly the missed events");
    for request in &got[1..] {
        let signature = request.headers["x-leadgrid-signature"].to_str().unwrap();
        assert!(Verifier::Rust.verifies(signature, &request.body, &secret, 300));
    }
    let listed_got = listed
        .wait_for(Duration::from_secs(60), |got| got.len() >= 2)
        .await;
    assert_eq!(listed_got[1].event_id(), during[0].id);

    let again = recover(&org, &every_id, since).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["data"]["queued"], 0, "{}", again.body);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(every.requests().len(), 4, "nothing twice");
    assert_eq!(listed.requests().len(), 2);
}

/// A call queues at most 100 and says where to go on; the organization asks at most three
/// times a minute, and another organization's budget is its own.
#[tokio::test]
async fn recoveries_are_bounded_per_call_and_per_organization() {
    pipeline();
    let org = growth_org().await;
    let receiver = Receiver::start(|_, _| 200).await;
    let made = subscribe(
        &org.key,
        json!({"url": receiver.url, "events": ["dossier.created"]}),
    )
    .await;
    let id = made.body["data"]["id"].as_str().unwrap().to_string();
    let fanned_out = probe(&org, "note.created").await;
    // Events written straight to the table, as if made while the endpoint was down: the
    // stream carries them to fan-out too, so the endpoint is disabled until it has.
    set_disabled(&org, &id, true).await;
    let db = stack().await.core().db;
    let now = shared::clock::now();
    let items: Vec<_> = (0..105)
        .map(|n| outbox_item(org.id, EventType::DossierCreated, &json!({ "n": n }), now).unwrap())
        .collect();
    db.put_all(items).await.unwrap();
    let last = outbox_item(org.id, EventType::NoteCreated, &json!({}), now).unwrap();
    db.put_item(last).await.unwrap();
    fanned_out
        .wait_for(Duration::from_secs(60), |got| !got.is_empty())
        .await;
    set_disabled(&org, &id, false).await;

    let first = recover(&org, &id, json!({ "since": ten_minutes_ago() })).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["data"]["queued"], 100);
    assert_eq!(first.body["data"]["has_more"], true);
    let next = first.body["data"]["next"].clone();
    assert!(next["after"].is_string(), "{next}");
    let second = recover(&org, &id, next).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body["data"]["queued"], 5, "{}", second.body);
    assert_eq!(second.body["data"]["has_more"], false);
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| got.len() >= 105)
        .await;
    assert_eq!(event_ids(&got).len(), 105, "each once");

    let mut limited = None;
    for _ in 0..6 {
        let reply = recover(&org, &id, json!({ "since": ten_minutes_ago() })).await;
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
        assert_eq!(reply.body["data"]["queued"], 0, "{}", reply.body);
    }
    let limited = limited.expect("the fourth recovery in a minute is refused");
    assert_eq!(limited.body["error"]["code"], "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));

    let other = growth_org().await;
    let theirs = subscribe(&other.key, json!({"url": receiver.url})).await;
    let theirs = theirs.body["data"]["id"].as_str().unwrap().to_string();
    let unaffected = recover(&other, &theirs, json!({ "since": ten_minutes_ago() })).await;
    assert_eq!(unaffected.status, 200, "{}", unaffected.body);
    let across = recover(&other, &id, json!({ "since": ten_minutes_ago() })).await;
    assert_eq!(across.status, 404, "another organization's endpoint");
}

#[tokio::test]
async fn bad_recoveries_are_refused_and_change_nothing() {
    let org = growth_org().await;
    let receiver = Receiver::start(|_, _| 200).await;
    let made = subscribe(&org.key, json!({"url": receiver.url})).await;
    let id = made.body["data"]["id"].as_str().unwrap().to_string();
    let long_ago = shared::clock::format(shared::clock::now() - time::Duration::days(31));
    for (body, param) in [
        (json!({ "since": long_ago }), "since"),
        (json!({ "since": "2999-01-01T00:00:00Z" }), "since"),
        (json!({ "since": "yesterday" }), "since"),
        (json!({}), "since"),
        (
            json!({ "since": ten_minutes_ago(), "after": "evt_x" }),
            "after",
        ),
        (json!({ "since": ten_minutes_ago(), "until": "x" }), "until"),
    ] {
        let refused = recover(&org, &id, body.clone()).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
        assert_eq!(refused.body["error"]["param"], param, "{body}");
    }
    let missing = recover(
        &org,
        "00000000-0000-7000-8000-000000000000",
        json!({ "since": ten_minutes_ago() }),
    )
    .await;
    assert_eq!(missing.status, 404);
    set_disabled(&org, &id, true).await;
    let disabled = recover(&org, &id, json!({ "since": ten_minutes_ago() })).await;
    assert_eq!(disabled.status, 409, "{}", disabled.body);
    assert_eq!(disabled.body["error"]["code"], "endpoint_disabled");
    let reader = org
        .key_with(&[shared::web::auth::Scope::DossiersRead])
        .await;
    let forbidden = post(&format!("/api/v1/webhook_endpoints/{id}/recover"))
        .key(&reader)
        .json(&json!({ "since": ten_minutes_ago() }))
        .send(&webhook_endpoints_router().await)
        .await;
    assert_eq!(forbidden.status, 403);
}
