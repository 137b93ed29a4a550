//! Keyed replays count, a waiting repeat writes nothing, a CV is the file checked, no caching.

use integration_tests::{dossiers_router, growth_org, post, stack, Call};
use serde_json::json;

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
    let slot = Slot::new(
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        &shared::web::idempotency::IdempotencyKey::parse("waiting").unwrap(),
    );
    assert!(
        slot.current(&db, "fp", shared::clock::now())
            .await
            .unwrap()
            .is_none(),
        "free"
    );
    let Claim::Claimed { lock } = slot.claim(&db, "fp", shared::clock::now()).await.unwrap() else {
        panic!("a free key is claimed");
    };
    assert!(matches!(
        slot.current(&db, "fp", shared::clock::now()).await.unwrap(),
        Some(Claim::InProgress)
    ));
    assert!(matches!(
        slot.current(&db, "other", shared::clock::now())
            .await
            .unwrap(),
        Some(Claim::Conflict)
    ));
    slot.release(&db, &lock).await.unwrap();
    assert!(
        slot.current(&db, "fp", shared::clock::now())
            .await
            .unwrap()
            .is_none(),
        "freed"
    );
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
