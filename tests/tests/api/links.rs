//! Dossier links and the contact delete cascade.

use integration_tests::{
    contacts_router, delete, dossiers_router, growth_org, outbox, post, Call, TestOrg,
};
use serde_json::{json, Value};

async fn dossier(org: &TestOrg, name: &str) -> String {
    let reply = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": name}))
        .send(&dossiers_router().await)
        .await;
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

async fn contact(org: &TestOrg, name: &str, email: &str) -> String {
    let reply = post("/api/v1/contacts")
        .key(&org.key)
        .json(&json!({"full_name": name, "email": email, "company": "Rabobank"}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

async fn link(
    org: &TestOrg,
    dossier: &str,
    contact: &str,
    role: &str,
    primary: bool,
) -> integration_tests::Reply {
    post(&format!("/api/v1/dossiers/{dossier}/contacts"))
        .key(&org.key)
        .json(&json!({"contact_id": contact, "role_on_dossier": role, "is_primary": primary}))
        .send(&contacts_router().await)
        .await
}

async fn primary_of(org: &TestOrg, dossier: &str) -> Value {
    Call::get(&format!("/api/v1/dossiers/{dossier}"))
        .key(&org.key)
        .send(&dossiers_router().await)
        .await
        .body["data"]["primary_contact_id"]
        .clone()
}

async fn linked(org: &TestOrg, dossier: &str) -> Value {
    Call::get(&format!("/api/v1/dossiers/{dossier}/contacts"))
        .key(&org.key)
        .send(&contacts_router().await)
        .await
        .body
}

async fn dossier_count(org: &TestOrg, contact: &str) -> Value {
    Call::get(&format!("/api/v1/contacts/{contact}"))
        .key(&org.key)
        .send(&contacts_router().await)
        .await
        .body["data"]["dossier_count"]
        .clone()
}

#[tokio::test]
async fn the_specs_link_examples_and_relinking() {
    let org = growth_org().await;
    let d = dossier(&org, "Rabobank, Talent rollout").await;
    let mark = contact(&org, "Mark de Vries", "mark@rabobank.nl").await;
    let reply = link(&org, &d, &mark, "decision_maker", false).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"data": {"dossier_id": d, "contact_id": mark, "role_on_dossier": "decision_maker", "is_primary": false}})
    );
    let listed = linked(&org, &d).await;
    assert_eq!(
        listed["meta"],
        json!({"total": 1, "page": 1, "per_page": 25, "next_cursor": null})
    );
    assert_eq!(
        listed["data"][0],
        json!({"contact_id": mark, "full_name": "Mark de Vries", "email": "mark@rabobank.nl", "company": "Rabobank", "role_on_dossier": "decision_maker", "is_primary": false})
    );
    assert_eq!(dossier_count(&org, &mark).await, 1);

    let again = link(&org, &d, &mark, "champion", true).await;
    assert_eq!(again.status, 200, "re-linking updates, never duplicates");
    assert_eq!(linked(&org, &d).await["meta"]["total"], 1);
    assert_eq!(dossier_count(&org, &mark).await, 1);
    assert_eq!(primary_of(&org, &d).await, mark.as_str());

    let unlinked = delete(&format!("/api/v1/dossiers/{d}/contacts/{mark}"))
        .key(&org.key)
        .send(&contacts_router().await)
        .await;
    assert_eq!(
        unlinked.body,
        json!({"data": {"dossier_id": d, "contact_id": mark, "unlinked": true}})
    );
    assert_eq!(primary_of(&org, &d).await, Value::Null);
    assert_eq!(dossier_count(&org, &mark).await, 0);
    let twice = delete(&format!("/api/v1/dossiers/{d}/contacts/{mark}"))
        .key(&org.key)
        .send(&contacts_router().await)
        .await;
    assert_eq!(twice.status, 404);
}

#[tokio::test]
async fn a_new_primary_demotes_the_old_one_and_lists_first() {
    let org = growth_org().await;
    let d = dossier(&org, "Deal").await;
    let a = contact(&org, "A", "a@example.com").await;
    let b = contact(&org, "B", "b@example.com").await;
    link(&org, &d, &a, "primary", true).await;
    link(&org, &d, &b, "hiring_manager", true).await;
    let listed = linked(&org, &d).await;
    assert_eq!(listed["data"][0]["contact_id"], b.as_str());
    assert_eq!(listed["data"][0]["is_primary"], true);
    assert_eq!(listed["data"][1]["is_primary"], false);
    assert_eq!(
        listed["data"][1]["role_on_dossier"], "other",
        "a demoted primary no longer carries the role 'primary'"
    );
    assert_eq!(primary_of(&org, &d).await, b.as_str());
}

#[tokio::test]
async fn role_and_primary_flag_never_disagree() {
    let org = growth_org().await;
    let d = dossier(&org, "Deal").await;
    let a = contact(&org, "A", "a@example.com").await;
    let b = contact(&org, "B", "b@example.com").await;
    let post_link = |body: Value| {
        let org = &org;
        let d = d.clone();
        async move {
            post(&format!("/api/v1/dossiers/{d}/contacts"))
                .key(&org.key)
                .json(&body)
                .send(&contacts_router().await)
                .await
        }
    };
    // The role 'primary' makes the primary; with is_primary false it contradicts itself.
    let made = post_link(json!({"contact_id": a, "role_on_dossier": "primary"})).await;
    assert_eq!(
        (made.status.as_u16(), &made.body["data"]["is_primary"]),
        (201, &json!(true))
    );
    assert_eq!(primary_of(&org, &d).await, a.as_str());
    let contradiction =
        post_link(json!({"contact_id": b, "role_on_dossier": "primary", "is_primary": false}))
            .await;
    assert_eq!(
        (contradiction.status.as_u16(), contradiction.error_code()),
        (400, "invalid_body")
    );
    assert!(contradiction.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("is_primary"));
    // Re-posting the primary's link without the flag changes its role, not its primacy.
    let relinked = post_link(json!({"contact_id": a, "role_on_dossier": "champion"})).await;
    assert_eq!(relinked.status, 200);
    assert_eq!(relinked.body["data"]["is_primary"], true);
    assert_eq!(primary_of(&org, &d).await, a.as_str());
    // A new link without the flag is not the primary; an explicit false demotes.
    let added = post_link(json!({"contact_id": b, "role_on_dossier": "gatekeeper"})).await;
    assert_eq!(
        (added.status.as_u16(), &added.body["data"]["is_primary"]),
        (201, &json!(false))
    );
    let demoted =
        post_link(json!({"contact_id": a, "role_on_dossier": "champion", "is_primary": false}))
            .await;
    assert_eq!(demoted.body["data"]["is_primary"], false);
    assert_eq!(primary_of(&org, &d).await, Value::Null);
    // Cursor pages walk the same primary-first order.
    let first = Call::get(&format!("/api/v1/dossiers/{d}/contacts?per_page=1"))
        .key(&org.key)
        .send(&contacts_router().await)
        .await;
    let cursor = first.body["meta"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let second = Call::get(&format!(
        "/api/v1/dossiers/{d}/contacts?per_page=1&cursor={cursor}"
    ))
    .key(&org.key)
    .send(&contacts_router().await)
    .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body["meta"]["next_cursor"], Value::Null);
    assert_ne!(
        first.body["data"][0]["contact_id"],
        second.body["data"][0]["contact_id"]
    );
    assert_eq!(second.body["meta"]["total"], 2);
}

#[tokio::test]
async fn twenty_concurrent_primary_links_leave_exactly_one_primary() {
    let org = growth_org().await;
    let d = dossier(&org, "Contested").await;
    let mut contacts = Vec::new();
    for i in 0..20 {
        contacts.push(contact(&org, &format!("C{i}"), &format!("c{i}@example.com")).await);
    }
    let router = contacts_router().await;
    let mut tasks = Vec::new();
    for c in contacts.clone() {
        let (router, key, d) = (router.clone(), org.key.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            post(&format!("/api/v1/dossiers/{d}/contacts"))
                .key(&key)
                .json(&json!({"contact_id": c, "role_on_dossier": "champion", "is_primary": true}))
                .send(&router)
                .await
                .status
                .as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 201);
    }
    let listed = linked(&org, &d).await;
    let primaries: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["is_primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1, "{listed}");
    assert_eq!(primary_of(&org, &d).await, primaries[0]["contact_id"]);
    assert_eq!(listed["meta"]["total"], 20);
}

/// Every link and unlink writes the contact under the version it read (its
/// `contact.updated` carries the new `dossier_count`): twenty at once on one contact all
/// succeed, within the retry budget, and the count ends right.
#[tokio::test]
async fn twenty_concurrent_unlinks_of_one_contact_all_succeed() {
    let org = growth_org().await;
    let c = contact(&org, "Popular", "popular@example.com").await;
    let mut dossiers = Vec::new();
    for i in 0..20 {
        let d = dossier(&org, &format!("P{i}")).await;
        assert_eq!(link(&org, &d, &c, "champion", false).await.status, 201);
        dossiers.push(d);
    }
    assert_eq!(dossier_count(&org, &c).await, 20);
    let router = contacts_router().await;
    let tasks: Vec<_> = dossiers
        .iter()
        .map(|d| {
            let (router, key) = (router.clone(), org.key.clone());
            let path = format!("/api/v1/dossiers/{d}/contacts/{c}");
            tokio::spawn(async move { delete(&path).key(&key).send(&router).await.status.as_u16() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(dossier_count(&org, &c).await, 0);
}

#[tokio::test]
async fn bad_links_are_refused() {
    let org = growth_org().await;
    let other = growth_org().await;
    let d = dossier(&org, "Deal").await;
    let mine = contact(&org, "Mine", "mine@example.com").await;
    let theirs = contact(&other, "Theirs", "theirs@example.com").await;
    let path = format!("/api/v1/dossiers/{d}/contacts");
    for (body, status) in [
        (json!({"contact_id": mine, "role_on_dossier": "boss"}), 400),
        (json!({"role_on_dossier": "other"}), 400),
        (
            json!({"contact_id": theirs, "role_on_dossier": "other"}),
            400,
        ),
        (
            json!({"contact_id": mine, "role_on_dossier": "other", "weight": 2}),
            400,
        ),
    ] {
        let reply = post(&path)
            .key(&org.key)
            .json(&body)
            .send(&contacts_router().await)
            .await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.body);
    }
    let missing = link(
        &org,
        &uuid::Uuid::now_v7().to_string(),
        &mine,
        "other",
        false,
    )
    .await;
    assert_eq!(missing.status, 404);
    let foreign = Call::get(&path)
        .key(&other.key)
        .send(&contacts_router().await)
        .await;
    assert_eq!(foreign.status, 404);
}

#[tokio::test]
async fn deleting_a_contact_removes_its_links_and_primaries_only() {
    let org = growth_org().await;
    let d1 = dossier(&org, "One").await;
    let d2 = dossier(&org, "Two").await;
    let gone = contact(&org, "Gone", "gone@example.com").await;
    let stays = contact(&org, "Stays", "stays@example.com").await;
    link(&org, &d1, &gone, "primary", true).await;
    link(&org, &d2, &gone, "other", false).await;
    link(&org, &d2, &stays, "primary", true).await;
    let before = Call::get(&format!("/api/v1/dossiers/{d1}"))
        .key(&org.key)
        .send(&dossiers_router().await)
        .await;
    let events_before = outbox(org.id).await.len();

    let reply = delete(&format!("/api/v1/contacts/{gone}"))
        .key(&org.key)
        .send(&contacts_router().await)
        .await;
    assert_eq!(reply.body, json!({"data": {"id": gone, "deleted": true}}));
    assert_eq!(
        Call::get(&format!("/api/v1/contacts/{gone}"))
            .key(&org.key)
            .send(&contacts_router().await)
            .await
            .status,
        404
    );
    assert_eq!(linked(&org, &d1).await["meta"]["total"], 0);
    assert_eq!(
        linked(&org, &d2).await["data"][0]["contact_id"],
        stays.as_str()
    );
    assert_eq!(primary_of(&org, &d1).await, Value::Null);
    assert_eq!(primary_of(&org, &d2).await, stays.as_str());
    let after = Call::get(&format!("/api/v1/dossiers/{d1}"))
        .key(&org.key)
        .send(&dossiers_router().await)
        .await;
    let mut expected = before.body["data"].clone();
    expected["primary_contact_id"] = Value::Null;
    expected["updated_at"] = after.body["data"]["updated_at"].clone();
    assert_eq!(
        after.body["data"], expected,
        "only the primary and updated_at change"
    );
    assert!(
        after.body["data"]["updated_at"].as_str() >= before.body["data"]["updated_at"].as_str()
    );
    assert_ne!(after.header("etag"), before.header("etag"), "a new version");
    // The change is announced like any other: one dossier.updated, for d1 only.
    let events = outbox(org.id).await;
    let updates: Vec<_> = events[events_before..]
        .iter()
        .filter(|e| e.kind.as_str() == "dossier.updated")
        .collect();
    assert_eq!(updates.len(), 1, "{events:?}");
    assert_eq!(updates[0].data, after.body["data"]);
    // The email is free again.
    contact(&org, "New Gone", "gone@example.com").await;
    assert_eq!(
        delete(&format!("/api/v1/contacts/{gone}"))
            .key(&org.key)
            .send(&contacts_router().await)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn deleting_a_contact_with_more_links_than_one_transaction_holds() {
    let org = growth_org().await;
    let c = contact(&org, "Busy", "busy@example.com").await;
    let mut dossiers = Vec::new();
    for i in 0..45 {
        let d = dossier(&org, &format!("D{i}")).await;
        // Primary everywhere: each link then takes three transaction items.
        assert_eq!(link(&org, &d, &c, "primary", true).await.status, 201);
        dossiers.push(d);
    }
    assert_eq!(dossier_count(&org, &c).await, 45);
    let events_before = outbox(org.id).await.len();
    let reply = delete(&format!("/api/v1/contacts/{c}"))
        .key(&org.key)
        .send(&contacts_router().await)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for d in &dossiers {
        assert_eq!(linked(&org, d).await["meta"]["total"], 0);
        assert_eq!(primary_of(&org, d).await, Value::Null);
    }
    let cleared = outbox(org.id).await[events_before..]
        .iter()
        .filter(|e| e.kind.as_str() == "dossier.updated" && e.data["primary_contact_id"].is_null())
        .count();
    assert_eq!(
        cleared, 45,
        "one dossier.updated per dossier that lost its primary"
    );
    let deleted: Vec<_> = outbox(org.id).await[events_before..]
        .iter()
        .filter(|e| e.kind.as_str() == "contact.deleted")
        .cloned()
        .collect();
    assert_eq!(
        deleted.len(),
        1,
        "one contact.deleted, written when it was hidden"
    );
    assert_eq!(deleted[0].data["id"], c.as_str());
    assert_eq!(
        deleted[0].data["dossier_count"], 45,
        "the contact as it was"
    );
    let listed = Call::get("/api/v1/contacts")
        .key(&org.key)
        .send(&contacts_router().await)
        .await;
    assert_eq!(listed.body["meta"]["total"], 0, "{}", listed.body);
    assert_eq!(listed.body["data"], serde_json::json!([]));
}
