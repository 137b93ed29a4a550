//! Contact events: every path that creates, changes or deletes a contact writes its event
//! in the same transaction as the change, with the contact as the API shows it; and who
//! receives them: `*` subscribers, not endpoints that listed their types.

use std::collections::BTreeSet;
use std::time::Duration;

use integration_tests::{
    contacts_router, delete, dossiers_router, growth_org, outbox, patch, pipeline, post,
    webhook_endpoints_router, Call, Receiver, TestOrg,
};
use serde_json::{json, Value};
use shared::domain::outbox::Envelope;

/// The events written since the organization's first `seen`, and the new count.
async fn since(org: &TestOrg, seen: &mut usize) -> Vec<Envelope> {
    let all = outbox(org.id).await;
    let new = all[*seen..].to_vec();
    *seen = all.len();
    new
}

fn types(events: &[Envelope]) -> BTreeSet<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

fn only<'a>(events: &'a [Envelope], kind: &str) -> &'a Value {
    let found: Vec<&Envelope> = events.iter().filter(|e| e.kind.as_str() == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} in {:?}", types(events));
    &found[0].data
}

async fn contact_now(org: &TestOrg, id: &str) -> Value {
    let shown = Call::get(&format!("/api/v1/contacts/{id}"))
        .key(&org.key)
        .send(&contacts_router().await)
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    shown.body["data"].clone()
}

#[tokio::test]
async fn every_path_that_changes_a_contact_writes_its_event_with_the_contact() {
    let org = growth_org().await;
    let (contacts, dossiers) = (contacts_router().await, dossiers_router().await);
    let mut seen = 0;

    let made = post("/api/v1/contacts")
        .key(&org.key)
        .json(&json!({"full_name": "Eva Events", "email": "eva@events.example"}))
        .send(&contacts)
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let eva = made.body["data"]["id"].as_str().unwrap().to_string();
    let events = since(&org, &mut seen).await;
    assert_eq!(types(&events), BTreeSet::from(["contact.created"]));
    assert_eq!(only(&events, "contact.created"), &made.body["data"]);

    let changed = patch(&format!("/api/v1/contacts/{eva}"))
        .key(&org.key)
        .json(&json!({"role": "CTO"}))
        .send(&contacts)
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let events = since(&org, &mut seen).await;
    assert_eq!(types(&events), BTreeSet::from(["contact.updated"]));
    assert_eq!(only(&events, "contact.updated"), &changed.body["data"]);

    // A dossier for an existing contact (matched by email) counts one more dossier on it.
    let first = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "candidate", "name": "Eva Events", "email": "eva@events.example"}))
        .send(&dossiers)
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let dossier = first.body["data"]["id"].as_str().unwrap().to_string();
    let events = since(&org, &mut seen).await;
    assert_eq!(
        types(&events),
        BTreeSet::from(["contact.updated", "dossier.created"])
    );
    assert_eq!(
        only(&events, "contact.updated"),
        &contact_now(&org, &eva).await
    );
    assert_eq!(only(&events, "contact.updated")["dossier_count"], 1);

    // A dossier for a new person creates its contact.
    let second = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "candidate", "name": "Noor New", "email": "noor@events.example"}))
        .send(&dossiers)
        .await;
    assert_eq!(second.status, 201, "{}", second.body);
    let noor = second.body["data"]["primary_contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let events = since(&org, &mut seen).await;
    assert_eq!(
        types(&events),
        BTreeSet::from(["contact.created", "dossier.created"])
    );
    assert_eq!(only(&events, "contact.created")["id"], noor.as_str());

    // A link and an unlink change the contact's dossier count.
    let linked = post(&format!("/api/v1/dossiers/{dossier}/contacts"))
        .key(&org.key)
        .json(&json!({"contact_id": noor, "role_on_dossier": "champion"}))
        .send(&contacts)
        .await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let events = since(&org, &mut seen).await;
    assert_eq!(types(&events), BTreeSet::from(["contact.updated"]));
    assert_eq!(only(&events, "contact.updated")["dossier_count"], 2);
    assert_eq!(
        only(&events, "contact.updated"),
        &contact_now(&org, &noor).await
    );
    let unlinked = delete(&format!("/api/v1/dossiers/{dossier}/contacts/{noor}"))
        .key(&org.key)
        .send(&contacts)
        .await;
    assert_eq!(unlinked.status, 200, "{}", unlinked.body);
    let events = since(&org, &mut seen).await;
    assert_eq!(types(&events), BTreeSet::from(["contact.updated"]));
    assert_eq!(
        only(&events, "contact.updated"),
        &contact_now(&org, &noor).await
    );
    assert_eq!(only(&events, "contact.updated")["dossier_count"], 1);

    // A dossier PATCH of `email` changes its primary contact, in the same transaction.
    let moved = patch(&format!("/api/v1/dossiers/{dossier}"))
        .key(&org.key)
        .json(&json!({"email": "eva.moved@events.example"}))
        .send(&dossiers)
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let events = since(&org, &mut seen).await;
    assert_eq!(
        types(&events),
        BTreeSet::from(["contact.updated", "dossier.updated"])
    );
    assert_eq!(
        only(&events, "contact.updated")["email"],
        "eva.moved@events.example"
    );

    // A deletion carries the contact as it was, and leaves its dossier without a primary.
    let before = contact_now(&org, &eva).await;
    let gone = delete(&format!("/api/v1/contacts/{eva}"))
        .key(&org.key)
        .send(&contacts)
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    let events = since(&org, &mut seen).await;
    assert_eq!(
        types(&events),
        BTreeSet::from(["contact.deleted", "dossier.updated"])
    );
    assert_eq!(only(&events, "contact.deleted"), &before);
}

/// `*` reaches every type, the contact types included; an endpoint that listed its types
/// gets only those.
#[tokio::test]
async fn star_subscribers_get_contact_events_and_listed_types_stay_listed() {
    pipeline();
    let org = growth_org().await;
    let every = Receiver::start(|_, _| 200).await;
    let listed = Receiver::start(|_, _| 200).await;
    let router = webhook_endpoints_router().await;
    for (url, body) in [
        (&every.url, json!({"url": every.url})),
        (
            &listed.url,
            json!({"url": listed.url, "events": ["dossier.created"]}),
        ),
    ] {
        let created = post("/api/v1/webhook_endpoints")
            .key(&org.key)
            .json(&body)
            .send(&router)
            .await;
        assert_eq!(created.status, 201, "{url}: {}", created.body);
    }
    let shown = Call::get("/api/v1/webhook_endpoints")
        .key(&org.key)
        .send(&router)
        .await;
    let events: BTreeSet<String> = shown.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["events"].to_string())
        .collect();
    assert_eq!(
        events,
        BTreeSet::from([r#"["*"]"#.to_string(), r#"["dossier.created"]"#.to_string()])
    );
    let made = post("/api/v1/contacts")
        .key(&org.key)
        .json(&json!({"full_name": "Sam Star"}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(made.status, 201);
    let dossier = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "Star deal"}))
        .send(&dossiers_router().await)
        .await;
    assert_eq!(dossier.status, 201);
    let kinds = |got: &[integration_tests::Received]| -> BTreeSet<String> {
        got.iter()
            .map(|r| {
                let body: Value = serde_json::from_str(&r.body).unwrap();
                body["type"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let got = every
        .wait_for(Duration::from_secs(60), |got| got.len() >= 2)
        .await;
    assert_eq!(
        kinds(&got),
        BTreeSet::from(["contact.created".to_string(), "dossier.created".to_string()])
    );
    let got = listed
        .wait_for(Duration::from_secs(60), |got| !got.is_empty())
        .await;
    // The contact event was written first; by the time the dossier's arrives, it would have.
    assert_eq!(kinds(&got), BTreeSet::from(["dossier.created".to_string()]));
    assert_eq!(got.len(), 1, "nothing else reached the listed endpoint");
}
