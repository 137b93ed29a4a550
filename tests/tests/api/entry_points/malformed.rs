//! Malformed input (non-UTF-8 bodies, non-ASCII headers, garbage) gets a 4xx, writes nothing.

use http::Method;
use integration_tests::gateway::{send, GatewayRequest};
use integration_tests::{growth_org, outbox, stack, Call};
use serde_json::{json, Value};

use super::{assert_error_shape, created, get, post, sales_dossier};

/// A body that is not UTF-8 under a JSON content type, whether API Gateway passes it as
/// base64 or as text with replacement characters, is a 400 in the error shape and writes
/// nothing.
#[tokio::test]
async fn a_json_body_that_is_not_utf8_is_a_400() {
    let org = growth_org().await;
    let stack = stack().await;
    let dossier = sales_dossier(&org, "Utf").await;
    let id = dossier["id"].as_str().unwrap();
    let events_before = outbox(org.id).await.len();
    let cases: [(Method, String, &[u8]); 4] = [
        (
            Method::POST,
            "/api/v1/dossiers".to_string(),
            b"{\"type\": \"sales\", \"name\": \"Beno\xeet\"}",
        ),
        (
            Method::PATCH,
            format!("/api/v1/dossiers/{id}"),
            b"{\"name\": \"Beno\xeet\"}",
        ),
        (
            Method::POST,
            "/api/v1/contacts".to_string(),
            b"{\"full_name\": \"Beno\xeet\"}",
        ),
        (
            Method::POST,
            format!("/api/v1/dossiers/{id}/notes"),
            b"{\"content\": \"caf\xe9\"}",
        ),
    ];
    let requests: Vec<GatewayRequest> = cases
        .iter()
        .map(|(method, path, body)| {
            GatewayRequest::new(method.clone(), path)
                .key(&org.key)
                .body("application/json; charset=utf-8", body.to_vec())
        })
        .collect();
    for request in &requests {
        let what = format!("{} {}", request.method, request.raw_path);
        assert_eq!(request.event()["isBase64Encoded"], true);
        let reply = send(&stack, request).await;
        assert_eq!(reply.status, 400, "{what}");
        assert_eq!(assert_error_shape(&reply, &what), "invalid_body");
    }
    assert_eq!(
        outbox(org.id).await.len(),
        events_before,
        "nothing was written"
    );

    // The same bytes as text, had API Gateway replaced what is not UTF-8: valid JSON with
    // U+FFFD in it, which gets the normal answer.
    for (request, (.., body)) in requests.iter().zip(cases) {
        let mut event = request.event();
        event["isBase64Encoded"] = json!(false);
        event["body"] = json!(String::from_utf8_lossy(body));
        let reply = integration_tests::gateway::invoke(
            &stack.router(integration_tests::function_for(&request.raw_path)),
            &event,
        )
        .await;
        assert!(
            reply.status.is_success(),
            "{} {}: {}",
            request.method,
            request.raw_path,
            String::from_utf8_lossy(&reply.body)
        );
    }
}

/// Header values with bytes outside ASCII (`User-Agent: Benoît` in ISO-8859-1) get the
/// normal answer where the header does not matter, and a 4xx in the spec's shape where it
/// must be ASCII.
#[tokio::test]
async fn header_bytes_outside_ascii_get_a_normal_answer_or_a_4xx() {
    let org = growth_org().await;
    let stack = stack().await;
    let benoit: &[u8] = b"Beno\xeet";

    let reply = send(
        &stack,
        &get("/api/v1/flows")
            .key(&org.key)
            .header("user-agent", benoit),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.json()["data"].is_array());

    let reply = send(
        &stack,
        &post("/api/v1/contacts")
            .key(&org.key)
            .header("idempotency-key", benoit)
            .body("application/json", r#"{"full_name": "Keyed"}"#),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        assert_error_shape(&reply, "Idempotency-Key"),
        "invalid_body"
    );

    let reply = send(
        &stack,
        &GatewayRequest::new(
            Method::DELETE,
            &format!("/api/v1/contacts/{}", uuid::Uuid::now_v7()),
        )
        .key(&org.key)
        .header("idempotency-key", b"\xe9t\xe9".to_vec()),
    )
    .await;
    assert_eq!(
        assert_error_shape(&reply, "DELETE with Idempotency-Key"),
        "invalid_body"
    );

    let mut authorization = b"Bearer ".to_vec();
    authorization.extend(org.key.as_bytes());
    authorization.extend(b"\xe9");
    let reply = send(
        &stack,
        &get("/api/v1/flows").header("authorization", authorization),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(assert_error_shape(&reply, "Authorization"), "unauthorized");

    let reply = send(
        &stack,
        &GatewayRequest::new(Method::PATCH, "/api/v1/contacts/x")
            .key(&org.key)
            .header("if-match", b"\"1\xe9\"".to_vec())
            .body("application/json", "{}"),
    )
    .await;
    assert!(reply.status.is_client_error());
    assert_error_shape(&reply, "If-Match");
    let listed = Call::get("/api/v1/contacts")
        .key(&org.key)
        .send(&stack.router("contacts"))
        .await;
    assert_eq!(listed.body["meta"]["total"], 0, "nothing was written");
}

/// A multipart form of `parts` (name, content type, bytes), closed or cut short.
fn form(boundary: &str, parts: &[(String, Option<&str>, Vec<u8>)], closed: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, content_type, value) in parts {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n")
                .as_bytes(),
        );
        if let Some(content_type) = content_type {
            body.extend(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend(b"\r\n");
        body.extend(value);
        body.extend(b"\r\n");
    }
    if closed {
        body.extend(format!("--{boundary}--\r\n").as_bytes());
    }
    body
}

/// Every body with one string field at a time replaced by text holding a NUL byte.
fn with_nul_in_each_string(base: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (field, value) in base.as_object().unwrap() {
        let poisoned = match value {
            Value::String(s) => json!(format!("{}\u{0}x", &s[..s.len() / 2])),
            Value::Array(items) => json!(items
                .iter()
                .map(|i| json!(format!("{}\u{0}", i.as_str().unwrap())))
                .collect::<Vec<_>>()),
            _ => continue,
        };
        let mut body = base.clone();
        body[field] = poisoned;
        out.push((field.clone(), body));
    }
    out
}

/// Malformed, hostile and oversized input through the real Lambda entry point: every
/// answer is a 4xx in the spec's error shape, and nothing is written.
#[tokio::test]
async fn a_garbage_corpus_gets_4xx_in_the_error_shape_and_writes_nothing() {
    let org = growth_org().await;
    let stack = stack().await;
    let dossier = sales_dossier(&org, "Target").await;
    let id = dossier["id"].as_str().unwrap().to_string();
    let contact = created(
        &org,
        post("/api/v1/contacts").body("application/json", r#"{"full_name": "Target Person"}"#),
    )
    .await;
    let contact_id = contact["id"].as_str().unwrap().to_string();
    let snapshot = |path: String| {
        let (stack, key) = (stack.clone(), org.key.clone());
        async move { send(&stack, &get(&path).key(&key)).await.json() }
    };
    let before = (
        outbox(org.id).await.len(),
        snapshot(format!("/api/v1/dossiers/{id}")).await,
        snapshot(format!("/api/v1/contacts/{contact_id}")).await,
        snapshot("/api/v1/dossiers".into()).await["meta"]["total"].clone(),
        snapshot("/api/v1/contacts".into()).await["meta"]["total"].clone(),
    );
    let json_type = "application/json";
    let mut corpus: Vec<(String, GatewayRequest)> = Vec::new();
    let mut add = |what: &str, request: GatewayRequest| corpus.push((what.to_string(), request));

    // Bodies that are not UTF-8, under JSON and text types.
    let latin1 = b"{\"type\": \"sales\", \"name\": \"Beno\xeet\"}".to_vec();
    add(
        "non-UTF-8 JSON",
        post("/api/v1/dossiers").body(json_type, latin1.clone()),
    );
    add(
        "non-UTF-8 text/plain",
        post("/api/v1/dossiers").body("text/plain", latin1.clone()),
    );
    add(
        "non-UTF-8 note",
        post(&format!("/api/v1/dossiers/{id}/notes"))
            .body(json_type, b"{\"content\": \"\xff\xfe\"}".to_vec()),
    );

    // Truncated and nested multipart, and 10,000 parts.
    let multipart = |b: &str| format!("multipart/form-data; boundary={b}");
    let fields = |pairs: &[(&str, &str)]| -> Vec<(String, Option<&'static str>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), None, v.as_bytes().to_vec()))
            .collect()
    };
    let whole = form("b0", &fields(&[("type", "sales"), ("name", "Cut")]), true);
    add(
        "truncated multipart",
        post("/api/v1/dossiers").body(&multipart("b0"), whole[..whole.len() - 30].to_vec()),
    );
    add(
        "multipart without its closing delimiter",
        post("/api/v1/dossiers").body(
            &multipart("b0"),
            form("b0", &fields(&[("type", "sales"), ("name", "Open")]), false),
        ),
    );
    let inner = form(
        "inner",
        &fields(&[("type", "sales"), ("name", "Inner")]),
        true,
    );
    add(
        "nested multipart",
        post("/api/v1/dossiers").body(
            &multipart("outer"),
            form(
                "outer",
                &[
                    ("type".into(), None, b"sales".to_vec()),
                    (
                        "name".into(),
                        Some("multipart/mixed; boundary=inner"),
                        inner,
                    ),
                ],
                true,
            ),
        ),
    );
    let many: Vec<_> = (0..10_000)
        .map(|i| (format!("f{i}"), None, b"x".to_vec()))
        .collect();
    add(
        "10,000 distinct parts",
        post("/api/v1/dossiers").body(&multipart("many"), form("many", &many, true)),
    );
    let same: Vec<_> = (0..10_000)
        .map(|_| ("name".to_string(), None, b"x".to_vec()))
        .collect();
    add(
        "10,000 parts of one field",
        post("/api/v1/dossiers").body(&multipart("same"), form("same", &same, true)),
    );
    add(
        "a multipart CV upload of 10,000 parts",
        post(&format!("/api/v1/dossiers/{id}/cv")).body(&multipart("cv"), form("cv", &many, true)),
    );

    // Headers larger than 8 KiB.
    let huge = "a".repeat(9 * 1024);
    let valid = json!({"type": "sales", "name": "Headers"}).to_string();
    add(
        "9 KiB Authorization",
        GatewayRequest::new(Method::POST, "/api/v1/dossiers")
            .header("authorization", format!("Bearer lg_live_{huge}"))
            .body(json_type, valid.clone()),
    );
    add(
        "9 KiB Idempotency-Key",
        post("/api/v1/dossiers")
            .header("idempotency-key", huge.clone())
            .body(json_type, valid.clone()),
    );
    add(
        "9 KiB Content-Type",
        post("/api/v1/dossiers").body(&format!("application/{huge}"), valid.clone()),
    );
    add(
        "9 KiB If-Match",
        GatewayRequest::new(Method::PATCH, &format!("/api/v1/dossiers/{id}"))
            .header("if-match", format!("\"{huge}\""))
            .body(json_type, r#"{"name": "Changed"}"#),
    );

    // Deep nesting and huge arrays.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    add(
        "JSON nested 10,000 deep",
        post("/api/v1/dossiers").body(json_type, deep.clone()),
    );
    add(
        "a field nested 10,000 deep",
        post("/api/v1/contacts").body(json_type, format!(r#"{{"full_name": {deep}}}"#)),
    );
    let zeros = format!("[{}0]", "0,".repeat(99_999));
    add(
        "a top-level array of 100,000",
        post("/api/v1/contacts").body(json_type, zeros.clone()),
    );
    add(
        "a name of 100,000 elements",
        post("/api/v1/dossiers").body(
            json_type,
            format!(r#"{{"type": "sales", "name": {zeros}}}"#),
        ),
    );
    let kinds = format!("[{}\"candidate\"]", "\"candidate\",".repeat(99_999));
    add(
        "100,000 kinds",
        post("/api/v1/contacts").body(
            json_type,
            format!(r#"{{"full_name": "Many", "kind": {kinds}}}"#),
        ),
    );
    add(
        "100,000 kinds on PATCH",
        GatewayRequest::new(Method::PATCH, &format!("/api/v1/contacts/{contact_id}"))
            .body(json_type, format!(r#"{{"kind": {kinds}}}"#)),
    );

    // A NUL byte in every string field of every write.
    let writes = [
        (
            Method::POST,
            "/api/v1/dossiers".to_string(),
            json!({"type": "sales", "name": "Nul", "email": "nul@example.com", "phone": "+31 6 1234", "company": "Acme", "role": "CTO", "contact_person": "Ann Nul", "deal_currency": "EUR", "intake_notes": "Notes"}),
        ),
        (
            Method::POST,
            "/api/v1/dossiers".to_string(),
            json!({"type": "candidate", "name": "Cand Nul", "email": "cand@example.com"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/dossiers/{id}"),
            json!({"name": "Nul", "email": "nul@example.com", "phone": "+31", "company": "Acme", "role": "CTO", "contact_person": "Ann", "deal_currency": "EUR", "intake_notes": "Notes", "status": "won"}),
        ),
        (
            Method::POST,
            "/api/v1/contacts".to_string(),
            json!({"full_name": "Nul", "email": "nul2@example.com", "phone": "+31", "linkedin_url": "https://www.linkedin.com/in/nul", "company": "Acme", "role": "CTO", "city": "Utrecht", "notes": "Notes", "kind": ["candidate"], "pool_expires_at": "2030-01-01T00:00:00Z"}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/contacts/{contact_id}"),
            json!({"full_name": "Nul", "email": "nul3@example.com", "phone": "+31", "linkedin_url": "https://www.linkedin.com/in/nul", "company": "Acme", "role": "CTO", "city": "Utrecht", "notes": "Notes", "kind": ["client"]}),
        ),
        (
            Method::POST,
            format!("/api/v1/dossiers/{id}/notes"),
            json!({"content": "A note"}),
        ),
        (
            Method::POST,
            format!("/api/v1/dossiers/{id}/contacts"),
            json!({"contact_id": contact_id, "role_on_dossier": "champion"}),
        ),
    ];
    for (method, path, base) in &writes {
        for (field, body) in with_nul_in_each_string(base) {
            add(
                &format!("{method} {path} with NUL in `{field}`"),
                GatewayRequest::new(method.clone(), path).body(json_type, body.to_string()),
            );
        }
    }
    let nul_form = form(
        "nul",
        &fields(&[("type", "sales"), ("name", "Nul\u{0}Form")]),
        true,
    );
    add(
        "multipart with NUL in `name`",
        post("/api/v1/dossiers").body(&multipart("nul"), nul_form),
    );

    // Over-long path segments, as long as API Gateway passes on: it answers a request line
    // and headers over 10,240 bytes itself, before any function runs.
    let long = "a".repeat(9_000);
    for path in [
        format!("/api/v1/dossiers/{long}"),
        format!("/api/v1/contacts/{long}"),
        format!("/api/v1/dossiers/{long}/notes"),
        format!("/api/v1/dossiers/{id}/contacts/{long}"),
        format!("/api/v1/{long}"),
    ] {
        add(&format!("GET a {}-byte path", path.len()), get(&path));
        add(
            &format!("DELETE a {}-byte path", path.len()),
            GatewayRequest::new(Method::DELETE, &path),
        );
    }

    assert!(corpus.len() > 60, "{}", corpus.len());
    for (what, request) in corpus {
        let request = if request.headers.iter().any(|(n, _)| n == "authorization") {
            request
        } else {
            request.key(&org.key)
        };
        let reply = send(&stack, &request).await;
        let code = assert_error_shape(&reply, &what);
        assert!(!code.is_empty() && code != "internal", "{what}: {code}");
    }
    let after = (
        outbox(org.id).await.len(),
        snapshot(format!("/api/v1/dossiers/{id}")).await,
        snapshot(format!("/api/v1/contacts/{contact_id}")).await,
        snapshot("/api/v1/dossiers".into()).await["meta"]["total"].clone(),
        snapshot("/api/v1/contacts".into()).await["meta"]["total"].clone(),
    );
    assert_eq!(after, before, "nothing was written");
}
