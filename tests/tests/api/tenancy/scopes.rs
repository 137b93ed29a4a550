//! Scopes: the docs' table, `openapi.yaml` and the code agree on every route.

use std::collections::BTreeMap;

use http::Method;
use integration_tests::{dossiers_router, org_with, patch, post, stack, Call};
use serde_json::{json, Value};
use shared::domain::orgs::Plan;
use shared::web::auth::Scope;

/// (method, path template) → the scopes its route needs.
type ScopeTable = BTreeMap<(String, String), Vec<String>>;

/// Leads the scopes of a route that needs any one of them rather than all.
const ANY: &str = "any of";

/// The scope table of docs/api-guide.md: (method, path) → scopes, with the conditional rows
/// (`… with …`) kept apart, by route.
fn documented_scopes() -> (ScopeTable, BTreeMap<String, Vec<String>>) {
    let guide = include_str!("../../../../docs/api-guide.md");
    let table = guide
        .split("### Scopes per route")
        .nth(1)
        .expect("the guide has the scope table");
    let mut routes = BTreeMap::new();
    let mut conditional = BTreeMap::new();
    for row in table
        .lines()
        .skip_while(|l| !l.starts_with("| route"))
        .skip(2)
    {
        if !row.starts_with("| ") {
            break;
        }
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        // "any of `a`, `b`": each scope reads some of what the route shows.
        let (any, listed) = match cells[1].strip_prefix("any of ") {
            Some(listed) => (true, listed),
            None => (false, cells[1]),
        };
        let mut scopes: Vec<String> = listed
            .split(", ")
            .map(|s| s.trim_matches('`').to_string())
            .collect();
        if any {
            scopes.insert(0, ANY.to_string());
        }
        let route = cells[0].trim_matches('`');
        if route.contains("` with `") {
            conditional.insert(route.to_string(), scopes);
            continue;
        }
        let (method, path) = route.split_once(' ').unwrap();
        routes.insert((method.to_string(), path.to_string()), scopes);
    }
    (routes, conditional)
}

/// Finding 6: the docs' table is what `openapi.yaml` declares and what the code enforces.
#[tokio::test]
async fn every_route_needs_exactly_the_scopes_the_docs_list() {
    let (documented, conditional) = documented_scopes();
    let document: Value = serde_json::from_str(flows::OPENAPI_JSON).unwrap();
    let mut declared = BTreeMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(scopes) = operation["x-required-scopes"].as_array() else {
                continue;
            };
            let mut scopes: Vec<String> =
                scopes.iter().map(|s| s.as_str().unwrap().into()).collect();
            if operation["x-scopes-needed"] == "any" {
                scopes.insert(0, ANY.to_string());
            }
            declared.insert((method.to_uppercase(), path.clone()), scopes);
        }
    }
    assert_eq!(documented, declared, "docs/api-guide.md and openapi.yaml");

    let org = org_with(Plan::Growth, &Scope::ALL).await;
    let stack = stack().await;
    for ((method, template), scopes) in &documented {
        let path = format!("/api/v1{template}")
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{contact_id}", &uuid::Uuid::now_v7().to_string());
        let router = stack.router(integration_tests::function_for(&path));
        let call = |key: &str| {
            Call::new(Method::from_bytes(method.as_bytes()).unwrap(), &path)
                .key(key)
                .json(&json!({}))
        };
        if scopes[0] == ANY {
            let (none, any): (Vec<Scope>, Vec<Scope>) = Scope::ALL
                .into_iter()
                .partition(|s| !scopes.contains(&s.as_str().to_string()));
            let reply = call(&org.key_with(&none).await).send(&router).await;
            assert_eq!(
                reply.status, 403,
                "{method} {template} without any of {any:?}"
            );
            for one in any {
                let reply = call(&org.key_with(&[one]).await).send(&router).await;
                assert_ne!(reply.status, 403, "{method} {template} with {one:?}");
            }
            continue;
        }
        for missing in scopes {
            let others: Vec<Scope> = Scope::ALL
                .into_iter()
                .filter(|s| s.as_str() != missing)
                .collect();
            let reply = call(&org.key_with(&others).await).send(&router).await;
            assert_eq!(reply.status, 403, "{method} {template} without {missing}");
        }
        let exactly: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|s| scopes.contains(&s.as_str().to_string()))
            .collect();
        let reply = call(&org.key_with(&exactly).await).send(&router).await;
        assert_ne!(reply.status, 403, "{method} {template} with {scopes:?}");
    }

    // With `contact_id` or `email`, creating a dossier may reach an existing contact.
    let router = dossiers_router().await;
    let write_only = org.key_with(&[Scope::DossiersWrite]).await;
    let with_both = org
        .key_with(&[Scope::DossiersWrite, Scope::ContactsWrite])
        .await;
    assert_eq!(
        conditional["POST /dossiers` with `contact_id` or `email"],
        ["dossiers:write", "contacts:write"]
    );
    for body in [
        json!({"type": "candidate", "name": "Ada", "email": "ada@example.com"}),
        json!({"type": "sales", "name": "Deal", "contact_id": uuid::Uuid::now_v7()}),
    ] {
        let create = |key: &str| post("/api/v1/dossiers").key(key).json(&body);
        let refused = create(&write_only).send(&router).await;
        assert_eq!(refused.status, 403, "{body}");
        assert!(refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("contacts:write"));
        assert_ne!(create(&with_both).send(&router).await.status, 403, "{body}");
    }
    let plain = post("/api/v1/dossiers")
        .key(&write_only)
        .json(&json!({"type": "candidate", "name": "Grace"}))
        .send(&router)
        .await;
    assert_eq!(plain.status, 201, "{}", plain.body);

    // With `email`, a dossier PATCH changes its primary contact too; `phone` is its own.
    assert_eq!(
        conditional["PATCH /dossiers/{id}` with `email"],
        ["dossiers:read", "dossiers:write", "contacts:write"]
    );
    assert_eq!(conditional.len(), 2, "{conditional:?}");
    let dossier_keys = org
        .key_with(&[Scope::DossiersRead, Scope::DossiersWrite])
        .await;
    let all_three = org
        .key_with(&[
            Scope::DossiersRead,
            Scope::DossiersWrite,
            Scope::ContactsWrite,
        ])
        .await;
    let path = format!(
        "/api/v1/dossiers/{}",
        plain.body["data"]["id"].as_str().unwrap()
    );
    for body in [
        json!({"email": "grace@example.com"}),
        json!({"email": null}),
    ] {
        let change = |key: &str| patch(&path).key(key).json(&body);
        let refused = change(&dossier_keys).send(&router).await;
        assert_eq!(refused.status, 403, "{body}");
        assert_eq!(change(&all_three).send(&router).await.status, 200, "{body}");
    }
    for body in [json!({"name": "Grace H."}), json!({"phone": "+31 6 3"})] {
        let changed = patch(&path)
            .key(&dossier_keys)
            .json(&body)
            .send(&router)
            .await;
        assert_eq!(changed.status, 200, "{body}: {}", changed.body);
    }
}
