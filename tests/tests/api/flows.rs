//! `GET /flows` and `GET /flows/{id}/stages`, and query validation.

use integration_tests::{flows_router, growth_org, stack, Call};
use serde_json::json;
use shared::domain::flows::{DossierType, StageSpec};

#[tokio::test]
async fn new_organizations_get_the_two_default_flows() {
    let org = growth_org().await;
    let reply = Call::get("/api/v1/flows")
        .key(&org.key)
        .send(&flows_router().await)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body["meta"],
        json!({"total": 2, "page": 1, "per_page": 25})
    );
    let flows = reply.body["data"].as_array().unwrap();
    let names: Vec<&str> = flows.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Candidate Flow", "Sales Flow"]);
    let sales = &flows[1];
    assert_eq!(sales["type"], "sales");
    assert_eq!(sales["is_default"], true);
    let stages = sales["stages"].as_array().unwrap();
    let stage_names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        stage_names,
        [
            "Lead",
            "Discovery",
            "Proposal",
            "Negotiation",
            "Contract",
            "Won"
        ]
    );
    assert_eq!(stages[0]["position"], 1);
    assert_eq!(stages[0]["deadline_days"], 3);
    assert_eq!(stages[0]["win_probability"], 14);
    assert_eq!(stages[0]["color"], "#FF5C35");
    let candidate_stages: Vec<&str> = flows[0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        candidate_stages,
        [
            "Applied",
            "Screening",
            "Interview",
            "Assessment",
            "Offer",
            "Hired"
        ]
    );
}

#[tokio::test]
async fn flows_filter_by_type_and_paginate() {
    let org = growth_org().await;
    let admin = stack().await.admin();
    let spec = |name: &str| StageSpec {
        name: name.into(),
        deadline_days: None,
        win_probability: None,
        color: None,
    };
    admin
        .create_flow(
            org.id,
            DossierType::Sales,
            "Enterprise",
            vec![spec("Intro"), spec("Pilot")],
        )
        .await
        .unwrap();
    let router = flows_router().await;
    let reply = Call::get("/api/v1/flows?type=sales")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(reply.body["meta"]["total"], 2);
    assert!(reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["type"] == "sales"));
    let reply = Call::get("/api/v1/flows?type=sales&page=2&per_page=1")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(
        reply.body["meta"],
        json!({"total": 2, "page": 2, "per_page": 1})
    );
    assert_eq!(reply.body["data"][0]["name"], "Enterprise");
    assert_eq!(reply.body["data"][0]["is_default"], false);
    let reply = Call::get("/api/v1/flows?page=9")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(reply.body["data"], json!([]));
    assert_eq!(reply.body["meta"]["total"], 3);
}

#[tokio::test]
async fn stages_of_one_flow_in_position_order_with_meta() {
    let org = growth_org().await;
    let flow = &shared::domain::flows::list(&stack().await.core().db, org.id)
        .await
        .unwrap()[1];
    let reply = Call::get(&format!("/api/v1/flows/{}/stages", flow.id))
        .key(&org.key)
        .send(&flows_router().await)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body["meta"],
        json!({"total": 6, "page": 1, "per_page": 6})
    );
    let positions: Vec<u64> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn bad_query_parameters_are_400_and_name_the_parameter() {
    let org = growth_org().await;
    let router = flows_router().await;
    for (query, param) in [
        ("type=robot", "type"),
        ("page=0", "page"),
        ("page=-3", "page"),
        ("page=abc", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=99999999999999999999", "per_page"),
        ("page=1&page=2", "page"),
        ("colour=red", "colour"),
    ] {
        let reply = Call::get(&format!("/api/v1/flows?{query}"))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (400, "invalid_query"),
            "{query}"
        );
        assert_eq!(reply.body["error"]["param"], param, "{query}");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{param}`")),
            "{query}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn path_ids_that_are_not_uuids_are_404() {
    let org = growth_org().await;
    for id in ["abc", "1", "01a217e8-2b69-729d-a2db-7e9aa4dc246"] {
        let reply = Call::get(&format!("/api/v1/flows/{id}/stages"))
            .key(&org.key)
            .send(&flows_router().await)
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (404, "not_found"),
            "{id}"
        );
    }
}
