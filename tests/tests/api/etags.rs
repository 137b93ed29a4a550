//! ETag and If-Match: no lost updates on concurrent edits of dossiers and contacts.

use integration_tests::{contacts_router, delete, dossiers_router, growth_org, patch, post, Call};
use serde_json::json;

#[tokio::test]
async fn two_patches_with_the_same_if_match_one_wins_the_other_gets_412() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let created = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "A"}))
        .send(&router)
        .await;
    let etag = created.header("etag").unwrap().to_string();
    let path = format!(
        "/api/v1/dossiers/{}",
        created.body["data"]["id"].as_str().unwrap()
    );
    assert_eq!(
        Call::get(&path)
            .key(&org.key)
            .send(&router)
            .await
            .header("etag"),
        Some(etag.as_str())
    );

    let (a, b) = tokio::join!(
        patch(&path)
            .key(&org.key)
            .header("if-match", &etag)
            .json(&json!({"name": "From A"}))
            .send(&router),
        patch(&path)
            .key(&org.key)
            .header("if-match", &etag)
            .json(&json!({"name": "From B"}))
            .send(&router),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
    let loser = if a.status == 412 { &a } else { &b };
    assert_eq!(loser.error_code(), "precondition_failed");
    let winner = if a.status == 200 { &a } else { &b };
    let new_etag = winner.header("etag").unwrap().to_string();
    assert_ne!(new_etag, etag, "every write changes the ETag");
    let current = Call::get(&path).key(&org.key).send(&router).await;
    assert_eq!(current.body["data"]["name"], winner.body["data"]["name"]);

    let stale = delete(&path)
        .key(&org.key)
        .header("if-match", &etag)
        .send(&router)
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(
        Call::get(&path).key(&org.key).send(&router).await.body["data"]["status"],
        "active"
    );
    // The current version as a weak tag does not match (strong comparison, RFC 9110).
    let weak = delete(&path)
        .key(&org.key)
        .header("if-match", &format!("W/{new_etag}"))
        .send(&router)
        .await;
    assert_eq!(weak.status, 412);
    assert_eq!(weak.error_code(), "precondition_failed");
    let fresh = delete(&path)
        .key(&org.key)
        .header("if-match", &format!("\"0\", {new_etag}"))
        .send(&router)
        .await;
    assert_eq!(fresh.status, 200, "a list matches any of its tags");
    let any = patch(&path)
        .key(&org.key)
        .header("if-match", "*")
        .json(&json!({"status": "active"}))
        .send(&router)
        .await;
    assert_eq!(any.status, 200);
    let without = patch(&path)
        .key(&org.key)
        .json(&json!({"name": "Last write wins"}))
        .send(&router)
        .await;
    assert_eq!(without.status, 200);
}

#[tokio::test]
async fn contacts_carry_etags_and_honour_if_match() {
    let org = growth_org().await;
    let router = contacts_router().await;
    let created = post("/api/v1/contacts")
        .key(&org.key)
        .json(&json!({"full_name": "Eve"}))
        .send(&router)
        .await;
    let etag = created.header("etag").unwrap().to_string();
    let path = format!(
        "/api/v1/contacts/{}",
        created.body["data"]["id"].as_str().unwrap()
    );
    let updated = patch(&path)
        .key(&org.key)
        .header("if-match", &etag)
        .json(&json!({"city": "Utrecht"}))
        .send(&router)
        .await;
    assert_eq!(updated.status, 200);
    let stale = patch(&path)
        .key(&org.key)
        .header("if-match", &etag)
        .json(&json!({"city": "Delft"}))
        .send(&router)
        .await;
    assert_eq!(
        (stale.status.as_u16(), stale.error_code()),
        (412, "precondition_failed")
    );
    let stale_delete = delete(&path)
        .key(&org.key)
        .header("if-match", &etag)
        .send(&router)
        .await;
    assert_eq!(stale_delete.status, 412);
    assert_eq!(
        Call::get(&path).key(&org.key).send(&router).await.body["data"]["city"],
        "Utrecht"
    );
    let current = updated.header("etag").unwrap().to_string();
    assert_eq!(
        delete(&path)
            .key(&org.key)
            .header("if-match", &current)
            .send(&router)
            .await
            .status,
        200
    );
}
