//! Internal and disguised destinations are refused when created and when delivered.

use integration_tests::{growth_org, stack, Receiver};
use serde_json::json;
use shared::domain::outbox::EventType;
use shared::webhooks::{Destinations, Outcome};
use uuid::Uuid;

use super::{batch, endpoint, sqs_message};

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
                vec![shared::webhooks::Subscription::Every],
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
            vec![shared::webhooks::Subscription::Every],
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
    let stored = shared::webhooks::get(&stack().await.core().db, org.id, legacy)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.url.as_str(),
        format!("{}?legacy", receiver.url),
        "stored in the form the client calls"
    );
    let mut item = stored.item(org.id).unwrap();
    item.insert("url".into(), shared::table::store::s(raw));
    stack().await.core().db.put_item(item).await.unwrap();
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
