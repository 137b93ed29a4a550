//! `GET /events` and `GET /events/{id}`: the organization's events as webhooks carry them,
//! newest first by cursor, narrowed by type and time, and only those of what a key reads.

use integration_tests::{
    contacts_router, dossiers_router, events_router, growth_org, notes_router, outbox, post, Call,
    TestOrg,
};
use serde_json::{json, Value};
use shared::web::auth::Scope;

async fn list(org_key: &str, query: &str) -> (u16, Value) {
    let reply = Call::get(&format!("/api/v1/events{query}"))
        .key(org_key)
        .send(&events_router().await)
        .await;
    (reply.status.as_u16(), reply.body)
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_string())
        .collect()
}

/// A dossier (with its new contact), a note and a contact of their own: four events.
async fn some_events(org: &TestOrg) {
    let dossier = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "candidate", "name": "Erin Events", "email": "erin@events.example"}))
        .send(&dossiers_router().await)
        .await;
    assert_eq!(dossier.status, 201, "{}", dossier.body);
    let id = dossier.body["data"]["id"].as_str().unwrap();
    let note = post(&format!("/api/v1/dossiers/{id}/notes"))
        .key(&org.key)
        .json(&json!({"content": "First call went well."}))
        .send(&notes_router().await)
        .await;
    assert_eq!(note.status, 201, "{}", note.body);
    let contact = post("/api/v1/contacts")
        .key(&org.key)
        .json(&json!({"full_name": "Cato Contact"}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(contact.status, 201, "{}", contact.body);
}

#[tokio::test]
async fn events_are_the_envelopes_newest_first_by_cursor() {
    let org = growth_org().await;
    some_events(&org).await;
    let written = outbox(org.id).await;
    assert_eq!(
        written.len(),
        4,
        "dossier, its contact, the note, the contact"
    );

    let (status, page) = list(&org.key, "").await;
    assert_eq!(status, 200, "{page}");
    let newest_first: Vec<Value> = written
        .iter()
        .rev()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(page["data"], json!(newest_first), "exactly the envelopes");
    assert_eq!(page["meta"], json!({"per_page": 25, "next_cursor": null}));

    let mut seen = Vec::new();
    let mut query = "?per_page=1".to_string();
    loop {
        let (status, page) = list(&org.key, &query).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        match page["meta"]["next_cursor"].as_str() {
            Some(cursor) => query = format!("?per_page=1&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = written.iter().rev().map(|e| e.id.clone()).collect();
    assert_eq!(seen, expected, "one at a time, in the same order");

    let one = &written[2];
    let shown = Call::get(&format!("/api/v1/events/{}", one.id))
        .key(&org.key)
        .send(&events_router().await)
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["data"], serde_json::to_value(one).unwrap());
}

#[tokio::test]
async fn types_and_times_narrow_the_list() {
    let org = growth_org().await;
    some_events(&org).await;
    let written = outbox(org.id).await;

    let (status, page) = list(&org.key, "?type=contact.created").await;
    assert_eq!(status, 200, "{page}");
    let contacts: Vec<String> = written
        .iter()
        .rev()
        .filter(|e| e.kind.as_str() == "contact.created")
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(contacts.len(), 2);
    assert_eq!(ids(&page), contacts);

    let (_, two_types) = list(
        &org.key,
        "?type=note.created&type=dossier.created&per_page=1",
    )
    .await;
    assert_eq!(ids(&two_types).len(), 1);
    let cursor = two_types["meta"]["next_cursor"].as_str().unwrap();
    let (_, rest) = list(
        &org.key,
        &format!("?type=note.created&type=dossier.created&per_page=1&cursor={cursor}"),
    )
    .await;
    let mut both: Vec<String> = [ids(&two_types), ids(&rest)].concat();
    both.sort();
    let mut expected: Vec<String> = written
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "note.created" | "dossier.created"))
        .map(|e| e.id.clone())
        .collect();
    expected.sort();
    assert_eq!(both, expected);
    assert_eq!(rest["meta"]["next_cursor"], Value::Null);

    let made = &written[0].created_at;
    let (_, from) = list(&org.key, &format!("?since={made}")).await;
    assert_eq!(ids(&from).len(), 4, "since is inclusive");
    let (_, before) = list(&org.key, &format!("?until={made}")).await;
    assert!(ids(&before).is_empty(), "until is exclusive: {before}");
    let (_, far) = list(
        &org.key,
        "?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z",
    )
    .await;
    assert!(ids(&far).is_empty());
}

#[tokio::test]
async fn a_key_sees_only_the_events_of_what_it_reads() {
    let org = growth_org().await;
    some_events(&org).await;
    let written = outbox(org.id).await;
    let note = written
        .iter()
        .find(|e| e.kind.as_str() == "note.created")
        .unwrap();

    let no_notes = org
        .key_with(&[Scope::DossiersRead, Scope::ContactsRead])
        .await;
    let (status, page) = list(&no_notes, "").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page).len(), 3);
    assert!(!ids(&page).contains(&note.id), "no note event: {page}");
    let (status, refused) = list(&no_notes, "?type=note.created").await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "forbidden");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("notes:read"));
    let shown = Call::get(&format!("/api/v1/events/{}", note.id))
        .key(&no_notes)
        .send(&events_router().await)
        .await;
    assert_eq!(shown.status, 404, "not even its type shows: {}", shown.body);

    let notes_only = org.key_with(&[Scope::NotesRead]).await;
    let (_, page) = list(&notes_only, "").await;
    assert_eq!(ids(&page), vec![note.id.clone()]);

    let writer = org.key_with(&[Scope::DossiersWrite]).await;
    let (status, refused) = list(&writer, "").await;
    assert_eq!(status, 403, "{refused}");
}

#[tokio::test]
async fn another_organizations_events_are_not_found() {
    let (mine, theirs) = (growth_org().await, growth_org().await);
    some_events(&theirs).await;
    let their_event = outbox(theirs.id).await.remove(0);
    let (_, page) = list(&mine.key, "").await;
    assert!(ids(&page).is_empty(), "{page}");
    let shown = Call::get(&format!("/api/v1/events/{}", their_event.id))
        .key(&mine.key)
        .send(&events_router().await)
        .await;
    assert_eq!(shown.status, 404, "{}", shown.body);
    assert_eq!(shown.body["error"]["code"], "not_found");
}

#[tokio::test]
async fn bad_queries_are_named_and_unknown_ids_are_not_found() {
    let org = growth_org().await;
    for (query, param) in [
        ("?type=dossier.exploded", "type"),
        ("?since=yesterday", "since"),
        ("?until=2026-13-01T00:00:00Z", "until"),
        (
            "?since=2026-12-01T00:00:00Z&until=2026-12-01T00:00:00Z",
            "until",
        ),
        ("?per_page=101", "per_page"),
        ("?page=2", "page"),
        ("?cursor=nonsense", "cursor"),
        (
            "?since=2026-12-01T00:00:00Z&since=2026-12-02T00:00:00Z",
            "since",
        ),
        ("?color=blue", "color"),
    ] {
        let (status, body) = list(&org.key, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{query}");
        assert_eq!(body["error"]["param"], param, "{query}");
    }
    for id in [
        "evt_00000000000000000000000000000000",
        "evt_nope",
        "not-an-event",
        "evt_0000000000000000000000000000000%23",
    ] {
        let shown = Call::get(&format!("/api/v1/events/{id}"))
            .key(&org.key)
            .send(&events_router().await)
            .await;
        assert_eq!(shown.status, 404, "{id}: {}", shown.body);
        assert_eq!(shown.body["error"]["code"], "not_found");
    }
}

/// Events are read only: a write to them answers 405 in the error shape, even with an
/// `Idempotency-Key` (claimed, then freed, so that a repeat is answered the same).
#[tokio::test]
async fn events_cannot_be_written() {
    let org = growth_org().await;
    for _ in 0..2 {
        let refused = post("/api/v1/events")
            .key(&org.key)
            .header("Idempotency-Key", "never-stored")
            .json(&json!({"type": "dossier.created"}))
            .send(&events_router().await)
            .await;
        assert_eq!(refused.status, 405, "{}", refused.body);
        assert_eq!(refused.body["error"]["code"], "method_not_allowed");
        assert_eq!(refused.header("idempotent-replayed"), None);
    }
}
