//! Idempotency-Key on writes: one effect per key, stored responses replayed, conflicts
//! refused, and nothing stored for requests that changed nothing.

use integration_tests::{
    contacts_router, dossiers_router, growth_org, one_window, outbox, post, stack, Call, Reply,
    TestOrg,
};
use serde_json::json;
use shared::domain::outbox::EventType;

fn create_dossier(org: &TestOrg, idempotency_key: &str, name: &str) -> Call {
    post("/api/v1/dossiers")
        .key(&org.key)
        .header("Idempotency-Key", idempotency_key)
        .json(&json!({"type": "sales", "name": name}))
}

async fn dossier_total(org: &TestOrg) -> u64 {
    Call::get("/api/v1/dossiers")
        .key(&org.key)
        .send(&dossiers_router().await)
        .await
        .body["meta"]["total"]
        .as_u64()
        .unwrap()
}

fn created_events(events: &[shared::domain::outbox::Envelope]) -> usize {
    events
        .iter()
        .filter(|e| e.kind == EventType::DossierCreated)
        .count()
}

#[tokio::test]
async fn twenty_concurrent_creates_with_one_key_make_one_dossier_and_one_event() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let replies: Vec<Reply> = futures_util::future::join_all(
        (0..20).map(|_| create_dossier(&org, "create-acme-1", "Acme").send(&router)),
    )
    .await;
    let first = &replies[0];
    assert_eq!(first.status, 201, "{}", first.body);
    for reply in &replies {
        assert_eq!((reply.status, &reply.body), (first.status, &first.body));
        assert_eq!(reply.header("etag"), first.header("etag"));
    }
    let replayed = replies
        .iter()
        .filter(|r| r.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 19);
    assert_eq!(dossier_total(&org).await, 1);
    assert_eq!(created_events(&outbox(org.id).await), 1);
}

#[tokio::test]
async fn a_replay_returns_the_original_counted_and_a_changed_request_is_422() {
    let org = growth_org().await;
    // One rate-limit window throughout, so that remaining counts can be compared.
    let stack = stack().await;
    let router = dossiers::router(stack.core_at(one_window()), stack.cvs());
    // The client timed out: it never read this response.
    let original = create_dossier(&org, "retry-me", "Globex")
        .send(&router)
        .await;
    assert_eq!(original.status, 201);
    let replay = create_dossier(&org, "retry-me", "Globex")
        .send(&router)
        .await;
    assert_eq!(
        (replay.status, &replay.body),
        (original.status, &original.body)
    );
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(original.header("idempotent-replayed"), None);
    let remaining = |reply: &integration_tests::Reply| -> u64 {
        reply
            .header("x-ratelimit-remaining")
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        remaining(&replay),
        remaining(&original) - 1,
        "a replay is counted like any request"
    );
    assert_eq!(replay.header("content-type"), Some("application/json"));

    let other_body = create_dossier(&org, "retry-me", "Initech")
        .send(&router)
        .await;
    assert_eq!(other_body.status, 422);
    assert_eq!(other_body.error_code(), "idempotency_conflict");
    let other_path = post("/api/v1/contacts")
        .key(&org.key)
        .header("Idempotency-Key", "retry-me")
        .json(&json!({"type": "sales", "name": "Globex"}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(other_path.status, 422, "{}", other_path.body);
    assert_eq!(dossier_total(&org).await, 1);
    assert_eq!(created_events(&outbox(org.id).await), 1);
}

#[tokio::test]
async fn keys_of_different_api_keys_do_not_collide() {
    let router = dossiers_router().await;
    let org = growth_org().await;
    let other_key = org.key_with(&shared::web::auth::Scope::ALL).await;
    let mine = create_dossier(&org, "same-key", "Umbrella")
        .send(&router)
        .await;
    let theirs = post("/api/v1/dossiers")
        .key(&other_key)
        .header("Idempotency-Key", "same-key")
        .json(&json!({"type": "sales", "name": "Umbrella"}))
        .send(&router)
        .await;
    assert_eq!((mine.status.as_u16(), theirs.status.as_u16()), (201, 201));
    assert_eq!(theirs.header("idempotent-replayed"), None);
    assert_ne!(mine.body["data"]["id"], theirs.body["data"]["id"]);
    assert_eq!(dossier_total(&org).await, 2);
}

#[tokio::test]
async fn failed_requests_are_not_stored_and_can_be_corrected() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let bad = post("/api/v1/dossiers")
        .key(&org.key)
        .header("Idempotency-Key", "fix-me")
        .json(&json!({"type": "sales"}))
        .send(&router)
        .await;
    assert_eq!(bad.status, 400);
    let fixed = create_dossier(&org, "fix-me", "Hooli").send(&router).await;
    assert_eq!(fixed.status, 201, "{}", fixed.body);
    assert_eq!(fixed.header("idempotent-replayed"), None);

    for bad_key in ["", &"k".repeat(256), "caf\u{e9}"] {
        let reply = post("/api/v1/dossiers")
            .key(&org.key)
            .header("Idempotency-Key", bad_key)
            .json(&json!({"type": "sales", "name": "X"}))
            .send(&router)
            .await;
        assert_eq!(reply.status, 400, "{bad_key:?}");
        assert!(reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"));
    }
    let unauthenticated = post("/api/v1/dossiers")
        .header("Idempotency-Key", "fix-me")
        .json(&json!({"type": "sales", "name": "Hooli"}))
        .send(&router)
        .await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(dossier_total(&org).await, 1);
}

#[tokio::test]
async fn a_key_still_running_answers_409() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let body = serde_json::to_vec(&json!({"type": "sales", "name": "Slow"})).unwrap();
    let fingerprint = shared::web::idempotency::fingerprint(
        &http::Method::POST,
        "/api/v1/dossiers",
        Some("application/json"),
        &body,
    );
    // A first request that claimed the key and is still running.
    let (_, key_id) = shared::web::auth::parse_key(&org.key).unwrap();
    let slot = shared::web::idempotency::Slot::new(
        org.id,
        key_id,
        &shared::web::idempotency::IdempotencyKey::parse("slow-one").unwrap(),
    );
    let core = stack().await.core();
    assert!(matches!(
        slot.claim(&core.db, &fingerprint, shared::clock::now())
            .await
            .unwrap(),
        shared::web::idempotency::Claim::Claimed { .. }
    ));
    let reply = post("/api/v1/dossiers")
        .key(&org.key)
        .header("Idempotency-Key", "slow-one")
        .raw("application/json", body)
        .send(&router)
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(reply.error_code(), "idempotency_in_progress");
    assert_eq!(dossier_total(&org).await, 0);
}

#[tokio::test]
async fn multipart_creates_replay_across_boundaries_and_store_no_cv_bytes() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let form = |boundary: &str| {
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\ncandidate\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").into_bytes();
        body.extend(b"%PDF-1.7\n");
        body.resize(body.len() + 200_000, b'x');
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        body
    };
    let send = |boundary: &'static str| {
        post("/api/v1/dossiers")
            .key(&org.key)
            .header("Idempotency-Key", "cv-upload")
            .raw(
                &format!("multipart/form-data; boundary={boundary}"),
                form(boundary),
            )
    };
    let first = send("first-boundary-1").send(&router).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = send("second-boundary-2").send(&router).await;
    assert_eq!((again.status, &again.body), (first.status, &first.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(dossier_total(&org).await, 1);

    let stack = stack().await;
    let records = stack
        .dynamodb()
        .query()
        .table_name(&stack.config.table_name)
        .key_condition_expression("PK = :pk AND begins_with(SK, :idem)")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{}", org.id)),
        )
        .expression_attribute_values(
            ":idem",
            aws_sdk_dynamodb::types::AttributeValue::S("IDEM#".into()),
        )
        .send()
        .await
        .unwrap();
    let record = &records.items()[0];
    let stored = record["body"].as_b().unwrap().as_ref().len();
    assert!(
        stored < 10_000,
        "the stored response is the JSON, not the CV: {stored} bytes"
    );
    assert!(record.contains_key("expires_at_epoch"));
}

/// A write to a path no route serves claims its key (the catch-all function cannot know
/// the path is unknown before the gate) and frees it again: the 404 is not stored, so the
/// same key answers 404 again rather than a conflict.
#[tokio::test]
async fn a_write_to_an_unknown_path_frees_its_key() {
    let org = growth_org().await;
    let router = integration_tests::flows_router().await;
    for _ in 0..2 {
        let reply = post("/api/v1/no-such-thing")
            .key(&org.key)
            .header("Idempotency-Key", "unknown-path")
            .json(&json!({}))
            .send(&router)
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (404, "not_found")
        );
    }
}
