//! Webhooks across organizations: eligible replays, slow receivers, host budgets, kept bodies.

use std::time::{Duration, Instant, SystemTime};

use http::Method;
use integration_tests::{
    dossiers_router, growth_org, outbox, pipeline, post, stack, webhook_endpoints_router, Call,
    Receiver,
};
use serde_json::{json, Value};
use shared::web::auth::Scope;

use super::subscribe;
use crate::webhooks::{batch, sqs_message};

/// Finding 2: a key with `webhooks:manage` could replay any event id it saw in an attempt
/// log to a brand-new endpoint subscribed to something else, or to an old endpoint it
/// re-pointed at its own receiver.
#[tokio::test]
async fn a_replay_sends_only_events_the_endpoint_was_eligible_for() {
    let org = growth_org().await;
    let manager = org.key_with(&[Scope::WebhooksManage]).await;
    let subscribed = |url: String, events: Value| {
        let manager = manager.clone();
        async move {
            let created = subscribe(&manager, json!({"url": url, "events": events})).await;
            assert_eq!(created.status, 201, "{}", created.body);
            created.body["data"]["id"].as_str().unwrap().to_string()
        }
    };
    let at = |name: &str| format!("https://hooks.example.com/{name}/{}", uuid::Uuid::now_v7());
    let untouched = subscribed(at("untouched"), json!(["dossier.created"])).await;
    let repointed = subscribed(at("repointed"), json!(["dossier.created"])).await;
    let widened = subscribed(at("widened"), json!(["note.created"])).await;
    // Envelopes keep whole seconds: the event is made in a later second than the endpoints,
    // and what follows in a later second again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let made = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "Replayed"}))
        .send(&dossiers_router().await)
        .await;
    assert_eq!(made.status, 201);
    let event = outbox(org.id)
        .await
        .into_iter()
        .find(|event| event.data["id"] == made.body["data"]["id"])
        .expect("the dossier's event");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let router = webhook_endpoints_router().await;
    let replay = |endpoint: &str| {
        post(&format!("/api/v1/webhook_endpoints/{endpoint}/replay"))
            .key(&manager)
            .json(&json!({"event_id": event.id}))
            .send(&router)
    };
    let change = |endpoint: &str, body: Value| {
        Call::new(
            Method::PATCH,
            &format!("/api/v1/webhook_endpoints/{endpoint}"),
        )
        .key(&manager)
        .json(&body)
        .send(&router)
    };
    assert_eq!(replay(&untouched).await.status, 200, "eligible");
    let moved = change(&repointed, json!({"url": "https://attacker.example.com/"})).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let more = json!({"events": ["dossier.created", "note.created"]});
    assert_eq!(change(&widened, more).await.status, 200);
    let cases = [
        (
            subscribed(at("fresh"), json!(["note.created"])).await,
            "does not subscribe to",
        ),
        (
            subscribed(at("fresh"), json!(["dossier.created"])).await,
            "was created or last changed",
        ),
        (repointed, "was created or last changed its URL or events"),
        (widened, "was created or last changed its URL or events"),
    ];
    for (endpoint, why) in cases {
        let refused = replay(&endpoint).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert_eq!(refused.error_code(), "invalid_body");
        assert!(
            refused.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(why),
            "{}",
            refused.body
        );
    }
}

/// Finding 3: one organization's receiver answering in 10 s held up every organization's
/// deliveries. Org C's receiver is slow; org B's event must arrive long before it answers.
#[tokio::test]
async fn a_slow_receiver_of_one_organization_does_not_hold_up_another() {
    pipeline();
    let slow_answer = Duration::from_secs(10);
    let (org_b, org_c) = (growth_org().await, growth_org().await);
    // Answers 500 to an event's first two requests (the fast lane's, cut off, and the slow
    // lane's first), so that the slow lane retries too.
    let slow =
        Receiver::start_slow(slow_answer, |_, before| if before < 2 { 500 } else { 200 }).await;
    let created = subscribe(&org_c.key, json!({"url": slow.url})).await;
    let slow_endpoint = created.body["data"]["id"].as_str().unwrap().to_string();
    let fast = Receiver::start(|_, _| 200).await;
    let created = subscribe(
        &org_b.key,
        json!({"url": fast.url, "events": ["dossier.created"]}),
    )
    .await;
    assert_eq!(created.status, 201);

    let router = webhook_endpoints_router().await;
    let mut pings = Vec::new();
    for _ in 0..2 {
        let ping = post(&format!("/api/v1/webhook_endpoints/{slow_endpoint}/test"))
            .key(&org_c.key)
            .send(&router)
            .await;
        assert_eq!(ping.status, 200, "{}", ping.body);
        pings.push(ping.body["data"]["event_id"].as_str().unwrap().to_string());
    }
    let dossiers = dossiers_router().await;
    let for_c = post("/api/v1/dossiers")
        .key(&org_c.key)
        .json(&json!({"type": "sales", "name": "Slow receiver's"}))
        .send(&dossiers)
        .await;
    assert_eq!(for_c.status, 201);
    let first_slow = slow
        .wait_for(Duration::from_secs(60), |got| !got.is_empty())
        .await[0]
        .at;
    let made = post("/api/v1/dossiers")
        .key(&org_b.key)
        .json(&json!({"type": "sales", "name": "Fast receiver's"}))
        .send(&dossiers)
        .await;
    assert_eq!(made.status, 201);
    let sent = Instant::now();
    let got = fast
        .wait_for(Duration::from_secs(60), |got| !got.is_empty())
        .await;
    println!(
        "org B's event arrived {:?} after its write, with org C's receiver taking {slow_answer:?}",
        got[0].at - sent
    );
    assert!(
        got[0].at < first_slow + slow_answer,
        "org B's delivery waited for org C's slow receiver"
    );

    // C's deliveries go on in the slow lane, with their full time and their retries: its
    // event is answered 500 twice, then delivered.
    slow.wait_for(Duration::from_secs(120), |got| {
        got.iter()
            .filter(|r| r.body.contains("Slow receiver's"))
            .count()
            >= 3
    })
    .await;
    let stack = stack().await;
    let endpoint_id = slow_endpoint.parse().unwrap();
    let endpoint = shared::webhooks::get(&stack.core().db, org_c.id, endpoint_id)
        .await
        .unwrap()
        .unwrap();
    assert!(endpoint.slow_until.is_some(), "marked slow");
    let mut moved = false;
    for ping in &pings {
        let log = stack.attempt_log(org_c.id, endpoint_id, Some(ping)).await;
        moved |= log.iter().any(|attempt| {
            attempt
                .error
                .as_deref()
                .is_some_and(|e| e.contains("from the slow lane"))
        });
    }
    assert!(moved, "a ping left the fast lane after its budget");
}

/// Finding 4: 16 endpoints of one organization could share one URL, and every request an
/// organization's webhooks make to one host is now counted against a per-minute budget.
#[tokio::test]
async fn one_url_per_organization_and_a_budget_per_host() {
    let (org, other) = (growth_org().await, growth_org().await);
    let router = webhook_endpoints_router().await;
    let url = "https://hooks.example.com/only-once";
    let first = subscribe(&org.key, json!({"url": url})).await;
    assert_eq!(first.status, 201);
    let duplicate = subscribe(&org.key, json!({"url": url})).await;
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);
    assert_eq!(duplicate.error_code(), "duplicate_endpoint");
    // A fragment is never sent, so it makes no other URL.
    let fragment = subscribe(&org.key, json!({"url": format!("{url}#again")})).await;
    assert_eq!(fragment.status, 409, "{}", fragment.body);
    assert_eq!(subscribe(&other.key, json!({"url": url})).await.status, 201);

    let second = subscribe(&org.key, json!({"url": "https://hooks.example.com/second"})).await;
    let second = second.body["data"]["id"].as_str().unwrap().to_string();
    let move_to = |to: &str| {
        Call::new(
            Method::PATCH,
            &format!("/api/v1/webhook_endpoints/{second}"),
        )
        .key(&org.key)
        .json(&json!({"url": to}))
    };
    let taken = move_to(url).send(&router).await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    let first_id = first.body["data"]["id"].as_str().unwrap();
    let gone = Call::new(
        Method::DELETE,
        &format!("/api/v1/webhook_endpoints/{first_id}"),
    )
    .key(&org.key)
    .send(&router)
    .await;
    assert_eq!(gone.status, 200);
    assert_eq!(move_to(url).send(&router).await.status, 200, "freed");
    let reused = subscribe(&org.key, json!({"url": "https://hooks.example.com/second"})).await;
    assert_eq!(
        reused.status, 201,
        "the old URL's marker went with the change"
    );

    let db = stack().await.core().db;
    let now = shared::clock::now();
    let take = |org: uuid::Uuid, host: &'static str| {
        let db = db.clone();
        async move {
            shared::webhooks::limits::take(
                &db,
                org,
                shared::webhooks::limits::Budget::Host(host),
                3,
                now,
            )
            .await
            .unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(take(org.id, "budget.example.com").await, None);
    }
    let wait = take(org.id, "budget.example.com").await.expect("spent");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(take(org.id, "other.example.com").await, None, "per host");
    assert_eq!(take(other.id, "budget.example.com").await, None, "per org");
}

/// A delivery over its host's budget waits in the queue for the next minute: nothing is
/// sent now, and nothing is lost.
#[tokio::test]
async fn a_delivery_over_its_hosts_budget_waits_and_is_not_lost() {
    pipeline();
    let org = growth_org().await;
    let receiver = Receiver::start(|_, _| 200).await;
    let created = subscribe(&org.key, json!({"url": receiver.url})).await;
    let endpoint: uuid::Uuid = created.body["data"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let stack = stack().await;
    let mut deliverer = stack.deliverer(integration_tests::quick_schedule());
    deliverer.host_requests_per_minute = 0;
    let delivery =
        shared::webhooks::Delivery::ping(org.id, endpoint, shared::clock::now()).unwrap();
    let response = deliverer
        .handle(batch(sqs_message(&delivery, SystemTime::now(), 1)))
        .await;
    assert!(response.batch_item_failures.is_empty(), "queued again");
    assert!(
        receiver.requests().is_empty(),
        "nothing sent over the budget"
    );
    let got = receiver
        .wait_for(Duration::from_secs(150), |got| !got.is_empty())
        .await;
    assert_eq!(got[0].event_id(), delivery.event_id);

    // A delivery that has waited its last minute goes to the dead-letter queue, logged.
    let worn = shared::webhooks::Delivery {
        deferrals: shared::webhooks::delivery::MAX_DEFERRALS,
        ..shared::webhooks::Delivery::ping(org.id, endpoint, shared::clock::now()).unwrap()
    };
    let response = deliverer
        .handle(batch(sqs_message(&worn, SystemTime::now(), 1)))
        .await;
    assert!(response.batch_item_failures.is_empty());
    let log = stack
        .attempt_log(org.id, endpoint, Some(&worn.event_id))
        .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, shared::webhooks::Outcome::Failed);
    assert!(log[0].error.as_deref().unwrap().contains("dead-letter"));
}

/// An event's attempts on an endpoint, once there are any (an attempt is logged just after
/// its receiver answers).
async fn first_attempts(
    org: uuid::Uuid,
    endpoint: &str,
    event: &str,
) -> Vec<shared::webhooks::Attempt> {
    let stack = stack().await;
    loop {
        let log = stack
            .attempt_log(org, endpoint.parse().unwrap(), Some(event))
            .await;
        if !log.is_empty() {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Finding 4, the attempt log: what a host answers is kept only once it has answered 2xx.
/// Finding 3: test pings are limited per endpoint.
#[tokio::test]
async fn bodies_are_kept_only_from_receivers_and_pings_are_limited() {
    pipeline();
    let org = growth_org().await;
    let answers = std::sync::Arc::new(std::sync::Mutex::new(vec![500u16, 200, 500]));
    let script = answers.clone();
    let receiver = Receiver::start(move |_, _| {
        let mut script = script.lock().unwrap();
        if script.is_empty() {
            200
        } else {
            script.remove(0)
        }
    })
    .await;
    let created = subscribe(&org.key, json!({"url": receiver.url})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let router = webhook_endpoints_router().await;
    let ping = || {
        post(&format!("/api/v1/webhook_endpoints/{id}/test"))
            .key(&org.key)
            .send(&router)
    };
    let mut bodies = Vec::new();
    for n in 1..=3 {
        let queued = ping().await;
        assert_eq!(queued.status, 200, "{}", queued.body);
        receiver
            .wait_for(Duration::from_secs(60), |got| got.len() >= n)
            .await;
        let event = queued.body["data"]["event_id"]
            .as_str()
            .unwrap()
            .to_string();
        let log = first_attempts(org.id, &id, &event).await;
        bodies.push((log[0].status, log[0].response_body.clone()));
    }
    assert_eq!(
        bodies,
        [
            (Some(500), None),
            (Some(200), Some("ok".to_string())),
            (Some(500), Some("ok".to_string()))
        ]
    );
    // Another receiver has answered nothing yet: its bodies are not kept either.
    let other = Receiver::start(|_, _| 500).await;
    let moved = Call::new(Method::PATCH, &format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .json(&json!({"url": other.url}))
        .send(&router)
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let queued = ping().await;
    let event = queued.body["data"]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    other
        .wait_for(Duration::from_secs(60), |got| !got.is_empty())
        .await;
    let log = first_attempts(org.id, &id, &event).await;
    assert_eq!(
        (log[0].status, log[0].response_body.clone()),
        (Some(500), None)
    );
    let mut limited = None;
    for _ in 0..shared::webhooks::limits::TESTS_PER_MINUTE {
        let reply = ping().await;
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
    }
    let limited = limited.expect("at most 5 pings a minute");
    assert_eq!(limited.error_code(), "rate_limited");
    assert!(limited.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("At most 5 test pings a minute per endpoint. Retry after "));
    assert!(limited.header("retry-after").is_some());
}
