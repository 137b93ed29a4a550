//! Webhook secrets stay out of the table, and rotations keep at most one previous secret.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{growth_org, post, stack, webhook_endpoints_router};
use serde_json::json;

use super::subscribe;

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
    let router = webhook_endpoints_router().await;
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
    let router = webhook_endpoints_router().await;
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
