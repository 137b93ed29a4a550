//! `/webhook_endpoints`: subscribing and unsubscribing through the API, under the same rules
//! as `leadgrid-admin webhook …`, which runs the same domain functions.

use std::time::Duration;

use integration_tests::{post, webhook_endpoints_router, Call, Receiver};
use serde_json::{json, Value};

mod attempt_log;
mod deliveries;
mod management;
mod recovery;
mod test_pings;

async fn subscribe(key: &str, body: Value) -> integration_tests::Reply {
    post("/api/v1/webhook_endpoints")
        .key(key)
        .json(&body)
        .send(&webhook_endpoints_router().await)
        .await
}

/// A receiver on 127.0.0.1 that answers 200, subscribed to `dossier.created` through the
/// API: the receiver, the endpoint's id and its secret.
async fn subscribed_receiver(key: &str) -> (Receiver, String, String) {
    let receiver = Receiver::start(|_, _| 200).await;
    let created = subscribe(
        key,
        json!({"url": receiver.url, "events": ["dossier.created"]}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let data = &created.body["data"];
    let id = data["id"].as_str().unwrap().to_string();
    let secret = data["secret"].as_str().unwrap().to_string();
    (receiver, id, secret)
}

fn attempts_path(endpoint: &str, query: &str) -> String {
    format!("/api/v1/webhook_endpoints/{endpoint}/attempts?{query}")
}

/// The attempts of `endpoint` for `event`, once the attempt log shows at least one.
async fn logged_attempts(key: &str, endpoint: &str, event: &str) -> Vec<Value> {
    let router = webhook_endpoints_router().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = Call::get(&attempts_path(endpoint, &format!("event_id={event}")))
            .key(key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let attempts = reply.body["data"].as_array().unwrap().clone();
        if !attempts.is_empty() {
            return attempts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt for {event} was logged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
