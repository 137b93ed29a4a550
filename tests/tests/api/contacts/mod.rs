//! Contacts: create, read, update, and race-free email uniqueness.

use integration_tests::{contacts_router, post, TestOrg};
use serde_json::Value;

mod creates;
mod emails;
mod listing;
mod talent_pool;

async fn create(org: &TestOrg, body: Value) -> integration_tests::Reply {
    post("/api/v1/contacts")
        .key(&org.key)
        .json(&body)
        .send(&contacts_router().await)
        .await
}
