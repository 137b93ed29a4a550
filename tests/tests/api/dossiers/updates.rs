//! PATCH and DELETE: stage moves and their events, archive and restore, email changes.

use integration_tests::{delete, dossiers_router, growth_org, outbox, patch, post, stack, Call};
use serde_json::{json, Value};
use shared::domain::flows::DossierType;

use super::{create, flows_of};

#[tokio::test]
async fn patch_moves_stages_and_emits_events_only_for_real_changes() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let dossier = create(&org, json!({"type": "sales", "name": "Rabobank"})).await;
    let id = dossier["id"].as_str().unwrap();
    let path = format!("/api/v1/dossiers/{id}");
    let flows = flows_of(&org).await;
    let sales = flows.iter().find(|f| f.kind == DossierType::Sales).unwrap();
    let candidate = flows
        .iter()
        .find(|f| f.kind == DossierType::Candidate)
        .unwrap();

    let moved = patch(&path)
        .key(&org.key)
        .json(&json!({"current_stage_id": sales.stages[2].id, "status": "active"}))
        .send(&router)
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(
        moved.body["data"]["current_stage_id"],
        sales.stages[2].id.to_string()
    );
    let types: Vec<&str> = outbox(org.id)
        .await
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "dossier.created",
            "dossier.updated",
            "dossier.stage_changed"
        ]
    );

    let same = patch(&path)
        .key(&org.key)
        .json(&json!({"current_stage_id": sales.stages[2].id, "name": "Rabobank"}))
        .send(&router)
        .await;
    assert_eq!(same.status, 200);
    assert_eq!(same.body["data"], moved.body["data"]);
    assert_eq!(
        outbox(org.id).await.len(),
        3,
        "a PATCH that changes nothing emits nothing"
    );

    for (body, field) in [
        (
            json!({"current_stage_id": candidate.stages[1].id}),
            "current_stage_id",
        ),
        (json!({"type": "candidate"}), "type"),
        (json!({"flow_id": candidate.id}), "flow_id"),
        (json!({"status": "paused"}), "status"),
        (json!({"name": null}), "name"),
        (json!({"bogus": 1}), "bogus"),
        (json!({"assigned_to": uuid::Uuid::now_v7()}), "assigned_to"),
    ] {
        let reply = patch(&path).key(&org.key).json(&body).send(&router).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{body}: {}",
            reply.body
        );
    }
    let member = stack()
        .await
        .admin()
        .add_member(org.id, "a@b.co", None)
        .await
        .unwrap();
    let assigned = patch(&path)
        .key(&org.key)
        .json(&json!({"assigned_to": member.id, "deal_size": 10.5, "email": "x@y.nl"}))
        .send(&router)
        .await;
    assert_eq!(assigned.body["data"]["assigned_to"], member.id.to_string());
    assert_eq!(assigned.body["data"]["deal_size"], 10.5);
    let unassigned = patch(&path)
        .key(&org.key)
        .json(&json!({"assigned_to": null, "email": null}))
        .send(&router)
        .await;
    assert_eq!(unassigned.body["data"]["assigned_to"], Value::Null);
    assert_eq!(unassigned.body["data"]["email"], Value::Null);
    let missing = patch(&format!("/api/v1/dossiers/{}", uuid::Uuid::now_v7()))
        .key(&org.key)
        .json(&json!({"name": "x"}))
        .send(&router)
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn delete_archives_idempotently_and_patch_restores() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let dossier = create(&org, json!({"type": "candidate", "name": "Ann"})).await;
    let path = format!("/api/v1/dossiers/{}", dossier["id"].as_str().unwrap());
    let first = delete(&path).key(&org.key).send(&router).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.body,
        json!({"data": {"id": dossier["id"], "status": "archived"}})
    );
    let second = delete(&path).key(&org.key).send(&router).await;
    assert_eq!(second.body, first.body);
    let types: Vec<&str> = outbox(org.id)
        .await
        .iter()
        .map(|e| e.kind.as_str())
        .filter(|kind| kind.starts_with("dossier."))
        .collect();
    assert_eq!(
        types,
        ["dossier.created", "dossier.updated", "dossier.deleted"],
        "archiving changes status, so it is an update too"
    );
    let restored = patch(&path)
        .key(&org.key)
        .json(&json!({"status": "active"}))
        .send(&router)
        .await;
    assert_eq!(restored.body["data"]["status"], "active");
    let events: Vec<_> = outbox(org.id)
        .await
        .into_iter()
        .filter(|e| e.kind.as_str().starts_with("dossier."))
        .collect();
    let last = events.last().unwrap();
    assert_eq!(
        (
            events.len(),
            last.kind.as_str(),
            last.data["status"].as_str()
        ),
        (4, "dossier.updated", Some("active")),
        "a restore is a dossier.updated"
    );
    assert_eq!(restored.body["data"]["name"], "Ann");
    let other = growth_org().await;
    assert_eq!(
        delete(&path).key(&other.key).send(&router).await.status,
        404
    );
    assert_eq!(
        Call::get(&path).key(&other.key).send(&router).await.status,
        404
    );
}

/// The reference's PATCH `email` is "Update primary contact email": the dossier's field and
/// its primary contact's change in one transaction, or neither does. `phone` ("Update
/// phone") is the dossier's own.
#[tokio::test]
async fn patching_email_changes_the_primary_contact_too() {
    let org = growth_org().await;
    let dossiers = dossiers_router().await;
    let contacts = integration_tests::contacts_router().await;
    let dossier = create(
        &org,
        json!({"type": "candidate", "name": "Pat Primary", "email": "pat@example.com", "phone": "+31 1"}),
    )
    .await;
    let path = format!("/api/v1/dossiers/{}", dossier["id"].as_str().unwrap());
    let contact_path = format!(
        "/api/v1/contacts/{}",
        dossier["primary_contact_id"].as_str().unwrap()
    );
    let contact = || async {
        Call::get(&contact_path)
            .key(&org.key)
            .send(&contacts)
            .await
            .body["data"]
            .clone()
    };
    let other = post("/api/v1/contacts")
        .key(&org.key)
        .json(&json!({"full_name": "Other Person", "email": "taken@example.com"}))
        .send(&contacts)
        .await;
    assert_eq!(other.status, 201, "{}", other.body);

    let patched = patch(&path)
        .key(&org.key)
        .json(&json!({"email": "pat.new@example.com", "phone": "+31 2"}))
        .send(&dossiers)
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["data"]["email"], "pat.new@example.com");
    assert_eq!(patched.body["data"]["phone"], "+31 2");
    let now = contact().await;
    assert_eq!(
        (&now["email"], &now["phone"]),
        (&json!("pat.new@example.com"), &json!("+31 1"))
    );
    let found = Call::get("/api/v1/contacts?search=pat.new@example.com")
        .key(&org.key)
        .send(&contacts)
        .await;
    assert_eq!(found.body["data"][0]["id"], now["id"], "{}", found.body);
    let freed = post("/api/v1/contacts")
        .key(&org.key)
        .json(&json!({"full_name": "New Pat", "email": "PAT@example.com"}))
        .send(&contacts)
        .await;
    assert_eq!(freed.status, 201, "the old address is free: {}", freed.body);

    // An address another contact has: 409, and neither changes.
    let etag = patched.header("etag").unwrap().to_string();
    let taken = patch(&path)
        .key(&org.key)
        .json(&json!({"email": "TAKEN@example.com", "name": "Renamed"}))
        .send(&dossiers)
        .await;
    assert_eq!(
        (taken.status.as_u16(), taken.error_code()),
        (409, "duplicate_contact"),
        "{}",
        taken.body
    );
    let unchanged = Call::get(&path).key(&org.key).send(&dossiers).await;
    assert_eq!(unchanged.header("etag"), Some(etag.as_str()));
    assert_eq!(unchanged.body["data"]["name"], "Pat Primary");
    assert_eq!(contact().await, now);

    // The contact changed on its own since: the same email again puts it back, and the
    // dossier, unchanged, keeps its version.
    let moved = patch(&contact_path)
        .key(&org.key)
        .json(&json!({"email": "elsewhere@example.com"}))
        .send(&contacts)
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let again = patch(&path)
        .key(&org.key)
        .json(&json!({"email": "pat.new@example.com"}))
        .send(&dossiers)
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(contact().await["email"], "pat.new@example.com");

    // A dossier without a primary contact changes its own fields only.
    let sales = create(&org, json!({"type": "sales", "name": "No Primary"})).await;
    assert_eq!(sales["primary_contact_id"], Value::Null);
    let alone = patch(&format!(
        "/api/v1/dossiers/{}",
        sales["id"].as_str().unwrap()
    ))
    .key(&org.key)
    .json(&json!({"email": "deal@example.com"}))
    .send(&dossiers)
    .await;
    assert_eq!(alone.status, 200, "{}", alone.body);
    assert_eq!(alone.body["data"]["email"], "deal@example.com");
}
