//! API keys as stored before keys were hashed with SHA-256 alone, and what a key's item
//! holds: for the tests of the upgrade at a key's first use.

use shared::web::auth::Scope;
use uuid::Uuid;

use crate::stack;

/// A key stored as keys were before they were hashed without a pepper: HMAC-SHA256
/// under the pepper `secret_id` holds.
pub async fn legacy_key(org: Uuid, scopes: &[Scope], secret_id: &str) -> String {
    let stack = stack().await;
    let key = stack
        .admin()
        .create_key(org, scopes.to_vec(), None, None)
        .await
        .expect("key create")
        .key;
    let pepper = shared::secrets::SecretSource::<shared::secrets::KeyPepper>::new(
        aws_sdk_secretsmanager::Client::new(&stack.sdk),
        secret_id,
    )
    .get()
    .await
    .expect("the pepper's secret reads");
    let (org, id) = shared::web::auth::parse_key(&key).expect("a well-formed key");
    let legacy = shared::web::auth::legacy_hash_key(pepper.bytes(), &key);
    set_key_hash(org, id, &legacy).await;
    key
}

/// The hashes the key's item holds: `key_hash`, and `key_sha256` if it has one.
pub async fn stored_key_hashes(key: &str) -> (String, Option<String>) {
    let (org, id) = shared::web::auth::parse_key(key).expect("a well-formed key");
    let item = stack()
        .await
        .admin()
        .db
        .get_item(
            &shared::table::keys::org_pk(org),
            &shared::table::keys::api_key_sk(id),
        )
        .await
        .expect("GetItem")
        .expect("the key's item");
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    (text("key_hash").expect("a key_hash"), text("key_sha256"))
}

async fn set_key_hash(org: Uuid, id: Uuid, hash: &str) {
    let set_hash = shared::table::store::Expression {
        text: "SET key_hash = :hash",
        values: vec![(":hash", shared::table::store::s(hash))],
        ..Default::default()
    };
    let (pk, sk) = (
        shared::table::keys::org_pk(org),
        shared::table::keys::api_key_sk(id),
    );
    stack()
        .await
        .core()
        .db
        .update_if(&pk, &sk, &set_hash, None)
        .await
        .expect("UpdateItem")
        .expect("no condition");
}
