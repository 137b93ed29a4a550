//! Listing dossiers: exact totals under every filter and concurrency, paging, page one's cost.

use std::collections::HashMap;

use integration_tests::{delete, dossiers_router, growth_org, patch, stack, Call, TestOrg};
use serde_json::{json, Value};
use shared::domain::flows::DossierType;

use super::{create, flows_of, list_all};

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
    // The race above decides the others' statuses; one won and one lost are made sure of.
    for (id, status) in [(&ids[1], "won"), (&ids[2], "lost")] {
        let settled = patch(&format!("/api/v1/dossiers/{id}"))
            .key(&org.key)
            .json(&json!({ "status": status }))
            .send(&router)
            .await;
        assert_eq!(settled.status, 200, "{}", settled.body);
    }
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
