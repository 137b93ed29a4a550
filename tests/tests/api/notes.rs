//! Notes.

use integration_tests::{
    delete, dossiers_router, growth_org, notes_router, outbox, post, Call, TestOrg,
};
use serde_json::{json, Value};

async fn dossier(org: &TestOrg) -> String {
    let reply = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "candidate", "name": "Sophie"}))
        .send(&dossiers_router().await)
        .await;
    reply.body["data"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_specs_note_examples_work_oldest_first() {
    let org = growth_org().await;
    let id = dossier(&org).await;
    let path = format!("/api/v1/dossiers/{id}/notes");
    let router = notes_router().await;
    let first = post(&path)
        .key(&org.key)
        .json(&json!({"content": "Had a great first call, strong culture fit."}))
        .send(&router)
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["data"]["dossier_id"], id.as_str());
    assert_eq!(first.body["data"]["is_internal"], true);
    let second = post(&path)
        .key(&org.key)
        .json(&json!({"content": "Followed up by email.", "is_internal": false}))
        .send(&router)
        .await;
    assert_eq!(second.body["data"]["is_internal"], false);

    let listed = Call::get(&path).key(&org.key).send(&router).await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body["meta"],
        json!({"total": 2, "page": 1, "per_page": 25, "next_cursor": null})
    );
    assert_eq!(listed.body["data"][0], first.body["data"]);
    assert_eq!(listed.body["data"][1], second.body["data"]);

    let events: Vec<_> = outbox(org.id)
        .await
        .into_iter()
        .filter(|e| e.kind.as_str() == "note.created")
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].data, first.body["data"]);
}

#[tokio::test]
async fn notes_paginate_with_an_exact_total() {
    let org = growth_org().await;
    let id = dossier(&org).await;
    let path = format!("/api/v1/dossiers/{id}/notes");
    let router = notes_router().await;
    for i in 0..5 {
        post(&path)
            .key(&org.key)
            .json(&json!({"content": format!("note {i}")}))
            .send(&router)
            .await;
    }
    let page = Call::get(&format!("{path}?page=3&per_page=2"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(
        page.body["meta"],
        json!({"total": 5, "page": 3, "per_page": 2, "next_cursor": null})
    );
    assert_eq!(page.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["data"][0]["content"], "note 4");
    // Cursors walk the same order by key, at any depth.
    let mut seen = Vec::new();
    let mut query = "per_page=2".to_string();
    loop {
        let reply = Call::get(&format!("{path}?{query}"))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["meta"]["total"], 5);
        for note in reply.body["data"].as_array().unwrap() {
            seen.push(note["content"].as_str().unwrap().to_string());
        }
        match reply.body["meta"]["next_cursor"].as_str() {
            Some(cursor) => query = format!("per_page=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..5).map(|i| format!("note {i}")).collect::<Vec<_>>()
    );
    // Offset pages stop at the window; the error points to the cursor.
    let deep = Call::get(&format!("{path}?page=101&per_page=100"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(
        (deep.status.as_u16(), deep.error_code()),
        (400, "invalid_query")
    );
    assert!(deep.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cursor"));
    assert_eq!(
        Call::get(&format!("{path}?per_page=500"))
            .key(&org.key)
            .send(&router)
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn bad_notes_are_400_and_unknown_dossiers_404() {
    let org = growth_org().await;
    let id = dossier(&org).await;
    let path = format!("/api/v1/dossiers/{id}/notes");
    let router = notes_router().await;
    for (body, field) in [
        (json!({}), "content"),
        (json!({"content": ""}), "content"),
        (json!({"content": "   \n "}), "content"),
        (json!({"content": "x".repeat(10_001)}), "content"),
        (
            json!({"content": "ok", "is_internal": "yes"}),
            "is_internal",
        ),
        (json!({"content": "ok", "pinned": true}), "pinned"),
    ] {
        let reply = post(&path).key(&org.key).json(&body).send(&router).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{}",
            reply.body
        );
    }
    let other = growth_org().await;
    for target in [
        format!("/api/v1/dossiers/{}/notes", uuid::Uuid::now_v7()),
        path.clone(),
        "/api/v1/dossiers/nope/notes".into(),
    ] {
        let key = if target == path { &other.key } else { &org.key };
        let read = Call::get(&target).key(key).send(&router).await;
        assert_eq!(
            (read.status.as_u16(), read.error_code()),
            (404, "not_found"),
            "{target}"
        );
        let write = post(&target)
            .key(key)
            .json(&json!({"content": "x"}))
            .send(&router)
            .await;
        assert_eq!(write.status, 404, "{target}");
    }
    let listed = Call::get(&path).key(&org.key).send(&router).await;
    assert_eq!(listed.body["meta"]["total"], 0);
    assert_eq!(listed.body["data"], Value::Array(vec![]));
}

#[tokio::test]
async fn archived_dossiers_still_take_notes() {
    let org = growth_org().await;
    let id = dossier(&org).await;
    delete(&format!("/api/v1/dossiers/{id}"))
        .key(&org.key)
        .send(&dossiers_router().await)
        .await;
    let reply = post(&format!("/api/v1/dossiers/{id}/notes"))
        .key(&org.key)
        .json(&json!({"content": "Closed."}))
        .send(&notes_router().await)
        .await;
    assert_eq!(reply.status, 201);
}
