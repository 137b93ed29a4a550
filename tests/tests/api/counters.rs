//! The counters behind every list's `meta.total`: split over shards so that one
//! organization's concurrent writes seldom meet on one item, with stage counters of their
//! own; exact under bursts, bounded in size, and rebuilt by `dossiers recount`.

use integration_tests::{
    contacts_router, dossiers_router, growth_org, patch, post, stack, Call, TestOrg,
};
use serde_json::{json, Value};
use shared::domain::flows::DossierType;

use crate::dossiers::{create, flows_of, list_all};

/// POSTs every body to `path` at once, each from a task of its own; the statuses.
async fn burst(
    router: &axum::Router,
    path: &'static str,
    org: &TestOrg,
    bodies: impl Iterator<Item = Value>,
) -> Vec<u16> {
    let tasks: Vec<_> = bodies
        .map(|body| {
            let (router, key) = (router.clone(), org.key.clone());
            tokio::spawn(async move {
                post(path)
                    .key(&key)
                    .json(&body)
                    .send(&router)
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

/// A burst of concurrent creates in one organization all succeed, and the totals summed
/// over the counters' shards are exact. (DynamoDB Local runs transactions one at a time, so
/// the conflicts the shards avoid on AWS are held by a unit test of the items touched:
/// `creates_spread_over_the_counters_shards`.)
#[tokio::test]
async fn a_burst_of_creates_in_one_organization_all_succeed_with_exact_totals() {
    let org = growth_org().await;
    let bodies = (0..48).map(|i| {
        let kind = if i % 2 == 0 { "sales" } else { "candidate" };
        json!({"type": kind, "name": format!("B{i}")})
    });
    let statuses = burst(&dossiers_router().await, "/api/v1/dossiers", &org, bodies).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(list_all(&org, "").await.1, 48);
    assert_eq!(list_all(&org, "type=sales").await.1, 24);
}

/// The dossier counters hold a fixed set of attributes (the totals by type and status),
/// whatever stages are used: a stage's counts live in items of its own, so no counters
/// item grows towards DynamoDB's 400 KB, nor is billed for every stage on each write.
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html>
#[tokio::test]
async fn the_dossier_counters_stay_the_same_size_whatever_stages_are_used() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let flows = flows_of(&org).await;
    for flow in &flows {
        let kind = flow.kind.as_str();
        let id = create(&org, json!({"type": kind, "name": "Mover"})).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        for stage in &flow.stages {
            let moved = patch(&format!("/api/v1/dossiers/{id}"))
                .key(&org.key)
                .json(&json!({"current_stage_id": stage.id}))
                .send(&router)
                .await;
            assert_eq!(moved.status, 200, "{}", moved.body);
        }
    }
    let db = stack().await.core().db;
    let pk = shared::table::keys::org_pk(org.id);
    let (first, last) = shared::table::keys::shards_range(shared::table::keys::DOSSIER_COUNTERS_SK);
    let mut pages = db.pages(
        shared::table::query::Query::table(&pk)
            .sort(shared::table::query::SortKey::Between(first, last)),
    );
    while let Some(items) = pages.next(None).await.unwrap() {
        for item in items {
            for name in item.keys() {
                let fixed = ["PK", "SK", "all"].contains(&name.as_str())
                    || ["t_", "s_", "ts_"].iter().any(|p| name.starts_with(p));
                assert!(fixed, "a counters item holds {name}");
            }
            assert!(item.len() <= 2 + 1 + 2 + 4 + 8);
        }
    }
    for flow in &flows {
        let last = flow.stages.last().unwrap().id;
        assert_eq!(list_all(&org, &format!("stage_id={last}")).await.1, 1);
    }
}

/// Counters kept before stages had their own (every stage's counts in the one dossier
/// counters item) are rebuilt by `dossiers recount`, after which every total is exact.
#[tokio::test]
async fn a_recount_rebuilds_the_stage_counters_from_the_dossiers() {
    let org = growth_org().await;
    let stage = flows_of(&org)
        .await
        .into_iter()
        .find(|f| f.kind == DossierType::Sales)
        .unwrap()
        .stages[0]
        .id;
    for i in 0..3 {
        create(&org, json!({"type": "sales", "name": format!("R{i}")})).await;
    }
    let db = stack().await.core().db;
    let pk = shared::table::keys::org_pk(org.id);
    // As an earlier version left them: no stage counters, the stage's counts in the
    // dossier counters' item (now its shard 0).
    let base = shared::table::keys::stage_counters_base(stage);
    for shard in 0..shared::table::keys::COUNTER_SHARDS {
        let sk = shared::table::keys::shard_sk(&base, uuid::Uuid::from_u128(shard));
        db.put_item(shared::table::store::key(&pk, &sk))
            .await
            .unwrap();
    }
    let legacy_names = [
        ("#st", format!("st_{stage}")),
        ("#stt", format!("stt_{stage}")),
    ];
    let names: Vec<(&str, &str)> = legacy_names.iter().map(|(p, n)| (*p, n.as_str())).collect();
    let legacy = shared::table::store::Expression {
        text: "SET #st = :three, #stt = :sales",
        names: &names,
        values: vec![
            (":three", shared::table::store::n(3)),
            (":sales", shared::table::store::s("sales")),
        ],
    };
    let main = shared::table::keys::DOSSIER_COUNTERS_SK;
    db.update_if(&pk, main, &legacy, None)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(list_all(&org, &format!("stage_id={stage}")).await.1, 3);
    // Meanwhile a stage and type filter still shows the stage's dossiers.
    let (shown, _) = list_all(&org, &format!("stage_id={stage}&type=sales")).await;
    assert_eq!(shown.len(), 3);

    assert_eq!(
        shared::domain::dossiers::recount(&db, org.id)
            .await
            .unwrap(),
        3
    );
    let cleaned = db.get_item(&pk, main).await.unwrap().unwrap();
    assert!(
        cleaned.keys().all(|name| !name.starts_with("st")),
        "{cleaned:?}"
    );
    assert_eq!(list_all(&org, "").await.1, 3);
    assert_eq!(list_all(&org, &format!("stage_id={stage}")).await.1, 3);
    assert_eq!(
        list_all(&org, &format!("stage_id={stage}&type=sales"))
            .await
            .1,
        3
    );
    assert_eq!(
        list_all(&org, &format!("stage_id={stage}&type=candidate"))
            .await
            .1,
        0
    );
}

/// A burst of new candidates in one organization: every one counts in the contact counters
/// and, created in the same minute, in every pool bucket of its expiry. All succeed, and
/// every total, summed over the shards, is exact.
#[tokio::test]
async fn a_burst_of_new_candidates_all_succeed_with_exact_totals() {
    let org = growth_org().await;
    let router = contacts_router().await;
    let bodies = (0..40).map(|i| json!({"full_name": format!("Burst {i}"), "kind": ["candidate"]}));
    let statuses = burst(&router, "/api/v1/contacts", &org, bodies).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    for query in ["", "kind=candidate", "pool=in_pool"] {
        let reply = Call::get(&format!("/api/v1/contacts?{query}"))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(reply.body["meta"]["total"], 40, "{query}: {}", reply.body);
    }
}
