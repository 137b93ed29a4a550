//! DynamoDB round trips per request on the hot path (warm container), counted at the SDK.

use integration_tests::{growth_org, one_window, post, stack, Call};
use serde_json::json;

#[tokio::test]
async fn warm_requests_cost_the_documented_round_trips() {
    let org = growth_org().await;
    let stack = stack().await;
    let (mut core, calls) = stack.counted_core();
    // The first request of a rate-limit window costs one more call: stay inside one.
    core.clock = one_window();
    let dossiers = dossiers::router(core.clone(), stack.cvs());
    let created = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "Warm"}))
        .send(&dossiers)
        .await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    // Warm up: the secret and the plan are now cached in this "container".
    Call::get("/api/v1/nope")
        .key(&org.key)
        .send(&dossiers)
        .await;
    calls.take();

    let mut measured = Vec::new();
    for (name, call, expected) in [
        (
            "auth + rate limit (unknown route)",
            Call::get("/api/v1/nope"),
            1,
        ),
        (
            "GET one dossier",
            Call::get(&format!("/api/v1/dossiers/{id}")),
            2,
        ),
        ("list page 1", Call::get("/api/v1/dossiers"), 3),
        (
            "list page 1 filtered",
            Call::get("/api/v1/dossiers?type=sales&status=active"),
            3,
        ),
    ] {
        let reply = call.key(&org.key).send(&dossiers).await;
        assert!(reply.status.as_u16() < 500);
        let used = calls.take();
        measured.push(format!("{name}: {used}"));
        assert_eq!(used, expected, "{name}");
    }
    for (name, body, expected) in [
        (
            "POST sales dossier",
            json!({"type": "sales", "name": "Plain"}),
            4,
        ),
        (
            "POST candidate dossier with new contact",
            json!({"type": "candidate", "name": "New", "email": "new@example.com"}),
            5,
        ),
    ] {
        let reply = post("/api/v1/dossiers")
            .key(&org.key)
            .json(&body)
            .send(&dossiers)
            .await;
        assert_eq!(reply.status, 201);
        let used = calls.take();
        measured.push(format!("{name}: {used}"));
        assert_eq!(used, expected, "{name}");
    }
    let notes = notes::router(core.clone());
    let noted = post(&format!("/api/v1/dossiers/{id}/notes"))
        .key(&org.key)
        .json(&json!({"content": "Warm note"}))
        .send(&notes)
        .await;
    assert_eq!(noted.status, 201, "{}", noted.body);
    let used = calls.take();
    measured.push(format!("POST note: {used}"));
    assert_eq!(used, 2, "POST note: auth, the note's transaction");
    // With an Idempotency-Key: the claim follows authentication (nothing is written before
    // the key verifies), and storing the response is the other extra round trip; a replay
    // skips the handler.
    let body = json!({"type": "sales", "name": "Keyed"});
    let keyed = || {
        post("/api/v1/dossiers")
            .key(&org.key)
            .header("Idempotency-Key", "round-trips")
            .json(&body)
    };
    assert_eq!(keyed().send(&dossiers).await.status, 201);
    let first = calls.take();
    assert_eq!(first, 4 + 2, "POST sales dossier with Idempotency-Key");
    measured.push(format!(
        "POST sales dossier with Idempotency-Key: {first} calls in 6 round trips"
    ));
    assert_eq!(keyed().send(&dossiers).await.status, 201);
    let replay = calls.take();
    assert_eq!(replay, 2, "replay: auth, claim");
    measured.push(format!("its replay: {replay} calls in 2 round trips"));
    println!("DynamoDB round trips: {}", measured.join(", "));
}

#[tokio::test]
async fn opening_a_connection_reads_one_key_and_finds_nothing() {
    let stack = stack().await;
    let (core, calls) = stack.counted_core();
    core.db.open_connection().await.unwrap();
    assert_eq!(calls.take_items(), 0);
    assert_eq!(calls.take(), 1);
}
