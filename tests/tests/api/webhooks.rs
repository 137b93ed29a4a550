//! Domain events delivered as signed webhooks through the deployed pipeline's code: the
//! stream poller feeds `events` (fan-out), the queue poller feeds `webhooks` (delivery).

use std::time::{Duration, Instant};

use integration_tests::verifiers::Verifier;
use integration_tests::{
    dossiers_router, growth_org, notes_router, outbox, patch, pipeline, post, stack, Call,
    Received, Receiver, TestOrg,
};
use serde_json::{json, Value};
use shared::domain::outbox::EventType;
use shared::webhooks::{Destinations, Outcome};
use uuid::Uuid;

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

#[tokio::test]
async fn every_event_type_arrives_once_signed_as_the_spec_verifies() {
    pipeline();
    let org = growth_org().await;
    let receiver = Receiver::start(|_, _| 200).await;
    let (_, secret) = endpoint(&org, &receiver.url, None).await;

    let dossier = create_dossier(&org, "Acme").await;
    let id = dossier["id"].as_str().unwrap();
    let flow = Call::get(&format!(
        "/api/v1/flows/{}/stages",
        dossier["flow_id"].as_str().unwrap()
    ))
    .key(&org.key)
    .send(&integration_tests::flows_router().await)
    .await;
    let next_stage = flow.body["data"][1]["id"].as_str().unwrap().to_string();
    let router = dossiers_router().await;
    for body in [
        json!({"current_stage_id": next_stage}),
        json!({"name": "Acme BV"}),
    ] {
        let reply = patch(&format!("/api/v1/dossiers/{id}"))
            .key(&org.key)
            .json(&body)
            .send(&router)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let note = post(&format!("/api/v1/dossiers/{id}/notes"))
        .key(&org.key)
        .json(&json!({"content": "Called them."}))
        .send(&notes_router().await)
        .await;
    assert_eq!(note.status, 201);
    let archived = integration_tests::delete(&format!("/api/v1/dossiers/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(archived.status, 200);

    let events = outbox(org.id).await;
    let mut kinds: Vec<EventType> = events.iter().map(|e| e.kind).collect();
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    assert_eq!(kinds.len(), 5, "every event type happened: {kinds:?}");
    receiver
        .wait_for(Duration::from_secs(120), |got| got.len() >= events.len())
        .await;
    // Give a duplicate time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let requests = receiver.requests();
    let mut got = ids(&requests);
    got.sort();
    let mut expected: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    expected.sort();
    assert_eq!(got, expected, "each event exactly once");

    for request in &requests {
        let envelope = events.iter().find(|e| e.id == request.event_id()).unwrap();
        assert_eq!(
            request.body,
            serde_json::to_string(envelope).unwrap(),
            "compact JSON envelope"
        );
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["id", "type", "created_at", "data"]
        );
        assert!(envelope.id.starts_with("evt_"));
        assert_eq!(header(request, "content-type"), "application/json");
        assert_eq!(header(request, "user-agent"), "LeadGrid-Webhooks/1.0");
        assert_eq!(header(request, "x-leadgrid-event-id"), envelope.id);
        assert_eq!(
            header(request, "x-leadgrid-event-type"),
            envelope.kind.as_str()
        );
        let signature = header(request, "x-leadgrid-signature");
        let (t, v1) = signature.split_once(",v1=").unwrap();
        assert!(t.strip_prefix("t=").unwrap().parse::<i64>().is_ok());
        assert_eq!(v1.len(), 64);
    }
    let stage_changed = requests
        .iter()
        .find(|r| header(r, "x-leadgrid-event-type") == "dossier.stage_changed")
        .unwrap();
    let body: Value = serde_json::from_str(&stage_changed.body).unwrap();
    assert_eq!(body["data"]["current_stage_id"], next_stage.as_str());
    assert!(Verifier::Spec.verifies(
        header(stage_changed, "x-leadgrid-signature"),
        &stage_changed.body,
        &secret,
        300,
    ));
    assert!(!Verifier::Spec.verifies(
        header(stage_changed, "x-leadgrid-signature"),
        &stage_changed.body,
        "whsec_wrong",
        300,
    ));
    assert!(!Verifier::Spec.verifies(
        header(stage_changed, "x-leadgrid-signature"),
        &stage_changed.body.replace("Acme", "Evil"),
        &secret,
        300,
    ));
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_without_resending_to_the_others() {
    pipeline();
    let org = growth_org().await;
    // Fails each event's first attempt.
    let flaky = Receiver::start(|_, before| if before == 0 { 500 } else { 200 }).await;
    let steady = Receiver::start(|_, _| 200).await;
    let (flaky_id, _) = endpoint(&org, &flaky.url, Some("dossier.created")).await;
    endpoint(&org, &steady.url, Some("dossier.created,note.created")).await;
    let dossier = create_dossier(&org, "Initech").await;
    let event = outbox(org.id)
        .await
        .into_iter()
        .find(|e| e.kind == EventType::DossierCreated)
        .unwrap();
    assert_eq!(event.data["id"], dossier["id"]);

    let got = flaky
        .wait_for(Duration::from_secs(120), |got| {
            got.iter().any(|r| r.status == 200)
        })
        .await;
    assert_eq!(got.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 200]);
    assert_eq!(got[0].body, got[1].body, "the same event, byte for byte");
    assert_eq!(ids(&got), [event.id.clone(), event.id.clone()]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        ids(&steady.requests()),
        std::slice::from_ref(&event.id),
        "the steady endpoint got it once"
    );
    assert_eq!(flaky.requests().len(), 2);

    let attempts = stack()
        .await
        .attempt_log(org.id, flaky_id, Some(&event.id))
        .await;
    let log: Vec<(u32, Option<u16>, Outcome)> = attempts
        .iter()
        .map(|a| (a.attempt, a.status, a.outcome))
        .collect();
    assert_eq!(
        log,
        [
            (1, Some(500), Outcome::Retrying),
            (2, Some(200), Outcome::Delivered)
        ]
    );
    // What a receiver answers is kept only once it has answered 2xx.
    assert_eq!(attempts[0].response_body, None);
    assert_eq!(attempts[1].response_body.as_deref(), Some("ok"));
}

#[tokio::test]
async fn a_rotation_signs_with_both_secrets_old_last() {
    pipeline();
    let org = growth_org().await;
    let receiver = Receiver::start(|_, _| 200).await;
    let (id, old_secret) = endpoint(&org, &receiver.url, Some("dossier.created")).await;
    let admin = stack().await.admin();
    let new_secret = admin
        .rotate_webhook_secret(org.id, id, 24)
        .await
        .unwrap()
        .secret;
    assert_ne!(new_secret, old_secret);
    create_dossier(&org, "Rotated").await;
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    let signature = header(&got[0], "x-leadgrid-signature");
    assert_eq!(signature.matches("v1=").count(), 2, "{signature}");
    let body = &got[0].body;
    // Receivers still on the old secret keep verifying with the spec's own code...
    assert!(Verifier::Spec.verifies(signature, body, &old_secret, 300));
    // ...and each of the receivers' examples in docs/webhooks (and Stripe's library) accepts
    // either secret during the grace, and nothing else.
    for verifier in Verifier::ROTATION_AWARE {
        assert!(
            verifier.verifies(signature, body, &new_secret, 300),
            "{verifier:?}, new"
        );
        assert!(
            verifier.verifies(signature, body, &old_secret, 300),
            "{verifier:?}, old"
        );
        assert!(
            !verifier.verifies(signature, body, "whsec_other", 300),
            "{verifier:?}, other"
        );
        let tampered = body.replace("Rotated", "Rotatex");
        assert!(
            !verifier.verifies(signature, &tampered, &new_secret, 300),
            "{verifier:?}, body"
        );
    }
    // A replay outside the tolerance is refused, however well signed.
    let t: u64 = signature[2..signature.find(',').unwrap()].parse().unwrap();
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        < t + 3
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for verifier in Verifier::ROTATION_AWARE {
        assert!(
            !verifier.verifies(signature, body, &new_secret, 1),
            "{verifier:?}, stale"
        );
    }

    let newest = admin
        .rotate_webhook_secret(org.id, id, 0)
        .await
        .unwrap()
        .secret;
    create_dossier(&org, "Rotated again").await;
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| got.len() >= 2)
        .await;
    let signature = header(&got[1], "x-leadgrid-signature");
    assert_eq!(
        signature.matches("v1=").count(),
        1,
        "grace 0 ends the old secrets at once"
    );
    assert!(Verifier::Spec.verifies(signature, &got[1].body, &newest, 300));

    // The table holds salts, never a secret.
    let item = stack()
        .await
        .dynamodb()
        .get_item()
        .table_name(&stack().await.config.table_name)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{}", org.id)),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("WEBHOOK#{id}")),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let stored = format!("{item:?}");
    for secret in [&old_secret, &new_secret, &newest] {
        assert!(!stored.contains(secret.trim_start_matches("whsec_")));
    }
}

#[tokio::test]
async fn internal_destinations_are_refused_unless_allowed() {
    let org = growth_org().await;
    let admin = stack().await.admin();
    // The bypasses: hosts the HTTP client reads as IP literals, and userinfo.
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "http://169.254.169.254/latest",
        "http://2130706433:8080/hook",
        "http://127.1:8080/hook",
        "http://0x7f.0.0.1:8080/hook",
        "http://0177.0.0.1:8080/hook",
        "http://0xa9fea9fe/latest/meta-data",
        "http://169.254.169.254./latest/",
        "http://127.0.0.1\\@hooks.example.com/hook",
        "https://user@hooks.example.com/hook",
        "https://hooks.example.com:22/hook",
    ] {
        let refused = admin
            .create_webhook(
                org.id,
                url,
                EventType::ALL.to_vec(),
                Destinations::parse("public").unwrap(),
            )
            .await;
        assert!(refused.is_err(), "{url}");
    }
    let https_only = Destinations::parse("public").unwrap().https_only();
    assert!(admin
        .create_webhook(
            org.id,
            "http://hooks.example.com/",
            EventType::ALL.to_vec(),
            https_only
        )
        .await
        .is_err());
    // Stored while allowed, then delivered by a function that does not allow loopback: the
    // receiver gets nothing and the attempt log says why. The last one is stored raw, as an
    // endpoint written before URLs were normalized would be, so only the connect-time check
    // of the literal address stands between it and the receiver.
    let receiver = Receiver::start(|_, _| 200).await;
    // Each URL once per organization: the raw one differs by its query.
    let raw = format!("{}?legacy", receiver.url.replace("127.0.0.1", "0x7f.1"));
    let mut endpoints = Vec::new();
    for url in [
        receiver.url.clone(),
        receiver.url.replace("127.0.0.1", "localhost"),
        raw.clone(),
    ] {
        endpoints.push(endpoint(&org, &url, None).await.0);
    }
    let legacy = endpoints[2];
    let mut stored = shared::webhooks::get(&stack().await.core().db, org.id, legacy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.url,
        format!("{}?legacy", receiver.url),
        "stored in the form the client calls"
    );
    stored.url = raw;
    stack()
        .await
        .core()
        .db
        .put_item(stored.item(org.id).unwrap())
        .await
        .unwrap();
    for id in endpoints {
        let stack = stack().await;
        let mut deliverer = stack.deliverer(integration_tests::quick_schedule());
        deliverer.destinations = Destinations::default();
        let envelope = shared::domain::outbox::Envelope {
            id: format!("evt_{}", Uuid::now_v7().simple()),
            kind: EventType::DossierCreated,
            created_at: "2026-11-26T12:00:00Z".into(),
            data: json!({"id": "x"}),
        };
        let message = sqs_message(
            &shared::webhooks::Delivery::new(org.id, id, &envelope).unwrap(),
            std::time::SystemTime::now(),
            1,
        );
        let response = deliverer.handle(batch(message)).await;
        assert!(response.batch_item_failures.is_empty());
        let attempts = stack.attempt_log(org.id, id, None).await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome, Outcome::Skipped);
        assert!(
            attempts[0].error.as_deref().unwrap().contains("loopback"),
            "{:?}",
            attempts[0].error
        );
    }
    assert!(receiver.requests().is_empty());
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

#[tokio::test]
async fn the_last_failed_attempt_goes_to_the_dead_letter_queue_and_410_disables() {
    let org = growth_org().await;
    let stack = stack().await;
    let unavailable = Receiver::start(|_, _| 503).await;
    let (id, _) = endpoint(&org, &unavailable.url, None).await;
    let (deliverer, queue) = stack
        .deliverer_with_own_queue(shared::webhooks::RetrySchedule::seconds(&[0, 0]))
        .await;
    let envelope = note_created();
    let delivery = shared::webhooks::Delivery::new(org.id, id, &envelope).unwrap();
    let sent = std::time::SystemTime::now();
    let first = deliverer
        .handle(batch(sqs_message(&delivery, sent, 1)))
        .await;
    assert!(
        first.batch_item_failures.is_empty(),
        "done with: the next attempt is a new message"
    );
    let retry = queue.next().await;
    assert_eq!(retry.attempts_before, 1);
    let last = deliverer
        .handle(batch(sqs_message(&retry, std::time::SystemTime::now(), 1)))
        .await;
    assert!(
        last.batch_item_failures.is_empty(),
        "done with: moved to the DLQ"
    );
    let outcomes: Vec<Outcome> = stack
        .attempt_log(org.id, id, None)
        .await
        .iter()
        .map(|a| a.outcome)
        .collect();
    assert_eq!(outcomes, [Outcome::Retrying, Outcome::Failed]);
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let dlq = stack.config.events_dlq_url.clone().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut found = false;
    while !found && Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            // Hidden a moment, so that the next receive reads the next ten: other tests'
            // deliveries (test pings that failed) share this queue.
            .visibility_timeout(5)
            .send()
            .await
            .unwrap();
        found = out
            .messages()
            .iter()
            .any(|m| m.body().is_some_and(|b| b.contains(&envelope.id)));
    }
    assert!(found, "the message is in the dead-letter queue");

    let gone = Receiver::start(|_, _| 410).await;
    let (gone_id, _) = endpoint(&org, &gone.url, None).await;
    let delivery = shared::webhooks::Delivery::new(org.id, gone_id, &envelope).unwrap();
    assert!(deliverer
        .handle(batch(sqs_message(
            &delivery,
            std::time::SystemTime::now(),
            1
        )))
        .await
        .batch_item_failures
        .is_empty());
    let endpoint = shared::webhooks::get(&stack.core().db, org.id, gone_id)
        .await
        .unwrap()
        .unwrap();
    assert!(endpoint.disabled_at.is_some());
    assert!(deliverer
        .handle(batch(sqs_message(
            &delivery,
            std::time::SystemTime::now(),
            1
        )))
        .await
        .batch_item_failures
        .is_empty());
    assert_eq!(
        gone.requests().len(),
        1,
        "nothing is sent to a disabled endpoint"
    );
}

/// Receives that sent nothing (the function failed before its POST, or crashed) do not use
/// up the retry schedule: attempts are counted from the attempt log, from when the message
/// was sent, so a replay (a new message) starts the schedule again.
#[tokio::test]
async fn only_attempts_made_count_towards_the_retry_schedule() {
    let org = growth_org().await;
    let stack = stack().await;
    let failing = Receiver::start(|_, _| 500).await;
    let (id, _) = endpoint(&org, &failing.url, None).await;
    let (deliverer, queue) = stack
        .deliverer_with_own_queue(shared::webhooks::RetrySchedule::seconds(&[0, 0]))
        .await;
    let envelope = note_created();
    let delivery = shared::webhooks::Delivery::new(org.id, id, &envelope).unwrap();
    let sent = std::time::SystemTime::now();
    // Received nine times before, and nothing was ever sent: this is attempt 1 of 2.
    let first = deliverer
        .handle(batch(sqs_message(&delivery, sent, 10)))
        .await;
    assert!(first.batch_item_failures.is_empty(), "attempt 2 is queued");
    assert_eq!(queue.next().await.attempts_before, 1);
    // The original message, received again (its retry's send had failed, say): the attempt
    // log since it was sent says this is attempt 2.
    let last = deliverer
        .handle(batch(sqs_message(&delivery, sent, 11)))
        .await;
    assert!(
        last.batch_item_failures.is_empty(),
        "attempt 2 was the last"
    );
    let attempts = stack.attempt_log(org.id, id, None).await;
    let numbered: Vec<(u32, Outcome)> = attempts.iter().map(|a| (a.attempt, a.outcome)).collect();
    assert_eq!(numbered, [(1, Outcome::Retrying), (2, Outcome::Failed)]);
    assert_eq!(failing.requests().len(), 2);
    // A replay is a new message: its schedule starts again. (SentTimestamp is in
    // milliseconds; a replay comes well after the attempts it repeats.)
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let replayed = deliverer
        .handle(batch(sqs_message(
            &delivery,
            std::time::SystemTime::now(),
            1,
        )))
        .await;
    assert!(replayed.batch_item_failures.is_empty());
    assert_eq!(
        queue.next().await.attempts_before,
        1,
        "attempt 1 of the replay was made"
    );
    assert_eq!(failing.requests().len(), 3);
}

/// SQS counts a message hidden after a receive as in flight, and past about 120,000 in
/// flight a queue gives its consumers nothing: a retry hours away waits as a delayed
/// message instead (at most 15 minutes at a time), which does not count.
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html>
#[tokio::test]
async fn a_retry_hours_away_waits_delayed_not_in_flight() {
    let org = growth_org().await;
    let stack = stack().await;
    let failing = Receiver::start(|_, _| 500).await;
    let (id, _) = endpoint(&org, &failing.url, None).await;
    let (deliverer, queue) = stack
        .deliverer_with_own_queue(shared::webhooks::RetrySchedule::seconds(&[0, 7200]))
        .await;
    let delivery = shared::webhooks::Delivery::new(org.id, id, &note_created()).unwrap();
    let reply = deliverer
        .handle(batch(sqs_message(
            &delivery,
            std::time::SystemTime::now(),
            1,
        )))
        .await;
    assert!(
        reply.batch_item_failures.is_empty(),
        "nothing left in flight"
    );
    assert_eq!(
        queue.delayed().await,
        1,
        "the retry waits as a delayed message"
    );

    // Received before it is due (as after 15 minutes): delayed again, nothing sent.
    let due = shared::clock::now().unix_timestamp() + 6300;
    let early = shared::webhooks::Delivery {
        attempts_before: 1,
        not_before: Some(due),
        ..delivery.clone()
    };
    let reply = deliverer
        .handle(batch(sqs_message(&early, std::time::SystemTime::now(), 1)))
        .await;
    assert!(reply.batch_item_failures.is_empty());
    assert_eq!(queue.delayed().await, 2);
    assert_eq!(failing.requests().len(), 1, "no attempt before it is due");

    // Due: the second attempt is made, and it was the schedule's last.
    let due_now = shared::webhooks::Delivery {
        not_before: Some(shared::clock::now().unix_timestamp()),
        ..early
    };
    deliverer
        .handle(batch(sqs_message(
            &due_now,
            std::time::SystemTime::now(),
            1,
        )))
        .await;
    assert_eq!(failing.requests().len(), 2);
    let numbered: Vec<(u32, Outcome)> = stack
        .attempt_log(org.id, id, None)
        .await
        .iter()
        .map(|a| (a.attempt, a.outcome))
        .collect();
    assert_eq!(numbered, [(1, Outcome::Retrying), (2, Outcome::Failed)]);
}

/// A retry is queued before the message it comes from is deleted. When that deletion is
/// missed (a batch that outran the timeout), the message comes back and queues a second
/// copy: only the first copy received goes on, also when it is received again, or
/// redriven from the dead-letter queue under a new SQS message id.
#[tokio::test]
async fn of_two_copies_of_a_retry_only_the_first_received_goes_on() {
    let org = growth_org().await;
    let stack = stack().await;
    let failing = Receiver::start(|_, _| 500).await;
    let (id, _) = endpoint(&org, &failing.url, None).await;
    let (deliverer, queue) = stack
        .deliverer_with_own_queue(shared::webhooks::RetrySchedule::seconds(&[0; 8]))
        .await;
    let delivery = shared::webhooks::Delivery::new(org.id, id, &note_created()).unwrap();
    let now = std::time::SystemTime::now;
    let first = sqs_message(&delivery, now(), 1);
    deliverer.handle(batch(first.clone())).await;
    let mut received_again = first;
    received_again
        .attributes
        .insert("ApproximateReceiveCount".into(), "2".into());
    deliverer.handle(batch(received_again)).await;
    assert_eq!(failing.requests().len(), 2);
    let (copy, twin) = (queue.next().await, queue.next().await);
    assert_eq!(copy.requeued_from, twin.requeued_from);
    assert!(copy.requeued_from.is_some());
    assert_ne!(copy.copy_id, twin.copy_id);

    let copy_message = sqs_message(&copy, now(), 1);
    let reply = deliverer.handle(batch(copy_message.clone())).await;
    assert!(reply.batch_item_failures.is_empty());
    assert_eq!(
        failing.requests().len(),
        3,
        "the first copy received is sent"
    );
    let reply = deliverer.handle(batch(sqs_message(&twin, now(), 1))).await;
    assert!(
        reply.batch_item_failures.is_empty(),
        "the twin is done with"
    );
    assert_eq!(failing.requests().len(), 3, "the twin is not sent");
    deliverer.handle(batch(copy_message)).await;
    assert_eq!(
        failing.requests().len(),
        4,
        "the copy, received again, goes on"
    );
    let redriven = sqs_message(&copy, now(), 1);
    deliverer.handle(batch(redriven)).await;
    assert_eq!(failing.requests().len(), 5, "the copy, redriven, goes on");
}

#[tokio::test]
async fn nothing_is_lost_when_a_third_of_deliveries_fail() {
    pipeline();
    let org = growth_org().await;
    let receiver = Receiver::start(|_, _| if rand_third() { 500 } else { 200 }).await;
    endpoint(&org, &receiver.url, None).await;
    let started = Instant::now();
    let dossiers = dossiers_router().await;
    let notes = notes_router().await;
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(
            create_dossier(&org, &format!("Lead {i}")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for (i, id) in ids.iter().enumerate() {
        let renamed = patch(&format!("/api/v1/dossiers/{id}"))
            .key(&org.key)
            .json(&json!({"name": format!("Lead {i} BV")}))
            .send(&dossiers)
            .await;
        assert_eq!(renamed.status, 200);
        let note = post(&format!("/api/v1/dossiers/{id}/notes"))
            .key(&org.key)
            .json(&json!({"content": format!("n{i}")}))
            .send(&notes)
            .await;
        assert_eq!(note.status, 201);
        let archived = integration_tests::delete(&format!("/api/v1/dossiers/{id}"))
            .key(&org.key)
            .send(&dossiers)
            .await;
        assert_eq!(archived.status, 200);
    }
    let mutations_done = started.elapsed();
    let events = outbox(org.id).await;
    assert_eq!(
        events.len(),
        250,
        "create, update, note, and an archive's update and delete, for each of 50 dossiers"
    );
    let expected: std::collections::BTreeSet<String> =
        events.iter().map(|e| e.id.clone()).collect();
    let requests = receiver
        .wait_for(Duration::from_secs(180), |got| {
            let delivered: std::collections::BTreeSet<String> = got
                .iter()
                .filter(|r| r.status == 200)
                .map(Received::event_id)
                .collect();
            delivered == expected
        })
        .await;
    let failed = requests.iter().filter(|r| r.status != 200).count();
    println!(
        "200 mutations in {:.1} s; every one of {} events delivered {:.1} s after the first mutation; {} requests, {} answered 500",
        mutations_done.as_secs_f64(),
        expected.len(),
        started.elapsed().as_secs_f64(),
        requests.len(),
        failed
    );
    assert!(failed > 20, "the receiver failed about a third: {failed}");
}

fn rand_third() -> bool {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now()) % 3 == 0
}

#[tokio::test]
async fn a_rolled_back_cv_create_delivers_nothing() {
    pipeline();
    let org = growth_org().await;
    let receiver = Receiver::start(|_, _| 200).await;
    endpoint(&org, &receiver.url, None).await;
    let stack = stack().await;
    let mut broken = stack.cvs();
    broken.bucket = format!("missing-bucket-{}", Uuid::now_v7().simple());
    let router = dossiers::router(stack.core(), broken);
    let boundary = "rolledback";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\ncandidate\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAnn\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n").into_bytes();
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let failed = post("/api/v1/dossiers")
        .key(&org.key)
        .raw(&format!("multipart/form-data; boundary={boundary}"), body)
        .send(&router)
        .await;
    assert_eq!(failed.status, 500);
    // A later change's event arrives alone: the stream is ordered, so nothing came before.
    let marker = create_dossier(&org, "After").await;
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_all = receiver.requests();
    assert_eq!(got_all.len(), 1, "{got_all:?}");
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["data"]["id"], marker["id"]);
}

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
    let router = integration_tests::webhooks_router().await;
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
