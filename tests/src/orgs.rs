//! Organizations with keys, and the events their writes put in the outbox.

use shared::domain::orgs::Plan;
use shared::web::auth::Scope;
use uuid::Uuid;

use crate::stack;

/// An organization on `plan` with one key holding `scopes`.
pub struct TestOrg {
    pub id: Uuid,
    pub key: String,
    pub key_id: Uuid,
}

pub async fn org_with(plan: Plan, scopes: &[Scope]) -> TestOrg {
    let admin = stack().await.admin();
    let org = admin
        .create_org("Test Org", plan)
        .await
        .expect("org create");
    let key = admin
        .create_key(org.id, scopes.to_vec(), None, None)
        .await
        .expect("key create");
    TestOrg {
        id: org.id,
        key: key.key,
        key_id: key.id,
    }
}

pub async fn growth_org() -> TestOrg {
    org_with(Plan::Growth, &Scope::ALL).await
}

impl TestOrg {
    pub async fn key_with(&self, scopes: &[Scope]) -> String {
        let admin = stack().await.admin();
        admin
            .create_key(self.id, scopes.to_vec(), None, None)
            .await
            .expect("key create")
            .key
    }
}
/// The domain events an organization's writes have put in the outbox, oldest first.
pub async fn outbox(org: Uuid) -> Vec<shared::domain::outbox::Envelope> {
    let core = stack().await.core();
    shared::domain::outbox::retained(&core.db, org)
        .await
        .expect("outbox query")
}
