//! Organizations sharing one deployment cannot hurt each other: secrets stay out of the
//! table, replays reach only eligible endpoints, one organization's slow receivers do not
//! hold up another's webhooks, egress to one host is bounded, replays count, scopes mean
//! what the docs say, a CV is exactly the file checked, and nothing private is cached.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use http::Method;
use integration_tests::{
    dossiers_router, growth_org, org_with, outbox, patch, pipeline, post, stack, webhooks_router,
    Call, Receiver,
};
use serde_json::{json, Value};
use shared::domain::orgs::Plan;
use shared::web::auth::Scope;

use crate::webhooks::{batch, sqs_message};

async fn subscribe(key: &str, body: Value) -> integration_tests::Reply {
    post("/api/v1/webhook_endpoints")
        .key(key)
        .json(&body)
        .send(&webhooks_router().await)
        .await
}

/// Every string and binary value of every item in the table, as text.
async fn table_text() -> Vec<String> {
    let stack = stack().await;
    let mut texts = Vec::new();
    let mut start = None;
    loop {
        let page = stack
            .dynamodb()
            .scan()
            .table_name(&stack.config.table_name)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            for value in item.values() {
                collect_text(value, &mut texts);
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return texts;
        }
    }
}

fn collect_text(value: &AttributeValue, into: &mut Vec<String>) {
    match value {
        AttributeValue::S(text) => into.push(text.clone()),
        AttributeValue::B(bytes) => into.push(String::from_utf8_lossy(bytes.as_ref()).into()),
        AttributeValue::M(map) => map.values().for_each(|v| collect_text(v, into)),
        AttributeValue::L(list) => list.iter().for_each(|v| collect_text(v, into)),
        AttributeValue::Ss(texts) => into.extend(texts.iter().cloned()),
        _ => {}
    }
}

/// Finding 1: an idempotent create or rotation stored its secret in the `IDEM#` item, and a
/// replay of the create after a rotation handed out the rotated secret again.
#[tokio::test]
async fn secrets_never_reach_the_table_and_a_replay_shows_only_the_current_one() {
    let org = growth_org().await;
    let router = webhooks_router().await;
    let create = || {
        post("/api/v1/webhook_endpoints")
            .key(&org.key)
            .header("Idempotency-Key", "create-once")
            .json(&json!({"url": "https://hooks.example.com/secret-at-rest"}))
    };
    let created = create().send(&router).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let first = created.body["data"]["secret"].as_str().unwrap().to_string();

    let again = create().send(&router).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.body["data"]["secret"],
        first.as_str(),
        "derived again"
    );
    assert_eq!(again.body["data"]["id"], id.as_str());

    let rotate = || {
        post(&format!("/api/v1/webhook_endpoints/{id}/rotate_secret"))
            .key(&org.key)
            .header("Idempotency-Key", "rotate-once")
            .json(&json!({"grace_hours": 1}))
    };
    let rotated = rotate().send(&router).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let second = rotated.body["data"]["secret"].as_str().unwrap().to_string();
    let rotated_again = rotate().send(&router).await;
    assert_eq!(rotated_again.body["data"]["secret"], second.as_str());

    let texts = table_text().await;
    for secret in [&first, &second] {
        assert!(
            !texts.iter().any(|text| text.contains(secret.as_str())),
            "a secret is in the table"
        );
    }
    assert!(
        !texts.iter().any(|text| text.contains("whsec_")),
        "no item holds any webhook secret"
    );

    let stale = create().send(&router).await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(stale.error_code(), "secret_rotated");
    assert!(!stale.body.to_string().contains("whsec_"));
}

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
    let router = webhooks_router().await;
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

    let router = webhooks_router().await;
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
    let router = webhooks_router().await;
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
    let router = webhooks_router().await;
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

/// Finding 5: a replay was refunded, so one key could repeat a keyed write without limit.
#[tokio::test]
async fn idempotent_replays_count_against_the_rate_limit() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let keyed = || {
        post("/api/v1/dossiers")
            .key(&org.key)
            .header("Idempotency-Key", "counted")
            .json(&json!({"type": "sales", "name": "Counted"}))
            .send(&router)
    };
    let remaining = |reply: &integration_tests::Reply| -> u64 {
        reply
            .header("x-ratelimit-remaining")
            .unwrap()
            .parse()
            .unwrap()
    };
    let first = keyed().await;
    let replay = keyed().await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(remaining(&replay), remaining(&first) - 1);
}

/// Finding 5: a repeat waiting for the first request reads the key; `current` tells it how
/// the key stands without writing.
#[tokio::test]
async fn a_waiting_repeat_reads_the_key_without_writing() {
    use shared::web::idempotency::{Claim, Slot};
    let db = stack().await.core().db;
    let slot = Slot::new(uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), "waiting");
    assert!(slot.current(&db, "fp").await.unwrap().is_none(), "free");
    let Claim::Claimed { lock } = slot.claim(&db, "fp").await.unwrap() else {
        panic!("a free key is claimed");
    };
    assert!(matches!(
        slot.current(&db, "fp").await.unwrap(),
        Some(Claim::InProgress)
    ));
    assert!(matches!(
        slot.current(&db, "other").await.unwrap(),
        Some(Claim::Conflict)
    ));
    slot.release(&db, &lock).await.unwrap();
    assert!(slot.current(&db, "fp").await.unwrap().is_none(), "freed");
}

/// (method, path template) → the scopes its route needs.
type ScopeTable = BTreeMap<(String, String), Vec<String>>;

/// The scope table of docs/api-guide.md: (method, path) → scopes, with the conditional rows
/// (`… with …`) kept apart, by route.
fn documented_scopes() -> (ScopeTable, BTreeMap<String, Vec<String>>) {
    let guide = include_str!("../../../docs/api-guide.md");
    let table = guide
        .split("### Scopes per route")
        .nth(1)
        .expect("the guide has the scope table");
    let mut routes = BTreeMap::new();
    let mut conditional = BTreeMap::new();
    for row in table
        .lines()
        .skip_while(|l| !l.starts_with("| route"))
        .skip(2)
    {
        if !row.starts_with("| ") {
            break;
        }
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let scopes: Vec<String> = cells[1]
            .split(", ")
            .map(|s| s.trim_matches('`').to_string())
            .collect();
        let route = cells[0].trim_matches('`');
        if route.contains("` with `") {
            conditional.insert(route.to_string(), scopes);
            continue;
        }
        let (method, path) = route.split_once(' ').unwrap();
        routes.insert((method.to_string(), path.to_string()), scopes);
    }
    (routes, conditional)
}

/// Finding 6: the docs' table is what `openapi.yaml` declares and what the code enforces.
#[tokio::test]
async fn every_route_needs_exactly_the_scopes_the_docs_list() {
    let (documented, conditional) = documented_scopes();
    let document: Value = serde_json::from_str(flows::OPENAPI_JSON).unwrap();
    let mut declared = BTreeMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(scopes) = operation["x-required-scopes"].as_array() else {
                continue;
            };
            let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().unwrap().into()).collect();
            declared.insert((method.to_uppercase(), path.clone()), scopes);
        }
    }
    assert_eq!(documented, declared, "docs/api-guide.md and openapi.yaml");

    let org = org_with(Plan::Growth, &Scope::ALL).await;
    let stack = stack().await;
    for ((method, template), scopes) in &documented {
        let path = format!("/api/v1{template}")
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{contact_id}", &uuid::Uuid::now_v7().to_string());
        let router = stack.router(integration_tests::function_for(&path));
        let call = |key: &str| {
            Call::new(Method::from_bytes(method.as_bytes()).unwrap(), &path)
                .key(key)
                .json(&json!({}))
        };
        for missing in scopes {
            let others: Vec<Scope> = Scope::ALL
                .into_iter()
                .filter(|s| s.as_str() != missing)
                .collect();
            let reply = call(&org.key_with(&others).await).send(&router).await;
            assert_eq!(reply.status, 403, "{method} {template} without {missing}");
        }
        let exactly: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|s| scopes.contains(&s.as_str().to_string()))
            .collect();
        let reply = call(&org.key_with(&exactly).await).send(&router).await;
        assert_ne!(reply.status, 403, "{method} {template} with {scopes:?}");
    }

    // With `contact_id` or `email`, creating a dossier may reach an existing contact.
    let router = dossiers_router().await;
    let write_only = org.key_with(&[Scope::DossiersWrite]).await;
    let with_both = org
        .key_with(&[Scope::DossiersWrite, Scope::ContactsWrite])
        .await;
    assert_eq!(
        conditional["POST /dossiers` with `contact_id` or `email"],
        ["dossiers:write", "contacts:write"]
    );
    for body in [
        json!({"type": "candidate", "name": "Ada", "email": "ada@example.com"}),
        json!({"type": "sales", "name": "Deal", "contact_id": uuid::Uuid::now_v7()}),
    ] {
        let create = |key: &str| post("/api/v1/dossiers").key(key).json(&body);
        let refused = create(&write_only).send(&router).await;
        assert_eq!(refused.status, 403, "{body}");
        assert!(refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("contacts:write"));
        assert_ne!(create(&with_both).send(&router).await.status, 403, "{body}");
    }
    let plain = post("/api/v1/dossiers")
        .key(&write_only)
        .json(&json!({"type": "candidate", "name": "Grace"}))
        .send(&router)
        .await;
    assert_eq!(plain.status, 201, "{}", plain.body);

    // With `email`, a dossier PATCH changes its primary contact too; `phone` is its own.
    assert_eq!(
        conditional["PATCH /dossiers/{id}` with `email"],
        ["dossiers:read", "dossiers:write", "contacts:write"]
    );
    assert_eq!(conditional.len(), 2, "{conditional:?}");
    let dossier_keys = org
        .key_with(&[Scope::DossiersRead, Scope::DossiersWrite])
        .await;
    let all_three = org
        .key_with(&[
            Scope::DossiersRead,
            Scope::DossiersWrite,
            Scope::ContactsWrite,
        ])
        .await;
    let path = format!(
        "/api/v1/dossiers/{}",
        plain.body["data"]["id"].as_str().unwrap()
    );
    for body in [
        json!({"email": "grace@example.com"}),
        json!({"email": null}),
    ] {
        let change = |key: &str| patch(&path).key(key).json(&body);
        let refused = change(&dossier_keys).send(&router).await;
        assert_eq!(refused.status, 403, "{body}");
        assert_eq!(change(&all_three).send(&router).await.status, 200, "{body}");
    }
    for body in [json!({"name": "Grace H."}), json!({"phone": "+31 6 3"})] {
        let changed = patch(&path)
            .key(&dossier_keys)
            .json(&body)
            .send(&router)
            .await;
        assert_eq!(changed.status, 200, "{body}: {}", changed.body);
    }
}

/// Finding 7: the file copied to the CV's key is the one checked, even if another is PUT to
/// the upload URL in between.
#[tokio::test]
async fn the_cv_attached_is_exactly_the_upload_checked() {
    let stack = stack().await;
    let cvs = stack.cvs_of_dossiers();
    let (org, dossier, upload) = (
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
    );
    let staging = shared::cv::staging_key(org, dossier, upload);
    let put = |bytes: &'static [u8]| {
        cvs.s3
            .put_object()
            .bucket(&cvs.bucket)
            .key(&staging)
            .body(bytes.to_vec().into())
            .send()
    };
    let pdf: &[u8] = b"%PDF-1.7\n checked bytes\n%%EOF\n";
    put(pdf).await.unwrap();
    let checked = cvs.inspect(&staging).await.unwrap();
    put(b"<html><script>swapped</script></html>").await.unwrap();
    let key = shared::cv::key(org, dossier);
    cvs.attach(&checked, &key).await.unwrap();
    assert_eq!(stack.stored_cv(&key).await.as_deref(), Some(pdf));
}

/// Finding 9: rotations within the grace window no longer add a signing secret each.
#[tokio::test]
async fn rotations_keep_at_most_one_previous_secret() {
    let org = growth_org().await;
    let created = subscribe(
        &org.key,
        json!({"url": "https://hooks.example.com/rotations"}),
    )
    .await;
    let id: uuid::Uuid = created.body["data"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let router = webhooks_router().await;
    for _ in 0..5 {
        let rotated = post(&format!("/api/v1/webhook_endpoints/{id}/rotate_secret"))
            .key(&org.key)
            .json(&json!({"grace_hours": 24}))
            .send(&router)
            .await;
        assert_eq!(rotated.status, 200, "{}", rotated.body);
    }
    let endpoint = shared::webhooks::get(&stack().await.core().db, org.id, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        endpoint.secrets.len(),
        2,
        "the current and the one it replaced"
    );
    assert_eq!(
        endpoint
            .signing_secrets(b"master", shared::clock::now())
            .len(),
        2
    );
}

/// Finding 10: answers carry personal data or secrets, so none may be cached; the reference
/// routes answer a wrong method in the error shape.
#[tokio::test]
async fn no_answer_may_be_cached_and_the_reference_refuses_methods_in_the_error_shape() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    for reply in [
        Call::get("/api/v1/dossiers")
            .key(&org.key)
            .send(&router)
            .await,
        Call::get("/api/v1/dossiers").send(&router).await,
        Call::get("/api/v1/nowhere")
            .key(&org.key)
            .send(&router)
            .await,
    ] {
        assert_eq!(
            reply.header("cache-control"),
            Some("no-store"),
            "{}",
            reply.status
        );
    }
    let flows = integration_tests::flows_router().await;
    for path in ["/api/v1/docs", "/api/v1/openapi.json"] {
        let reply = post(path).send(&flows).await;
        assert_eq!(reply.status, 405);
        assert_eq!(reply.error_code(), "method_not_allowed");
    }
}
