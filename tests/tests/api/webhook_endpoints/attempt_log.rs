//! The attempt log: newest first, paged by cursor.

use integration_tests::{growth_org, stack, webhook_endpoints_router, Call};
use serde_json::json;

use super::{attempts_path, subscribe};

/// The log as the delivery worker writes it, read newest first a page at a time, whole or
/// for one event.
#[tokio::test]
async fn the_attempt_log_pages_newest_first_by_cursor() {
    use shared::domain::outbox::EventType;
    use shared::webhooks::{Attempt, Outcome, WebhookType};
    let org = growth_org().await;
    let created = subscribe(&org.key, json!({"url": "https://hooks.example.com/log"})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let events = [
        "evt_0000000000000000000000000000000a",
        "evt_0000000000000000000000000000000b",
    ];
    let stack = stack().await;
    let mut made = Vec::new();
    for n in 0..5 {
        let attempt = Attempt {
            id: shared::ids::new_id(),
            endpoint_id: id.parse().unwrap(),
            event_id: events[n % 2].into(),
            event_type: WebhookType::Domain(EventType::DossierCreated),
            attempt: n as u32 / 2 + 1,
            url: Some("https://hooks.example.com/log".into()),
            created_at: shared::clock::now(),
            duration_ms: 12,
            status: Some(500),
            error: None,
            response_body: Some("not yet".into()),
            outcome: Outcome::Retrying,
            next_attempt_at: None,
            timed_out: false,
        };
        shared::webhooks::attempts::record(&stack.core().db, org.id, &attempt)
            .await
            .unwrap();
        made.push((attempt.id.to_string(), attempt.event_id));
    }
    made.reverse();

    let router = webhook_endpoints_router().await;
    let read_all = |filter: &'static str| {
        let (router, key, id) = (router.clone(), org.key.clone(), id.clone());
        async move {
            let (mut seen, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
            loop {
                let mut query = format!("per_page=2{filter}");
                if let Some(cursor) = &cursor {
                    query.push_str(&format!("&cursor={cursor}"));
                }
                let reply = Call::get(&attempts_path(&id, &query))
                    .key(&key)
                    .send(&router)
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.body);
                assert_eq!(reply.body["meta"]["per_page"], 2);
                assert!(reply.body["meta"].get("total").is_none(), "no count kept");
                pages += 1;
                for attempt in reply.body["data"].as_array().unwrap() {
                    assert_eq!(attempt["endpoint_id"], id.as_str());
                    assert_eq!(attempt["status"], 500);
                    assert_eq!(attempt["outcome"], "retrying");
                    seen.push((
                        attempt["id"].as_str().unwrap().to_string(),
                        attempt["event_id"].as_str().unwrap().to_string(),
                    ));
                }
                match reply.body["meta"]["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_string()),
                    None => return (seen, pages),
                }
            }
        }
    };
    assert_eq!(read_all("").await, (made.clone(), 3), "newest first");
    let of_a: Vec<_> = made
        .iter()
        .filter(|(_, e)| e == events[0])
        .cloned()
        .collect();
    assert_eq!(
        read_all("&event_id=evt_0000000000000000000000000000000a").await,
        (of_a, 2)
    );

    for query in [
        "page=2",
        "cursor=abc",
        "event_id=evt_x",
        "event_id=evt_0000000000000000000000000000000a%23",
        "per_page=0",
        "per_page=101",
        "bogus=1",
        "event_id=evt_0000000000000000000000000000000a&event_id=evt_0000000000000000000000000000000b",
    ] {
        let reply = Call::get(&attempts_path(&id, query))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.error_code(), "invalid_query", "{query}");
    }
    let unknown = Call::get(&attempts_path(&uuid::Uuid::now_v7().to_string(), ""))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(unknown.status, 404);
    let stranger = growth_org().await;
    let elsewhere = Call::get(&attempts_path(&id, ""))
        .key(&stranger.key)
        .send(&router)
        .await;
    assert_eq!(elsewhere.status, 404, "another organization's endpoint");
}
