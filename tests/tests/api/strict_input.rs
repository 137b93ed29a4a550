//! Input read strictly, through the functions' Lambda entry points (issue 30's first bugs):
//! a body is an object, an enum value is a string, an id has one spelling, a LinkedIn URL
//! is an https URL on linkedin.com, and text within its limits never makes a key DynamoDB
//! refuses. Each refusal is a 400 naming what is at fault, and writes nothing.

use http::Method;
use integration_tests::gateway::{send, GatewayRequest, GatewayResponse};
use integration_tests::{growth_org, outbox, stack, TestOrg};
use serde_json::{json, Value};

async fn call(org: &TestOrg, method: Method, path: &str, body: Option<Value>) -> GatewayResponse {
    let request = GatewayRequest::new(method, path);
    let request = match body {
        Some(body) => request.body("application/json", body.to_string()),
        None => request,
    };
    send(&*stack().await, &request.key(&org.key)).await
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

fn query(path: &str, name: &str, value: &str) -> String {
    let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    format!("{path}?{name}={value}")
}

/// Sends the request and expects a 400 with `code` and, when given, `param`, and no
/// event written meanwhile.
async fn refuses(
    org: &TestOrg,
    (method, path, body): (Method, &str, Option<Value>),
    code: &str,
    param: Option<&str>,
) {
    let what = format!("{method} {path} {body:?}");
    let events = outbox(org.id).await.len();
    let reply = call(org, method, path, body).await;
    assert_eq!(
        reply.status,
        400,
        "{what}: {}",
        String::from_utf8_lossy(&reply.body)
    );
    let answer = reply.json();
    assert_eq!(answer["error"]["code"], code, "{what}: {answer}");
    if let Some(param) = param {
        assert_eq!(answer["error"]["param"], param, "{what}: {answer}");
    }
    assert_eq!(outbox(org.id).await.len(), events, "{what} wrote no event");
}

async fn total(org: &TestOrg, path: &str) -> Value {
    call(org, Method::GET, path, None).await.json()["meta"]["total"].clone()
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
    let (dossier_path, contact_path) = (
        format!("/api/v1/dossiers/{dossier}"),
        format!("/api/v1/contacts/{contact}"),
    );
    let cases = [
        (
            Method::POST,
            "/api/v1/contacts".to_string(),
            json!(["Pos Person"]),
        ),
        (
            Method::PATCH,
            dossier_path.clone(),
            json!(["Renamed by array"]),
        ),
        (Method::PATCH, dossier_path.clone(), json!([])),
        (Method::PATCH, contact_path.clone(), json!(["Renamed"])),
        (
            Method::POST,
            format!("{dossier_path}/notes"),
            json!(["A note"]),
        ),
        (
            Method::POST,
            format!("{dossier_path}/contacts"),
            json!([contact, "primary"]),
        ),
        (
            Method::POST,
            "/api/v1/webhook_endpoints".to_string(),
            json!(["https://example.com/h"]),
        ),
    ];
    for (method, path, body) in cases {
        refuses(&org, (method, &path, Some(body)), "invalid_body", None).await;
    }
    let kept = call(&org, Method::GET, &dossier_path, None).await;
    assert_eq!(kept.json()["data"]["name"], "Kept");
    let kept = call(&org, Method::GET, &contact_path, None).await;
    assert_eq!(kept.json()["data"]["full_name"], "Kept Person");
    assert_eq!(
        total(&org, "/api/v1/contacts").await,
        1,
        "no contact from an array"
    );
    assert_eq!(
        total(&org, "/api/v1/webhook_endpoints").await,
        0,
        "no endpoint from an array"
    );
    assert_eq!(
        total(&org, &format!("{dossier_path}/notes")).await,
        0,
        "no note from an array"
    );
    assert_eq!(
        total(&org, &format!("{dossier_path}/contacts")).await,
        0,
        "no link from an array"
    );
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
    let dossier_path = format!("/api/v1/dossiers/{dossier}");
    let cases = [
        (
            Method::POST,
            "/api/v1/dossiers",
            json!({"type": {"sales": null}, "name": "x"}),
            "type",
        ),
        (
            Method::PATCH,
            dossier_path.as_str(),
            json!({"status": {"won": null}}),
            "status",
        ),
        (
            Method::POST,
            "/api/v1/contacts",
            json!({"full_name": "x", "kind": [{"partner": null}]}),
            "kind[0]",
        ),
        (
            Method::POST,
            "/api/v1/webhook_endpoints",
            json!({"url": "https://example.com/h", "events": [{"note.created": null}]}),
            "events[0]",
        ),
    ];
    for (method, path, body, param) in cases {
        refuses(
            &org,
            (method, path, Some(body)),
            "invalid_body",
            Some(param),
        )
        .await;
    }
    let kept = call(&org, Method::GET, &dossier_path, None).await;
    assert_eq!(kept.json()["data"]["status"], "active");
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
    let endpoint = created(
        &org,
        "/api/v1/webhook_endpoints",
        json!({"url": "https://example.com/spelled"}),
    )
    .await;
    let found = call(
        &org,
        Method::GET,
        &format!("/api/v1/dossiers/{dossier}"),
        None,
    )
    .await;
    assert_eq!(found.status, 200);
    let spellings = |id: &str| {
        let id = uuid::Uuid::parse_str(id).unwrap();
        [
            id.simple().to_string(),
            id.urn().to_string(),
            id.braced().to_string(),
            id.to_string().to_uppercase(),
        ]
    };
    for other in spellings(&dossier) {
        for path in [
            format!("/api/v1/dossiers/{other}"),
            format!("/api/v1/dossiers/{other}/contacts/{contact}"),
        ] {
            let method = if path.contains("/contacts/") {
                Method::DELETE
            } else {
                Method::GET
            };
            let reply = call(&org, method.clone(), &path, None).await;
            assert_eq!(reply.status, 404, "{method} {path}");
        }
    }
    for other in spellings(&endpoint) {
        let reply = call(
            &org,
            Method::GET,
            &format!("/api/v1/webhook_endpoints/{other}"),
            None,
        )
        .await;
        assert_eq!(reply.status, 404, "GET /webhook_endpoints/{other}");
    }
    let link_path = format!("/api/v1/dossiers/{dossier}/contacts");
    let [simple, urn, braced, upper] = spellings(&contact);
    let cases = [
        (
            Method::POST,
            link_path.as_str(),
            json!({"contact_id": simple, "role_on_dossier": "champion"}),
            "contact_id",
        ),
        (
            Method::POST,
            "/api/v1/dossiers",
            json!({"type": "sales", "name": "x", "contact_id": urn}),
            "contact_id",
        ),
        (
            Method::POST,
            "/api/v1/dossiers",
            json!({"type": "sales", "name": "x", "assigned_to": braced}),
            "assigned_to",
        ),
        (
            Method::POST,
            "/api/v1/dossiers",
            json!({"type": "sales", "name": "x", "flow_id": upper}),
            "flow_id",
        ),
    ];
    for (method, path, body, param) in cases {
        refuses(
            &org,
            (method, path, Some(body)),
            "invalid_body",
            Some(param),
        )
        .await;
    }
    let stage = spellings(&dossier)[1].clone();
    let dossier_path = format!("/api/v1/dossiers/{dossier}");
    refuses(
        &org,
        (
            Method::PATCH,
            &dossier_path,
            Some(json!({"current_stage_id": stage})),
        ),
        "invalid_body",
        Some("current_stage_id"),
    )
    .await;
    refuses(
        &org,
        (
            Method::POST,
            &format!("{dossier_path}/cv/complete"),
            Some(json!({"upload_id": stage})),
        ),
        "invalid_body",
        Some("upload_id"),
    )
    .await;
    refuses(
        &org,
        (
            Method::GET,
            &query("/api/v1/dossiers", "stage_id", &stage),
            None,
        ),
        "invalid_query",
        Some("stage_id"),
    )
    .await;
    assert_eq!(
        total(&org, "/api/v1/dossiers").await,
        1,
        "no dossier was made"
    );
}

#[tokio::test]
async fn a_linkedin_url_is_an_https_url_on_linkedin() {
    let org = growth_org().await;
    for url in [
        r#"https://x"><svg/onload=alert(1)>"#,
        "http://javascript:alert(1)//",
        "https://evil.example/login",
    ] {
        let body = json!({"full_name": "Linked", "linkedin_url": url});
        refuses(
            &org,
            (Method::POST, "/api/v1/contacts", Some(body)),
            "invalid_body",
            Some("linkedin_url"),
        )
        .await;
    }
    assert_eq!(total(&org, "/api/v1/contacts").await, 0);
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
/// take; beyond them, a 400 naming the field. Before, each of these was a 500 that every
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
    let found = call(
        &org,
        Method::GET,
        &query("/api/v1/contacts", "search", &hangul),
        None,
    )
    .await;
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

    // U+1F88 folds to two letters, 3 bytes to 5. Within 254 bytes its marker's key fits;
    // at 254 characters (750 bytes) it would take 1,252 and is refused.
    let growing = format!("{}@ex.co", "\u{1f88}".repeat(82));
    assert_eq!(growing.len(), 252);
    created(
        &org,
        "/api/v1/contacts",
        json!({"full_name": "Grows", "email": growing}),
    )
    .await;
    let found = call(
        &org,
        Method::GET,
        &query("/api/v1/contacts", "search", &growing),
        None,
    )
    .await;
    assert_eq!(
        found.json()["meta"]["total"],
        1,
        "{}",
        String::from_utf8_lossy(&found.body)
    );
    let wide = format!("{}@ex.co", "\u{1f88}".repeat(248));
    for (path, body) in [
        (
            "/api/v1/contacts",
            json!({"full_name": "Wide", "email": wide}),
        ),
        (
            "/api/v1/dossiers",
            json!({"type": "candidate", "name": "Wide", "email": wide}),
        ),
    ] {
        refuses(
            &org,
            (Method::POST, path, Some(body)),
            "invalid_body",
            Some("email"),
        )
        .await;
    }
}
