//! Dossiers: create, read, update, archive, list with exact totals.

use std::collections::HashMap;

use integration_tests::{
    delete, dossiers_router, growth_org, outbox, patch, post, stack, Call, TestOrg,
};
use serde_json::{json, Value};
use shared::domain::flows::{DossierType, StageSpec};

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

#[tokio::test]
async fn the_specs_json_create_example_works() {
    let org = growth_org().await;
    let dossier = create(
        &org,
        json!({
            "type": "sales",
            "name": "KLM, Cabin crew hiring",
            "company": "KLM",
            "contact_person": "Pieter van Leeuwen",
            "deal_size": 62000,
            "deal_currency": "EUR"
        }),
    )
    .await;
    let sales_flow = flows_of(&org)
        .await
        .into_iter()
        .find(|f| f.kind == DossierType::Sales)
        .unwrap();
    assert_eq!(dossier["type"], "sales");
    assert_eq!(dossier["deal_size"], 62000);
    assert_eq!(dossier["status"], "active");
    assert_eq!(dossier["flow_id"], sales_flow.id.to_string());
    assert_eq!(
        dossier["current_stage_id"],
        sales_flow.stages[0].id.to_string()
    );
    assert_eq!(dossier["cv_url"], Value::Null);
    assert!(dossier["created_at"].as_str().unwrap().ends_with('Z'));
    let contact_id: uuid::Uuid = dossier["primary_contact_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let contact = shared::domain::contacts::get(&stack().await.core().db, org.id, contact_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contact.full_name, "Pieter van Leeuwen");
    assert_eq!(contact.kind, vec![shared::domain::contacts::Kind::Prospect]);
    assert_eq!(contact.dossier_count, 1);

    let fetched = Call::get(&format!(
        "/api/v1/dossiers/{}",
        dossier["id"].as_str().unwrap()
    ))
    .key(&org.key)
    .send(&dossiers_router().await)
    .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["data"], dossier);

    let events = outbox(org.id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind.as_str(), "dossier.created");
    assert_eq!(events[0].data, dossier);
    assert!(events[0].id.starts_with("evt_"));
}

#[tokio::test]
async fn candidates_reuse_the_contact_with_the_same_email() {
    let org = growth_org().await;
    let first = create(&org, json!({"type": "candidate", "name": "Sophie van Dijk", "email": "sophie@example.com", "role": "Engineer"})).await;
    let second = create(
        &org,
        json!({"type": "candidate", "name": "Sophie v. Dijk", "email": "SOPHIE@example.com"}),
    )
    .await;
    assert_eq!(first["primary_contact_id"], second["primary_contact_id"]);
    let contact_id = first["primary_contact_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let contact = shared::domain::contacts::get(&stack().await.core().db, org.id, contact_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contact.dossier_count, 2);
    assert_eq!(contact.role.as_deref(), Some("Engineer"));
    assert!(
        contact.pool_expires_at.is_some(),
        "a candidate enters the talent pool"
    );
    // A sales dossier without a contact person creates no contact.
    let sales = create(&org, json!({"type": "sales", "name": "Deal"})).await;
    assert_eq!(sales["primary_contact_id"], Value::Null);
}

#[tokio::test]
async fn invalid_creates_are_400_naming_the_field_and_write_nothing() {
    let org = growth_org().await;
    let other = growth_org().await;
    let foreign_flow = flows_of(&other).await[0].id;
    let candidate_flow = flows_of(&org).await[0].id;
    let cases = [
        (json!({"name": "x"}), "type"),
        (json!({"type": "sales"}), "name"),
        (json!({"type": "sales", "name": "  "}), "name"),
        (json!({"type": "robot", "name": "x"}), "type"),
        (
            json!({"type": "sales", "name": "x", "colour": "red"}),
            "colour",
        ),
        (
            json!({"type": "candidate", "name": "x", "deal_size": 5}),
            "deal_size",
        ),
        (
            json!({"type": "candidate", "name": "x", "contact_person": "y"}),
            "contact_person",
        ),
        (
            json!({"type": "sales", "name": "x", "deal_currency": "EURO"}),
            "deal_currency",
        ),
        (
            json!({"type": "sales", "name": "x", "deal_size": -1}),
            "deal_size",
        ),
        (
            json!({"type": "sales", "name": "x", "deal_size": "big"}),
            "deal_size",
        ),
        (
            json!({"type": "sales", "name": "x", "email": "not-an-email"}),
            "email",
        ),
        (json!({"type": "sales", "name": "x".repeat(201)}), "name"),
        (
            json!({"type": "sales", "name": "x", "flow_id": foreign_flow}),
            "flow_id",
        ),
        (
            json!({"type": "sales", "name": "x", "flow_id": candidate_flow}),
            "flow_id",
        ),
        (
            json!({"type": "sales", "name": "x", "flow_id": "nope"}),
            "flow_id",
        ),
        (
            json!({"type": "sales", "name": "x", "assigned_to": uuid::Uuid::now_v7()}),
            "assigned_to",
        ),
        (
            json!({"type": "sales", "name": "x", "contact_id": uuid::Uuid::now_v7()}),
            "contact_id",
        ),
        (json!(["sales", "x"]), "object"),
    ];
    let router = dossiers_router().await;
    for (body, field) in cases {
        let reply = post("/api/v1/dossiers")
            .key(&org.key)
            .json(&body)
            .send(&router)
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (400, "invalid_body"),
            "{body}"
        );
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message}");
        if body.is_object() {
            assert_eq!(reply.body["error"]["param"], field, "{body}");
        }
    }
    let malformed = post("/api/v1/dossiers")
        .key(&org.key)
        .raw("application/json", b"{\"type\":".to_vec())
        .send(&router)
        .await;
    assert_eq!(malformed.status, 400);
    let wrong_type = post("/api/v1/dossiers")
        .key(&org.key)
        .raw("text/plain", b"hi".to_vec())
        .send(&router)
        .await;
    assert_eq!(
        (wrong_type.status.as_u16(), wrong_type.error_code()),
        (415, "unsupported_media_type")
    );
    let huge = post("/api/v1/dossiers")
        .key(&org.key)
        .raw("application/json", vec![b' '; 3 * 1024 * 1024])
        .send(&router)
        .await;
    assert_eq!(
        (huge.status.as_u16(), huge.error_code()),
        (413, "payload_too_large")
    );

    let listed = Call::get("/api/v1/dossiers")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(listed.body["meta"]["total"], 0);
    assert!(outbox(org.id).await.is_empty());
}

#[tokio::test]
async fn flow_and_assignee_choices_are_honoured() {
    let org = growth_org().await;
    let admin = stack().await.admin();
    let member = admin
        .add_member(org.id, "rep@acme.test", None)
        .await
        .unwrap();
    let spec = |name: &str| StageSpec {
        name: name.into(),
        deadline_days: None,
        win_probability: None,
        color: None,
    };
    let flow = admin
        .create_flow(
            org.id,
            DossierType::Sales,
            "Enterprise",
            vec![spec("Intro"), spec("Pilot")],
        )
        .await
        .unwrap();
    let dossier = create(
        &org,
        json!({"type": "sales", "name": "Big", "flow_id": flow.id, "assigned_to": member.id}),
    )
    .await;
    assert_eq!(dossier["flow_id"], flow.id.to_string());
    assert_eq!(dossier["current_stage_id"], flow.stages[0].id.to_string());
    assert_eq!(dossier["assigned_to"], member.id.to_string());
}

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
    let events = outbox(org.id).await;
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

#[tokio::test]
async fn totals_are_exact_for_every_filter_combination_after_a_mixed_workload() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let flows = flows_of(&org).await;
    let mut ids = Vec::new();
    for i in 0..14 {
        let kind = if i % 3 == 0 { "candidate" } else { "sales" };
        ids.push(create(&org, json!({"type": kind, "name": format!("D{i}")})).await);
    }
    for (i, dossier) in ids.iter().enumerate() {
        let path = format!("/api/v1/dossiers/{}", dossier["id"].as_str().unwrap());
        let flow = flows
            .iter()
            .find(|f| f.id.to_string() == dossier["flow_id"].as_str().unwrap())
            .unwrap();
        let body = match i % 4 {
            0 => json!({"status": "won", "current_stage_id": flow.stages[5].id}),
            1 => json!({"current_stage_id": flow.stages[1].id}),
            2 => json!({"status": "lost"}),
            _ => json!({"name": "renamed"}),
        };
        assert_eq!(
            patch(&path)
                .key(&org.key)
                .json(&body)
                .send(&router)
                .await
                .status,
            200
        );
        if i % 5 == 0 {
            assert_eq!(delete(&path).key(&org.key).send(&router).await.status, 200);
        }
    }
    let (all, total) = list_all(&org, "").await;
    assert_eq!((all.len() as u64, total), (14, 14));
    let newest_first: Vec<&str> = all.iter().map(|d| d["id"].as_str().unwrap()).collect();
    let mut sorted = newest_first.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(newest_first, sorted, "newest first, ties by id");

    let mut stage_ids: Vec<String> = all
        .iter()
        .map(|d| d["current_stage_id"].as_str().unwrap().to_string())
        .collect();
    stage_ids.push(uuid::Uuid::now_v7().to_string());
    stage_ids.dedup();
    for kind in [None, Some("candidate"), Some("sales")] {
        for status in [
            None,
            Some("active"),
            Some("won"),
            Some("lost"),
            Some("archived"),
        ] {
            for stage in stage_ids.iter().map(Some).chain([None]) {
                let expected = all
                    .iter()
                    .filter(|d| kind.is_none_or(|k| d["type"] == k))
                    .filter(|d| status.is_none_or(|s| d["status"] == s))
                    .filter(|d| stage.is_none_or(|s| d["current_stage_id"] == s.as_str()))
                    .count() as u64;
                let mut query = Vec::new();
                if let Some(k) = kind {
                    query.push(format!("type={k}"));
                }
                if let Some(s) = status {
                    query.push(format!("status={s}"));
                }
                if let Some(s) = stage {
                    query.push(format!("stage_id={s}"));
                }
                let (items, total) = list_all(&org, &query.join("&")).await;
                assert_eq!(total, expected, "total for {query:?}");
                assert_eq!(items.len() as u64, expected, "items for {query:?}");
            }
        }
    }
}

#[tokio::test]
async fn offset_pages_and_cursors_agree_and_validate() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    for i in 0..7 {
        create(&org, json!({"type": "sales", "name": format!("D{i}")})).await;
    }
    let page2 = Call::get("/api/v1/dossiers?page=2&per_page=3")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(page2.body["meta"]["page"], 2);
    assert_eq!(page2.body["meta"]["total"], 7);
    let (all, _) = list_all(&org, "").await;
    assert_eq!(page2.body["data"].as_array().unwrap()[..], all[3..6]);
    let last = Call::get("/api/v1/dossiers?page=3&per_page=3")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(last.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(last.body["meta"]["next_cursor"], Value::Null);
    for query in [
        "cursor=zzz",
        "page=1&cursor=djE6MDFhMjE3ZTgtMmI2OS03MjlkLWEyZGItN2U5YWE0ZGMyNDY1",
        "type=x",
        "status=paused",
        "stage_id=abc",
        "per_page=0",
    ] {
        let reply = Call::get(&format!("/api/v1/dossiers?{query}"))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 400, "{query}");
    }
}

#[tokio::test]
async fn concurrent_stage_moves_keep_every_total_exact() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let sales = flows_of(&org)
        .await
        .into_iter()
        .find(|f| f.kind == DossierType::Sales)
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            create(&org, json!({"type": "sales", "name": format!("D{i}")})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut tasks = Vec::new();
    for i in 0..50 {
        let router = router.clone();
        let key = org.key.clone();
        let path = format!("/api/v1/dossiers/{}", ids[i % ids.len()]);
        let stage = sales.stages[i % 6].id;
        let status = ["active", "won", "lost"][i % 3];
        tasks.push(tokio::spawn(async move {
            patch(&path)
                .key(&key)
                .json(&json!({"current_stage_id": stage, "status": status}))
                .send(&router)
                .await
                .status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let (all, total) = list_all(&org, "").await;
    assert_eq!(total, 10);
    let mut by_stage: HashMap<String, u64> = HashMap::new();
    for d in &all {
        *by_stage
            .entry(d["current_stage_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for stage in &sales.stages {
        let (_, total) = list_all(&org, &format!("stage_id={}", stage.id)).await;
        assert_eq!(
            total,
            by_stage.get(&stage.id.to_string()).copied().unwrap_or(0)
        );
    }
    // Without `status` the list holds every dossier, archived, won and lost included
    // (docs/api-guide.md, "How this API reads the reference").
    let archived = delete(&format!("/api/v1/dossiers/{}", ids[0]))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(archived.status, 200, "{}", archived.body);
    let (all, total) = list_all(&org, "").await;
    assert_eq!(total, 10);
    for status in ["active", "won", "lost", "archived"] {
        let (items, total) = list_all(&org, &format!("status={status}")).await;
        assert_eq!(
            total,
            all.iter().filter(|d| d["status"] == status).count() as u64
        );
        assert_eq!(items.len() as u64, total);
        if status != "active" {
            assert!(total > 0, "{status} is in the unfiltered list");
        }
    }
}

/// Writes `count` dossiers straight into the table (as the API stores them), 25 per batch.
async fn seed(org: &TestOrg, count: usize) {
    let stack = stack().await;
    let db = stack.dynamodb();
    let flow = flows_of(org)
        .await
        .into_iter()
        .find(|f| f.kind == DossierType::Sales)
        .unwrap();
    let now = shared::clock::now();
    let items: Vec<_> = (0..count)
        .map(|i| {
            let dossier: shared::domain::dossiers::Dossier = serde_json::from_value(json!({
                "id": uuid::Uuid::now_v7(), "type": "sales", "name": format!("Seed {i}"),
                "email": null, "phone": null, "company": "Seed BV", "role": null,
                "contact_person": null, "deal_size": 1000, "deal_currency": "EUR",
                "status": "active", "flow_id": flow.id, "current_stage_id": flow.stages[0].id,
                "assigned_to": null, "intake_notes": null, "cv_url": null, "primary_contact_id": null,
                "created_at": shared::clock::format(now), "updated_at": shared::clock::format(now),
            }))
            .unwrap();
            dossier.item(org.id).unwrap()
        })
        .collect();
    let batches: Vec<Vec<_>> = items.chunks(25).map(|c| c.to_vec()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for batch in batches {
        let db = db.clone();
        let table = stack.config.table_name.clone();
        tasks.spawn(async move {
            let mut requests: Vec<_> = batch
                .into_iter()
                .map(|item| {
                    aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(
                            aws_sdk_dynamodb::types::PutRequest::builder()
                                .set_item(Some(item))
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
                .collect();
            while !requests.is_empty() {
                let out = db
                    .batch_write_item()
                    .request_items(&table, requests)
                    .send()
                    .await
                    .unwrap();
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&table))
                    .unwrap_or_default();
            }
        });
        while tasks.len() >= 8 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

#[tokio::test]
async fn page_one_costs_the_same_at_100_and_10000_dossiers() {
    let small = growth_org().await;
    let large = growth_org().await;
    tokio::join!(seed(&small, 100), seed(&large, 10_000));
    let db = stack().await.core().db;
    let page_one =
        shared::domain::pagination::Position::Page(shared::domain::pagination::PageParams {
            page: 1,
            per_page: 25,
        });
    let mut costs = Vec::new();
    for org in [&small, &large] {
        for filter in [
            shared::domain::dossiers::Filter {
                kind: None,
                status: None,
                stage: None,
            },
            shared::domain::dossiers::Filter {
                kind: Some(DossierType::Sales),
                status: Some(shared::domain::dossiers::Status::Active),
                stage: None,
            },
        ] {
            let listing = shared::domain::dossiers::list(&db, org.id, &filter, &page_one)
                .await
                .unwrap();
            assert_eq!(listing.items.len(), 25);
            costs.push(listing.read_capacity);
        }
    }
    // Deep in the large list, a cursor page costs what page 1 costs.
    let all = shared::domain::dossiers::Filter {
        kind: None,
        status: None,
        stage: None,
    };
    let mut cursor = None;
    for _ in 0..3 {
        let position = shared::domain::pagination::Position::After {
            cursor,
            per_page: 100,
        };
        cursor = shared::domain::dossiers::list(&db, large.id, &all, &position)
            .await
            .unwrap()
            .next_cursor
            .map(Into::into);
    }
    let deep = shared::domain::pagination::Position::After {
        cursor,
        per_page: 25,
    };
    let deep_cost = shared::domain::dossiers::list(&db, large.id, &all, &deep)
        .await
        .unwrap()
        .read_capacity;
    println!("page 1 read capacity: 100 dossiers {:?}, 10,000 dossiers {:?}, cursor page at 300: {deep_cost}", &costs[..2], &costs[2..]);
    assert!(costs[0] > 0.0, "DynamoDB Local reports consumed capacity");
    assert!(costs[2] <= costs[0] * 1.1, "unfiltered: {costs:?}");
    assert!(costs[3] <= costs[1] * 1.1, "filtered: {costs:?}");
    assert!(
        deep_cost <= costs[0] * 1.1,
        "cursor page: {deep_cost} vs {costs:?}"
    );
}

/// A `deal_size` DynamoDB cannot store (a positive number below 1e-130 underflows) is a
/// 400 naming the field, in a JSON create, a multipart create and a PATCH, and writes
/// nothing; an amount near the smallest storable one round-trips.
#[tokio::test]
async fn amounts_dynamodb_cannot_store_are_a_400_naming_the_field() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let existing = create(&org, json!({"type": "sales", "name": "Tiny"})).await;
    let id = existing["id"].as_str().unwrap();
    let events = outbox(org.id).await.len();
    for size in ["1.382416308893027e-167", "1e-131", "5e-324"] {
        let body = format!(r#"{{"type": "sales", "name": "Under", "deal_size": {size}}}"#);
        let replies = [
            post("/api/v1/dossiers")
                .key(&org.key)
                .raw("application/json", body.into_bytes()),
            patch(&format!("/api/v1/dossiers/{id}"))
                .key(&org.key)
                .raw("application/json", format!(r#"{{"deal_size": {size}}}"#).into_bytes()),
            post("/api/v1/dossiers").key(&org.key).raw(
                "multipart/form-data; boundary=b",
                format!(
                    "--b\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nsales\r\n--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nUnder\r\n--b\r\nContent-Disposition: form-data; name=\"deal_size\"\r\n\r\n{size}\r\n--b--\r\n"
                )
                .into_bytes(),
            ),
        ];
        for call in replies {
            let what = format!("{} {size}", call.method);
            let reply = call.send(&router).await;
            assert_eq!(reply.status, 400, "{what}: {}", reply.body);
            assert_eq!(reply.error_code(), "invalid_body");
            assert!(
                reply.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("`deal_size`"),
                "{what}: {}",
                reply.body
            );
        }
    }
    assert_eq!(outbox(org.id).await.len(), events, "nothing was written");

    let smallest = create(
        &org,
        json!({"type": "sales", "name": "Smallest", "deal_size": 1e-129}),
    )
    .await;
    let read = Call::get(&format!(
        "/api/v1/dossiers/{}",
        smallest["id"].as_str().unwrap()
    ))
    .key(&org.key)
    .send(&router)
    .await;
    assert_eq!(read.body["data"]["deal_size"], 1e-129);
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
