//! Input read strictly, through the functions' Lambda entry points (issue 30's first bugs):
//! a body is an object, an enum value is a string, an id has one spelling, and a LinkedIn
//! URL is an https URL on linkedin.com. Each refusal is a 400 naming what is at fault, and
//! writes nothing.

use http::Method;
use integration_tests::gateway::{send, GatewayRequest, GatewayResponse};
use integration_tests::{growth_org, outbox, stack, TestOrg};
use serde_json::{json, Value};

fn request(method: Method, path: &str, body: Option<Value>) -> GatewayRequest {
    let request = GatewayRequest::new(method, path);
    match body {
        Some(body) => request.body("application/json", body.to_string()),
        None => request,
    }
}

async fn call(org: &TestOrg, method: Method, path: &str, body: Option<Value>) -> GatewayResponse {
    send(&*stack().await, &request(method, path, body).key(&org.key)).await
}

async fn created(org: &TestOrg, path: &str, body: Value) -> String {
    let reply = call(org, Method::POST, path, Some(body)).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["data"]["id"].as_str().unwrap().to_string()
}

/// A 400 with `code` and, when given, `param`; and no event was written.
async fn refused(
    org: &TestOrg,
    reply: GatewayResponse,
    code: &str,
    param: Option<&str>,
    what: &str,
) {
    let events = outbox(org.id).await.len();
    assert_eq!(
        reply.status,
        400,
        "{what}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    if let Some(param) = param {
        assert_eq!(body["error"]["param"], param, "{what}: {body}");
    }
    assert_eq!(outbox(org.id).await.len(), events, "{what} wrote nothing");
}

#[tokio::test]
async fn arrays_are_not_objects() {
    let org = growth_org().await;
    let dossier = created(
        &org,
        "/api/v1/dossiers",
        json!({"type": "sales", "name": "Kept"}),
    )
    .await;
    let contact = created(
        &org,
        "/api/v1/contacts",
        json!({"full_name": "Kept Person"}),
    )
    .await;
    let cases = [
        (
            Method::POST,
            "/api/v1/contacts".to_string(),
            json!(["Pos Person"]),
        ),
        (
            Method::PATCH,
            format!("/api/v1/dossiers/{dossier}"),
            json!(["Renamed by array"]),
        ),
        (
            Method::PATCH,
            format!("/api/v1/dossiers/{dossier}"),
            json!([]),
        ),
        (
            Method::PATCH,
            format!("/api/v1/contacts/{contact}"),
            json!(["Renamed"]),
        ),
        (
            Method::POST,
            format!("/api/v1/dossiers/{dossier}/notes"),
            json!(["A note"]),
        ),
        (
            Method::POST,
            format!("/api/v1/dossiers/{dossier}/contacts"),
            json!([contact, "primary"]),
        ),
        (
            Method::POST,
            "/api/v1/webhook_endpoints".to_string(),
            json!(["https://example.com/h"]),
        ),
    ];
    for (method, path, body) in cases {
        let what = format!("{method} {path} {body}");
        let reply = call(&org, method, &path, Some(body)).await;
        refused(&org, reply, "invalid_body", None, &what).await;
    }
    let kept = call(
        &org,
        Method::GET,
        &format!("/api/v1/dossiers/{dossier}"),
        None,
    )
    .await;
    assert_eq!(kept.json()["data"]["name"], "Kept");
    let total = call(&org, Method::GET, "/api/v1/contacts", None)
        .await
        .json()["meta"]["total"]
        .clone();
    assert_eq!(total, 1, "no contact was made from an array");
}

#[tokio::test]
async fn enum_values_are_strings_only() {
    let org = growth_org().await;
    let dossier = created(
        &org,
        "/api/v1/dossiers",
        json!({"type": "sales", "name": "Deal"}),
    )
    .await;
    let cases = [
        (
            Method::POST,
            "/api/v1/dossiers".to_string(),
            json!({"type": {"sales": null}, "name": "x"}),
            "type",
        ),
        (
            Method::PATCH,
            format!("/api/v1/dossiers/{dossier}"),
            json!({"status": {"won": null}}),
            "status",
        ),
        (
            Method::POST,
            "/api/v1/contacts".to_string(),
            json!({"full_name": "x", "kind": [{"partner": null}]}),
            "kind[0]",
        ),
        (
            Method::POST,
            "/api/v1/webhook_endpoints".to_string(),
            json!({"url": "https://example.com/h", "events": [{"note.created": null}]}),
            "events[0]",
        ),
    ];
    for (method, path, body, param) in cases {
        let what = format!("{method} {path} {body}");
        let reply = call(&org, method, &path, Some(body)).await;
        refused(&org, reply, "invalid_body", Some(param), &what).await;
    }
}

#[tokio::test]
async fn an_id_has_one_spelling() {
    let org = growth_org().await;
    let dossier = created(
        &org,
        "/api/v1/dossiers",
        json!({"type": "sales", "name": "Spelled"}),
    )
    .await;
    let contact = created(
        &org,
        "/api/v1/contacts",
        json!({"full_name": "Spelled Person"}),
    )
    .await;
    let id = uuid::Uuid::parse_str(&dossier).unwrap();
    let found = call(
        &org,
        Method::GET,
        &format!("/api/v1/dossiers/{dossier}"),
        None,
    )
    .await;
    assert_eq!(found.status, 200);
    for other in [
        id.simple().to_string(),
        id.urn().to_string(),
        id.braced().to_string(),
        dossier.to_uppercase(),
    ] {
        let reply = call(
            &org,
            Method::GET,
            &format!("/api/v1/dossiers/{other}"),
            None,
        )
        .await;
        assert_eq!(reply.status, 404, "GET /dossiers/{other}");
    }
    let contact_id = uuid::Uuid::parse_str(&contact).unwrap();
    let link = call(
        &org,
        Method::POST,
        &format!("/api/v1/dossiers/{dossier}/contacts"),
        Some(json!({"contact_id": contact_id.simple().to_string(), "role_on_dossier": "champion"})),
    )
    .await;
    refused(
        &org,
        link,
        "invalid_body",
        Some("contact_id"),
        "contact_id without hyphens",
    )
    .await;
    let stage = call(
        &org,
        Method::GET,
        &format!("/api/v1/dossiers?stage_id={}", id.urn()),
        None,
    )
    .await;
    refused(
        &org,
        stage,
        "invalid_query",
        Some("stage_id"),
        "stage_id as a URN",
    )
    .await;
}

#[tokio::test]
async fn a_linkedin_url_is_an_https_url_on_linkedin() {
    let org = growth_org().await;
    for url in [
        r#"https://x"><svg/onload=alert(1)>"#,
        "http://javascript:alert(1)//",
        "https://evil.example/login",
    ] {
        let reply = call(
            &org,
            Method::POST,
            "/api/v1/contacts",
            Some(json!({"full_name": "Linked", "linkedin_url": url})),
        )
        .await;
        refused(&org, reply, "invalid_body", Some("linkedin_url"), url).await;
    }
    let reply = call(
        &org,
        Method::POST,
        "/api/v1/contacts",
        Some(json!({"full_name": "Linked", "linkedin_url": "https://WWW.LinkedIn.com/in/linked"})),
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.json()["data"]["linkedin_url"],
        "https://www.linkedin.com/in/linked"
    );
}

/// Text within its documented limits is stored and found, however many bytes its keys
/// would take; beyond them, a 400 naming the field. Before, these were 500s that every
/// retry repeated: a sort key over DynamoDB's 1,024 bytes.
#[tokio::test]
async fn text_within_its_limits_is_stored_and_found_whatever_its_bytes() {
    let org = growth_org().await;
    // 120 Hangul syllables: 1,080 bytes once decomposed into the jamo words are made of.
    let hangul: String = std::iter::repeat_n('\u{d55c}', 120).collect();
    let contact = created(&org, "/api/v1/contacts", json!({"full_name": hangul})).await;
    created(
        &org,
        "/api/v1/dossiers",
        json!({"type": "candidate", "name": hangul}),
    )
    .await;
    let search = format!(
        "/api/v1/contacts?search={}",
        form_urlencoded::byte_serialize(hangul.as_bytes()).collect::<String>()
    );
    let found = call(&org, Method::GET, &search, None).await;
    assert_eq!(
        found.status,
        200,
        "{}",
        String::from_utf8_lossy(&found.body)
    );
    let ids: Vec<Value> = found.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert!(ids.contains(&json!(contact)), "{ids:?}");

    // An email within 254 bytes whose folded form is longer (U+1F88 folds to two letters).
    let growing = format!("{}@example.com", "\u{1f88}".repeat(80));
    created(
        &org,
        "/api/v1/contacts",
        json!({"full_name": "Grows", "email": growing}),
    )
    .await;
    let by_email = format!(
        "/api/v1/contacts?search={}",
        form_urlencoded::byte_serialize(growing.to_lowercase().as_bytes()).collect::<String>()
    );
    let found = call(&org, Method::GET, &by_email, None).await;
    assert_eq!(
        found.json()["meta"]["total"],
        1,
        "{}",
        String::from_utf8_lossy(&found.body)
    );

    // Over 254 bytes: 400 naming the field, on every path that takes an email.
    let wide = format!("{}@ex.co", "\u{1d400}".repeat(63));
    let reply = call(
        &org,
        Method::POST,
        "/api/v1/contacts",
        Some(json!({"full_name": "Wide", "email": wide})),
    )
    .await;
    refused(
        &org,
        reply,
        "invalid_body",
        Some("email"),
        "a 258-byte email",
    )
    .await;
    let reply = call(
        &org,
        Method::POST,
        "/api/v1/dossiers",
        Some(json!({"type": "candidate", "name": "Wide", "email": wide})),
    )
    .await;
    refused(
        &org,
        reply,
        "invalid_body",
        Some("email"),
        "a dossier's 258-byte email",
    )
    .await;
    let query = format!(
        "/api/v1/contacts?search={}",
        form_urlencoded::byte_serialize(wide.as_bytes()).collect::<String>()
    );
    let reply = call(&org, Method::GET, &query, None).await;
    refused(
        &org,
        reply,
        "invalid_query",
        Some("search"),
        "a search for a 258-byte email",
    )
    .await;
}
