//! The functions' real Lambda entry points, fed the HTTP API (payload 2.0) events API
//! Gateway sends: `lambda_http`'s conversion of base64 bodies, raw paths and query strings
//! and header bytes, in front of the same routers the other tests call directly.

use http::Method;
use integration_tests::gateway::{send, GatewayRequest, GatewayResponse};
use integration_tests::{stack, TestOrg};
use serde_json::{json, Value};

mod conversion;
mod malformed;

fn get(path: &str) -> GatewayRequest {
    GatewayRequest::new(Method::GET, path)
}

fn post(path: &str) -> GatewayRequest {
    GatewayRequest::new(Method::POST, path)
}

async fn created(org: &TestOrg, request: GatewayRequest) -> Value {
    let reply = send(&*stack().await, &request.key(&org.key)).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["data"].clone()
}

async fn sales_dossier(org: &TestOrg, name: &str) -> Value {
    created(
        org,
        post("/api/v1/dossiers").body(
            "application/json",
            json!({"type": "sales", "name": name}).to_string(),
        ),
    )
    .await
}

fn assert_error_shape(reply: &GatewayResponse, what: &str) -> String {
    assert!(
        reply.status.is_client_error(),
        "{what}: {} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert!(body["error"]["message"].is_string(), "{what}: {body}");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}
