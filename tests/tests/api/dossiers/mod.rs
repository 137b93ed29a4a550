//! Dossiers: create, read, update, archive, list with exact totals.

use integration_tests::{dossiers_router, post, stack, Call, TestOrg};
use serde_json::Value;

mod creates;
mod listing;
mod updates;

pub(crate) async fn create(org: &TestOrg, body: Value) -> Value {
    let reply = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&body)
        .send(&dossiers_router().await)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["data"].clone()
}

pub(crate) async fn flows_of(org: &TestOrg) -> Vec<shared::domain::flows::Flow> {
    shared::domain::flows::list(&stack().await.core().db, org.id)
        .await
        .unwrap()
}

pub(crate) async fn list_all(org: &TestOrg, query: &str) -> (Vec<Value>, u64) {
    let router = dossiers_router().await;
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if query.is_empty() { "" } else { "&" };
        let path = match &cursor {
            Some(c) => format!("/api/v1/dossiers?{query}{sep}per_page=3&cursor={c}"),
            None => format!("/api/v1/dossiers?{query}{sep}per_page=3"),
        };
        let reply = Call::get(&path).key(&org.key).send(&router).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        let total = reply.body["meta"]["total"].as_u64().unwrap();
        items.extend(reply.body["data"].as_array().unwrap().clone());
        match reply.body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (items, total),
        }
    }
}
