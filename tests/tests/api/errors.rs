//! What a client acts on in a 400: `code` says body or query, `param` names what is at
//! fault, and the message carries no parser positions.

use integration_tests::{
    contacts_router, dossiers_router, growth_org, notes_router, patch, post,
    webhook_endpoints_router, Call, Reply,
};
use serde_json::{json, Value};

fn refusal(reply: &Reply, what: &str) -> (String, Value) {
    assert_eq!(reply.status, 400, "{what}: {}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains(" line ") && !message.contains(" column "),
        "{what}: {message}"
    );
    (
        reply.error_code().to_string(),
        reply.body["error"]["param"].clone(),
    )
}

#[tokio::test]
async fn body_errors_name_their_field_without_parser_positions() {
    let org = growth_org().await;
    let contacts = contacts_router().await;
    let made = post("/api/v1/contacts")
        .key(&org.key)
        .json(&json!({"full_name": "Errors Person"}))
        .send(&contacts)
        .await;
    let contact = made.body["data"]["id"].as_str().unwrap().to_string();
    let cases: [(&str, &[u8], Value); 8] = [
        ("{}", b"{}", json!("full_name")),
        (
            "a number as name",
            br#"{"full_name": 7}"#,
            json!("full_name"),
        ),
        (
            "an unknown field",
            br#"{"full_name": "A", "colour": "red"}"#,
            json!("colour"),
        ),
        (
            "a bad email",
            br#"{"full_name": "A", "email": "nope"}"#,
            json!("email"),
        ),
        (
            "a bad kind",
            br#"{"full_name": "A", "kind": ["robot"]}"#,
            json!("kind[0]"),
        ),
        ("cut short", br#"{"full_name": "A""#, Value::Null),
        ("an array", br#"["A"]"#, Value::Null),
        ("trailing bytes", br#"{"full_name": "A"} x"#, Value::Null),
    ];
    for (what, body, param) in cases {
        let reply = post("/api/v1/contacts")
            .key(&org.key)
            .raw("application/json", body.to_vec())
            .send(&contacts)
            .await;
        assert_eq!(
            refusal(&reply, what),
            ("invalid_body".into(), param),
            "{what}"
        );
        let reply = patch(&format!("/api/v1/contacts/{contact}"))
            .key(&org.key)
            .raw("application/json", body.to_vec())
            .send(&contacts)
            .await;
        if what != "{}" {
            assert_eq!(reply.error_code(), "invalid_body", "PATCH {what}");
        }
    }

    let dossiers = dossiers_router().await;
    let reply = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "x", "deal_size": "big"}))
        .send(&dossiers)
        .await;
    assert_eq!(
        refusal(&reply, "deal_size"),
        ("invalid_body".into(), json!("deal_size"))
    );
    let reply = post("/api/v1/contacts")
        .key(&org.key)
        .header("idempotency-key", &"k".repeat(256))
        .json(&json!({"full_name": "Keyed"}))
        .send(&contacts)
        .await;
    assert_eq!(
        refusal(&reply, "Idempotency-Key"),
        ("invalid_body".into(), json!("Idempotency-Key"))
    );
    let webhooks = webhook_endpoints_router().await;
    let reply = post("/api/v1/webhook_endpoints")
        .key(&org.key)
        .json(&json!({"url": "https://example.com/hook", "events": ["dossier.created", "x"]}))
        .send(&webhooks)
        .await;
    assert_eq!(
        refusal(&reply, "events"),
        ("invalid_body".into(), json!("events[1]"))
    );
}

#[tokio::test]
async fn query_errors_are_invalid_query_and_name_their_parameter() {
    let org = growth_org().await;
    let dossier = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "Queried"}))
        .send(&dossiers_router().await)
        .await;
    let dossier = dossier.body["data"]["id"].as_str().unwrap().to_string();
    let notes = format!("/api/v1/dossiers/{dossier}/notes");
    let cases = [
        ("/api/v1/dossiers?colour=red", "colour"),
        ("/api/v1/dossiers?type=robot", "type"),
        ("/api/v1/dossiers?stage_id=nope", "stage_id"),
        ("/api/v1/dossiers?per_page=101", "per_page"),
        ("/api/v1/dossiers?cursor=abc", "cursor"),
        ("/api/v1/dossiers?cursor=abc&page=2", "cursor"),
        ("/api/v1/dossiers?page=1&page=2", "page"),
        ("/api/v1/dossiers?page=10001", "page"),
        ("/api/v1/contacts?kind=robot", "kind"),
        ("/api/v1/contacts?pool=soon", "pool"),
        (
            "/api/v1/contacts?search=a%20b%20c%20d%20e%20f%20g%20h%20i",
            "search",
        ),
        (&format!("{notes}?colour=red"), "colour"),
        ("/api/v1/webhook_endpoints?per_page=0", "per_page"),
    ];
    let routers = [
        ("/api/v1/dossiers", dossiers_router().await),
        ("/api/v1/contacts", contacts_router().await),
        (
            "/api/v1/webhook_endpoints",
            webhook_endpoints_router().await,
        ),
    ];
    for (path, param) in cases {
        let router = if path.contains("/notes") {
            notes_router().await
        } else {
            routers
                .iter()
                .find(|(prefix, _)| path.starts_with(prefix))
                .map(|(_, router)| router.clone())
                .unwrap()
        };
        let reply = Call::get(path).key(&org.key).send(&router).await;
        assert_eq!(
            refusal(&reply, path),
            ("invalid_query".into(), json!(param)),
            "{path}: {}",
            reply.body
        );
    }
}
