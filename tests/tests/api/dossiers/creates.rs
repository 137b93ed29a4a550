//! Creating dossiers: the spec's example, contact reuse, choices, and refused input.

use integration_tests::{dossiers_router, growth_org, outbox, patch, post, stack, Call};
use serde_json::{json, Value};
use shared::domain::flows::{DossierType, StageSpec};

use super::{create, flows_of};

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

    // The dossier's, and its person's `contact.created`.
    let events: Vec<_> = outbox(org.id)
        .await
        .into_iter()
        .filter(|e| e.kind.as_str().starts_with("dossier."))
        .collect();
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
