//! `lambda_http`'s conversions reach the routers intact: bodies, query strings, paths.

use integration_tests::gateway::send;
use integration_tests::{growth_org, stack, Call};
use serde_json::json;

use super::{assert_error_shape, created, get, post, sales_dossier};

/// A PDF as real ones are: a binary comment line of bytes above 0x7f near the top, and
/// every byte value somewhere in the rest.
fn binary_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    pdf.extend((0..=255u8).cycle().take(4096));
    pdf.extend(b"\n%%EOF\n");
    pdf
}

async fn stored_cv(key: &str) -> Vec<u8> {
    stack()
        .await
        .stored_cv(key)
        .await
        .expect("the CV is stored")
}

/// One route of each API function answers the same through its Lambda entry point as
/// through its router called directly: status, body and the headers clients read.
#[tokio::test]
async fn each_function_answers_through_its_entry_point_as_its_router_does() {
    let org = growth_org().await;
    let stack = stack().await;
    let dossier = created(
        &org,
        post("/api/v1/dossiers").body(
            "application/json",
            json!({"type": "candidate", "name": "Entry Point", "email": "entry@example.com"})
                .to_string(),
        ),
    )
    .await;
    let id = dossier["id"].as_str().unwrap();
    let contact = created(
        &org,
        post("/api/v1/contacts").body("application/json", r#"{"full_name": "Ada Gateway"}"#),
    )
    .await;
    let contact_id = contact["id"].as_str().unwrap();
    let paths = [
        "/api/v1/flows?type=candidate".to_string(),
        format!("/api/v1/dossiers/{id}"),
        format!("/api/v1/contacts/{contact_id}"),
        format!("/api/v1/dossiers/{id}/notes"),
        format!("/api/v1/dossiers/{id}/contacts"),
    ];
    let mut functions = std::collections::BTreeSet::new();
    for path in paths {
        let function = integration_tests::function_for(path.split('?').next().unwrap());
        functions.insert(function);
        let direct = Call::get(&path)
            .key(&org.key)
            .send(&stack.router(function))
            .await;
        let through_lambda = send(&stack, &get(&path).key(&org.key)).await;
        assert_eq!(through_lambda.status, direct.status, "{path}");
        assert_eq!(through_lambda.status, 200, "{path}");
        assert_eq!(through_lambda.json(), direct.body, "{path}");
        assert_eq!(
            through_lambda.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        assert_eq!(
            through_lambda.header("etag"),
            direct.header("etag"),
            "{path}"
        );
        assert!(through_lambda.header("x-ratelimit-remaining").is_some());
        assert!(through_lambda.header("x-request-id").is_some());
    }
    assert_eq!(functions.len(), 4, "{functions:?}");

    // Errors keep their shape through the entry point too.
    let missing = send(
        &stack,
        &get(&format!("/api/v1/dossiers/{}", uuid::Uuid::now_v7())).key(&org.key),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "not_found");
}

/// Binary bodies arrive base64-encoded (`isBase64Encoded`) and are stored byte for byte,
/// sent raw as `application/pdf` and inside a multipart form.
#[tokio::test]
async fn a_binary_pdf_arrives_intact_raw_and_in_multipart() {
    let org = growth_org().await;
    let stack = stack().await;
    let pdf = binary_pdf();
    assert!(pdf.iter().any(|&b| b >= 0x80));

    let boundary = "gatewayboundary";
    let mut form = Vec::new();
    for (name, value) in [("type", "candidate"), ("name", "Benoît Binary")] {
        form.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    form.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
    form.extend(&pdf);
    form.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request =
        post("/api/v1/dossiers").body(&format!("multipart/form-data; boundary={boundary}"), form);
    assert_eq!(request.event()["isBase64Encoded"], true);
    let dossier = created(&org, request).await;
    assert_eq!(dossier["name"], "Benoît Binary");
    let key = dossier["cv_url"].as_str().expect("a CV is attached");
    assert_eq!(stored_cv(key).await, pdf);

    let mut replacement = binary_pdf();
    replacement.reverse();
    replacement.splice(0..0, b"%PDF-1.4\n".iter().copied());
    let id = dossier["id"].as_str().unwrap();
    let request = post(&format!("/api/v1/dossiers/{id}/cv"))
        .key(&org.key)
        .body("application/pdf", replacement.clone());
    assert_eq!(request.event()["isBase64Encoded"], true);
    let reply = send(&stack, &request).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(stored_cv(key).await, replacement);
}

/// `kind=candidate&kind=client` reaches the function as both values (API Gateway also joins
/// them with a comma in `queryStringParameters`, which the functions do not read).
#[tokio::test]
async fn a_repeated_query_parameter_keeps_every_value() {
    let org = growth_org().await;
    let stack = stack().await;
    for (name, kind) in [
        ("Cand", "candidate"),
        ("Cli", "client"),
        ("Sup", "supplier"),
    ] {
        created(
            &org,
            post("/api/v1/contacts").body(
                "application/json",
                json!({"full_name": name, "kind": [kind]}).to_string(),
            ),
        )
        .await;
    }
    let request = get("/api/v1/contacts?kind=candidate&kind=client").key(&org.key);
    assert_eq!(
        request.event()["queryStringParameters"]["kind"],
        "candidate,client"
    );
    let reply = send(&stack, &request).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["meta"]["total"], 2, "{body}");
    let mut names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["full_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Cand", "Cli"]);
}

/// A path segment with percent-encoding names the same resource as the plain one; a
/// segment that decodes to no id, or to bytes that are not UTF-8, is a 404 in the spec's
/// shape.
#[tokio::test]
async fn percent_encoded_path_segments_are_decoded() {
    let org = growth_org().await;
    let stack = stack().await;
    let dossier = sales_dossier(&org, "Encoded").await;
    let id = dossier["id"].as_str().unwrap();
    let encoded = id.replace('-', "%2D");
    let reply = send(
        &stack,
        &get(&format!("/api/v1/dossiers/{encoded}")).key(&org.key),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["data"]["id"], id);

    for segment in ["%E2%82%AC", "%FF%FE", "%00", "a%2Fb"] {
        let reply = send(
            &stack,
            &get(&format!("/api/v1/dossiers/{segment}")).key(&org.key),
        )
        .await;
        assert_eq!(reply.status, 404, "{segment}");
        assert_eq!(assert_error_shape(&reply, segment), "not_found");
    }
}
