//! Managing endpoints: CRUD, rotation, patches under If-Match, the scope, limits, bad input.

use http::Method;
use integration_tests::{delete, growth_org, post, stack, webhook_endpoints_router, Call};
use serde_json::{json, Value};
use shared::web::auth::Scope;
use shared::webhooks::endpoints::MAX_ENDPOINTS;

use super::subscribe;

#[tokio::test]
async fn an_endpoint_is_created_read_listed_and_deleted() {
    let org = growth_org().await;
    let created = subscribe(
        &org.key,
        json!({"url": "https://hooks.example.com/leadgrid", "description": "CRM sync"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let endpoint = &created.body["data"];
    let id = endpoint["id"].as_str().unwrap().to_string();
    assert_eq!(endpoint["url"], "https://hooks.example.com/leadgrid");
    assert_eq!(endpoint["description"], "CRM sync");
    assert_eq!(
        endpoint["events"],
        json!(["*"]),
        "every type, today's and later ones, by default"
    );
    assert!(endpoint["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(endpoint["disabled_at"], Value::Null);

    let router = webhook_endpoints_router().await;
    let shown = Call::get(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["data"]["url"], endpoint["url"]);
    assert!(
        shown.body["data"].get("secret").is_none(),
        "shown once only"
    );

    let listed = Call::get("/api/v1/webhook_endpoints")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["meta"]["total"], 1);
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
    assert!(listed.body["data"][0].get("secret").is_none());

    // The CLI sees what the API made: one implementation.
    let operators = stack().await.admin().list_webhooks(org.id).await.unwrap();
    assert_eq!(operators.len(), 1);
    assert_eq!(operators[0].id.to_string(), id);
    assert_eq!(operators[0].description.as_deref(), Some("CRM sync"));

    let path = format!("/api/v1/webhook_endpoints/{id}");
    let deleted = delete(&path).key(&org.key).send(&router).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["data"], json!({"id": id, "deleted": true}));
    for method in [Method::GET, Method::DELETE] {
        let gone = Call::new(method, &path).key(&org.key).send(&router).await;
        assert_eq!(gone.status, 404);
        assert_eq!(gone.error_code(), "not_found");
    }
}

#[tokio::test]
async fn every_route_needs_the_webhooks_manage_scope() {
    let org = growth_org().await;
    let without: Vec<Scope> = Scope::ALL
        .iter()
        .copied()
        .filter(|scope| *scope != Scope::WebhooksManage)
        .collect();
    let key = org.key_with(&without).await;
    let id = uuid::Uuid::now_v7();
    let router = webhook_endpoints_router().await;
    for (method, path, body) in [
        (Method::GET, "/api/v1/webhook_endpoints".to_string(), None),
        (
            Method::POST,
            "/api/v1/webhook_endpoints".to_string(),
            Some(json!({"url": "https://hooks.example.com/"})),
        ),
        (Method::GET, format!("/api/v1/webhook_endpoints/{id}"), None),
        (
            Method::DELETE,
            format!("/api/v1/webhook_endpoints/{id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhook_endpoints/{id}/rotate_secret"),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/webhook_endpoints/{id}"),
            Some(json!({"disabled": true})),
        ),
        (
            Method::POST,
            format!("/api/v1/webhook_endpoints/{id}/replay"),
            Some(json!({"event_id": "evt_00000000000000000000000000000000"})),
        ),
        (
            Method::POST,
            format!("/api/v1/webhook_endpoints/{id}/test"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/webhook_endpoints/{id}/attempts"),
            None,
        ),
    ] {
        let mut call = Call::new(method.clone(), &path).key(&key);
        if let Some(body) = &body {
            call = call.json(body);
        }
        let reply = call.send(&router).await;
        assert_eq!(reply.status, 403, "{method} {path}");
        assert!(reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("webhooks:manage"));
    }
}

#[tokio::test]
async fn refused_input_is_a_400_that_names_the_field_and_writes_nothing() {
    let org = growth_org().await;
    for body in [
        json!({"url": "ftp://hooks.example.com/"}),
        json!({"url": "https://10.0.0.8/hook"}),
        json!({"url": "https://hooks.example.com:22/hook"}),
        json!({"url": "https://user@hooks.example.com/hook"}),
        json!({"url": "https://hooks.example.com/", "events": []}),
        json!({"url": "https://hooks.example.com/", "events": ["dossier.exploded"]}),
        json!({"url": "https://hooks.example.com/", "description": "two\u{1b}[31m"}),
        json!({"url": "https://hooks.example.com/", "description": "x".repeat(501)}),
        json!({"url": "https://hooks.example.com/", "secret": "whsec_mine"}),
        json!({"events": ["note.created"]}),
    ] {
        let reply = subscribe(&org.key, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.error_code(), "invalid_body", "{body}");
    }
    let listed = Call::get("/api/v1/webhook_endpoints")
        .key(&org.key)
        .send(&webhook_endpoints_router().await)
        .await;
    assert_eq!(listed.body["meta"]["total"], 0);
}

#[tokio::test]
async fn an_organization_has_at_most_sixteen_endpoints_even_when_asked_at_once() {
    let org = growth_org().await;
    let attempts = (0..MAX_ENDPOINTS + 4).map(|i| {
        let key = org.key.clone();
        async move {
            subscribe(
                &key,
                json!({"url": format!("https://hooks.example.com/{i}")}),
            )
            .await
            .status
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let made = statuses.iter().filter(|s| s.as_u16() == 201).count();
    assert_eq!(made as u64, MAX_ENDPOINTS, "{statuses:?}");
    let refused = subscribe(&org.key, json!({"url": "https://hooks.example.com/more"})).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.error_code(), "limit_reached");

    let router = webhook_endpoints_router().await;
    let listed = Call::get("/api/v1/webhook_endpoints?per_page=100")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(listed.body["meta"]["total"], MAX_ENDPOINTS);
    let first = listed.body["data"][0]["id"].as_str().unwrap();
    let deleted = delete(&format!("/api/v1/webhook_endpoints/{first}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(deleted.status, 200);
    let again = subscribe(&org.key, json!({"url": "https://hooks.example.com/again"})).await;
    assert_eq!(again.status, 201, "a deletion gives its place back");
}

#[tokio::test]
async fn a_rotation_returns_the_new_secret_and_keeps_the_old_one_for_its_grace() {
    let org = growth_org().await;
    let created = subscribe(&org.key, json!({"url": "https://hooks.example.com/"})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let router = webhook_endpoints_router().await;
    let rotate = |body: Value| {
        post(&format!("/api/v1/webhook_endpoints/{id}/rotate_secret"))
            .key(&org.key)
            .json(&body)
    };
    let rotated = rotate(json!({"grace_hours": 2})).send(&router).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let secret = rotated.body["data"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_ne!(secret, created.body["data"]["secret"].as_str().unwrap());
    let shown = Call::get(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert!(shown.body["data"]["previous_secret_expires_at"].is_string());

    for bad in [
        json!({"grace_hours": 169}),
        json!({"grace_hours": -1}),
        json!({"grace": 1}),
    ] {
        let reply = rotate(bad.clone()).send(&router).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
    let missing = post(&format!(
        "/api/v1/webhook_endpoints/{}/rotate_secret",
        uuid::Uuid::now_v7()
    ))
    .key(&org.key)
    .json(&json!({}))
    .send(&router)
    .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn a_patch_changes_what_it_names_under_if_match() {
    let org = growth_org().await;
    let created = subscribe(&org.key, json!({"url": "https://hooks.example.com/a"})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/webhook_endpoints/{id}");
    let first_tag = created.header("etag").unwrap().to_string();
    let router = webhook_endpoints_router().await;
    let patch = |body: Value| integration_tests::patch(&path).key(&org.key).json(&body);

    let changed = patch(json!({"events": ["note.created"], "description": "notes only"}))
        .header("if-match", &first_tag)
        .send(&router)
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["data"]["events"], json!(["note.created"]));
    assert_eq!(changed.body["data"]["description"], "notes only");
    assert_eq!(changed.body["data"]["url"], "https://hooks.example.com/a");
    let second_tag = changed.header("etag").unwrap().to_string();
    assert_ne!(second_tag, first_tag);

    let stale = patch(json!({"description": "lost update"}))
        .header("if-match", &first_tag)
        .send(&router)
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.error_code(), "precondition_failed");

    for bad in [
        json!({"url": "http://10.1.2.3/hook"}),
        json!({"events": []}),
        json!({"disabled": "yes"}),
        json!({"secret": "whsec_mine"}),
    ] {
        let reply = patch(bad.clone()).send(&router).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
    let same = patch(json!({"description": "notes only"}))
        .send(&router)
        .await;
    assert_eq!(
        same.header("etag"),
        Some(second_tag.as_str()),
        "no change, no new version"
    );
    let cleared = patch(json!({"description": null})).send(&router).await;
    assert_eq!(cleared.body["data"]["description"], Value::Null);

    let refused = delete(&path)
        .key(&org.key)
        .header("if-match", &second_tag)
        .send(&router)
        .await;
    assert_eq!(refused.status, 412, "the description changed since");
    let current = cleared.header("etag").unwrap().to_string();
    let deleted = delete(&path)
        .key(&org.key)
        .header("if-match", &current)
        .send(&router)
        .await;
    assert_eq!(deleted.status, 200);
}
