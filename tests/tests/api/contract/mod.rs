//! The OpenAPI document against the running API: property-based fuzzing with schemathesis,
//! and a negative pass of bad keys, scopes, bodies and content types on every operation.

use std::collections::BTreeSet;

use http::Method;
use serde_json::Value;

mod document_rules;
mod fuzzing;
mod negative;
mod typescript_client;

fn document() -> Value {
    serde_json::from_str(flows::OPENAPI_JSON).unwrap()
}

/// An operation of the document, with its path's ids filled in.
struct Operation {
    method: Method,
    /// The path as the document writes it, relative to `/api/v1`.
    template: String,
    path: String,
    scopes: Vec<String>,
    documented: BTreeSet<u16>,
    json_body: bool,
}

fn operations() -> Vec<Operation> {
    let document = document();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            if operation.get("responses").is_none()
                || operation["security"] == serde_json::json!([])
            {
                continue;
            }
            let scopes = operation["x-required-scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            let statuses = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|s| s.parse().unwrap())
                .collect();
            let json_body = operation["requestBody"]["content"]
                .get("application/json")
                .is_some();
            let concrete = format!("/api/v1{path}")
                .replace("{id}", &uuid::Uuid::now_v7().to_string())
                .replace("{contact_id}", &uuid::Uuid::now_v7().to_string());
            operations.push(Operation {
                method,
                template: path.clone(),
                path: concrete,
                scopes,
                documented: statuses,
                json_body,
            });
        }
    }
    operations
}
