//! CV uploads: create-and-attach in one call with rollback, replace, download, limits.

use integration_tests::{dossiers_router, growth_org, outbox, post, stack, Call, TestOrg};
use serde_json::{json, Value};
use shared::cv::MAX_CV_BYTES;
use shared::web::DIRECT_UPLOAD_MAX_BYTES;

const BOUNDARY: &str = "leadgridtestboundary";

fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.resize(size, b'a');
    bytes
}

fn form(fields: &[(&str, &str)], cv: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    if let Some(cv) = cv {
        body.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"resume.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
        body.extend(cv);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn multipart(path: &str, key: &str, body: Vec<u8>) -> Call {
    post(path)
        .key(key)
        .raw(&format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

async fn stored(key: &str) -> Option<Vec<u8>> {
    stack().await.stored_cv(key).await
}

async fn total(org: &TestOrg) -> u64 {
    let reply = Call::get("/api/v1/dossiers")
        .key(&org.key)
        .send(&dossiers_router().await)
        .await;
    reply.body["meta"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn the_specs_multipart_example_creates_and_attaches_in_one_call() {
    let org = growth_org().await;
    let cv = pdf(2048);
    let body = form(
        &[
            ("type", "candidate"),
            ("name", "Sophie van Dijk"),
            ("role", "Senior Frontend Engineer"),
            ("email", "sophie@example.com"),
        ],
        Some(&cv),
    );
    let reply = multipart("/api/v1/dossiers", &org.key, body)
        .send(&dossiers_router().await)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let dossier = &reply.body["data"];
    let id = dossier["id"].as_str().unwrap();
    let key = format!("{}/dossiers/{id}/cv.pdf", org.id);
    assert_eq!(dossier["cv_url"], key.as_str());
    assert_eq!(dossier["role"], "Senior Frontend Engineer");
    assert_eq!(stored(&key).await.as_deref(), Some(&cv[..]));
    let events = outbox(org.id).await;
    let created = events
        .iter()
        .find(|e| e.kind.as_str() == "dossier.created")
        .unwrap();
    assert_eq!(created.data["cv_url"], key.as_str());

    // Without a file, multipart is a plain create; numbers arrive as text.
    let body = form(
        &[
            ("type", "sales"),
            ("name", "KLM"),
            ("deal_size", "62000"),
            ("deal_currency", "EUR"),
        ],
        None,
    );
    let reply = multipart("/api/v1/dossiers", &org.key, body)
        .send(&dossiers_router().await)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["data"]["deal_size"], 62000);
    assert_eq!(reply.body["data"]["cv_url"], Value::Null);
}

#[tokio::test]
async fn bad_multipart_creates_change_nothing() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (
            form(
                &[("type", "candidate"), ("name", "A")],
                Some(b"GIF89a not a pdf"),
            ),
            415,
        ),
        (
            form(
                &[("type", "candidate"), ("name", "A")],
                Some(&pdf(DIRECT_UPLOAD_MAX_BYTES + 1)),
            ),
            413,
        ),
        (form(&[("type", "candidate")], Some(&pdf(100))), 400),
        (
            form(
                &[("type", "candidate"), ("name", "A"), ("colour", "red")],
                Some(&pdf(100)),
            ),
            400,
        ),
        (
            form(
                &[("type", "sales"), ("name", "A"), ("deal_size", "lots")],
                None,
            ),
            400,
        ),
        (b"--leadgridtestboundary\r\nbroken".to_vec(), 400),
    ];
    for (body, status) in cases {
        let reply = multipart("/api/v1/dossiers", &org.key, body)
            .send(&router)
            .await;
        assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
        assert!(reply.body["error"]["code"].is_string());
    }
    assert_eq!(total(&org).await, 0);
    assert!(outbox(org.id).await.is_empty());
}

#[tokio::test]
async fn a_cv_that_cannot_be_stored_leaves_no_dossier_contact_or_event() {
    let org = growth_org().await;
    let stack = stack().await;
    let mut broken = stack.cvs();
    broken.bucket = format!("missing-bucket-{}", uuid::Uuid::now_v7().simple());
    let router = dossiers::router(stack.core(), broken);
    let body = form(
        &[
            ("type", "candidate"),
            ("name", "Ann"),
            ("email", "ann@example.com"),
        ],
        Some(&pdf(1000)),
    );
    let reply = multipart("/api/v1/dossiers", &org.key, body)
        .send(&router)
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (500, "internal")
    );
    assert_eq!(total(&org).await, 0);
    assert!(outbox(org.id).await.is_empty());
    let db = stack.core().db;
    assert!(
        shared::domain::contacts::find_by_email(&db, org.id, "ann@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_failed_write_after_the_upload_removes_the_stored_cv() {
    let org = growth_org().await;
    let stack = stack().await;
    let db = stack.core().db;
    // A contact the create will link to, deleted between validation and the write.
    let existing = integration_tests::post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "candidate", "name": "Bo", "email": "bo@example.com"}))
        .send(&dossiers_router().await)
        .await;
    let contact_id: uuid::Uuid = existing.body["data"]["primary_contact_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let input: shared::domain::dossiers::CreateDossier = serde_json::from_value(
        json!({"type": "candidate", "name": "Bo", "contact_id": contact_id}),
    )
    .unwrap();
    let prepared = shared::domain::dossiers::prepare(&db, org.id, input, shared::clock::now())
        .await
        .unwrap();
    let key = shared::cv::key(org.id, prepared.id());
    stack
        .dynamodb()
        .delete_item()
        .table_name(&stack.config.table_name)
        .key("PK", shared::table::store::s(format!("ORG#{}", org.id)))
        .key(
            "SK",
            shared::table::store::s(shared::domain::contacts::contact_sk(contact_id)),
        )
        .send()
        .await
        .unwrap();
    let cvs = stack.cvs_of_dossiers();
    let events = outbox(org.id).await.len();
    let result =
        shared::domain::dossiers::create_with_cv(&db, &cvs, org.id, prepared, pdf(500)).await;
    assert!(result.is_err());
    assert_eq!(stored(&key).await, None, "no orphan CV in S3");
    assert_eq!(total(&org).await, 1);
    assert_eq!(outbox(org.id).await.len(), events, "no event either");
}

#[tokio::test]
async fn cv_uploads_replace_accept_exactly_10_mib_and_refuse_one_byte_more() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let created = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "candidate", "name": "Cy"}))
        .send(&router)
        .await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/dossiers/{id}/cv");
    let key = format!("{}/dossiers/{id}/cv.pdf", org.id);

    let raw = post(&path)
        .key(&org.key)
        .raw("application/pdf", pdf(DIRECT_UPLOAD_MAX_BYTES))
        .send(&router)
        .await;
    assert_eq!(raw.status, 200, "{}", raw.body);
    assert_eq!(raw.body, json!({"data": {"id": id, "cv_url": key}}));
    assert_eq!(stored(&key).await.unwrap().len(), DIRECT_UPLOAD_MAX_BYTES);

    let replacement = pdf(1234);
    let multi = multipart(&path, &org.key, form(&[], Some(&replacement)))
        .send(&router)
        .await;
    assert_eq!(multi.status, 200, "{}", multi.body);
    assert_eq!(stored(&key).await.unwrap(), replacement);
    let types: Vec<&str> = outbox(org.id)
        .await
        .iter()
        .map(|e| e.kind.as_str())
        .filter(|kind| kind.starts_with("dossier."))
        .collect();
    assert_eq!(
        types,
        ["dossier.created", "dossier.updated", "dossier.updated"]
    );

    let over = post(&path)
        .key(&org.key)
        .raw("application/pdf", pdf(DIRECT_UPLOAD_MAX_BYTES + 1))
        .send(&router)
        .await;
    assert_eq!(
        (over.status.as_u16(), over.error_code()),
        (413, "payload_too_large")
    );
    let over = multipart(
        &path,
        &org.key,
        form(&[], Some(&pdf(DIRECT_UPLOAD_MAX_BYTES + 1))),
    )
    .send(&router)
    .await;
    assert_eq!(
        (over.status.as_u16(), over.error_code()),
        (413, "payload_too_large")
    );
    assert!(
        over.body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("with POST /api/v1/dossiers/{id}/cv/upload."),
        "{}",
        over.body
    );
    // Past every body limit, with or without an Idempotency-Key (which reads the body
    // first, to fingerprint it), a CV is still pointed to the upload.
    let huge = shared::web::MAX_REQUEST_BYTES + 1;
    for (what, call) in [
        (
            "raw",
            post(&path).key(&org.key).raw("application/pdf", pdf(huge)),
        ),
        (
            "raw, keyed",
            post(&path)
                .key(&org.key)
                .header("idempotency-key", "huge-cv")
                .raw("application/pdf", pdf(huge)),
        ),
        (
            "form",
            multipart(&path, &org.key, form(&[], Some(&pdf(huge)))),
        ),
        (
            "form, keyed",
            multipart(&path, &org.key, form(&[], Some(&pdf(huge))))
                .header("idempotency-key", "huge-form"),
        ),
    ] {
        let over = call.send(&router).await;
        assert_eq!(over.status, 413, "{what}: {}", over.body);
        assert!(
            over.body["error"]["message"]
                .as_str()
                .unwrap()
                .ends_with("cv/upload."),
            "{what}: {}",
            over.body
        );
    }
    let exact = multipart(
        &path,
        &org.key,
        form(&[], Some(&pdf(DIRECT_UPLOAD_MAX_BYTES))),
    )
    .send(&router)
    .await;
    assert_eq!(exact.status, 200);
    let not_pdf = post(&path)
        .key(&org.key)
        .raw("application/pdf", b"<html>".to_vec())
        .send(&router)
        .await;
    assert_eq!(not_pdf.status, 415);
    let wrong_type = post(&path)
        .key(&org.key)
        .raw("image/png", pdf(10))
        .send(&router)
        .await;
    assert_eq!(wrong_type.status, 415);
    let missing = post(&format!("/api/v1/dossiers/{}/cv", uuid::Uuid::now_v7()))
        .key(&org.key)
        .raw("application/pdf", pdf(10))
        .send(&router)
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn download_redirects_to_a_short_lived_link() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let created = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "candidate", "name": "Di"}))
        .send(&router)
        .await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/dossiers/{id}/cv");
    let none = Call::get(&path).key(&org.key).send(&router).await;
    assert_eq!(
        (none.status.as_u16(), none.error_code()),
        (404, "not_found")
    );
    let cv = pdf(4321);
    post(&path)
        .key(&org.key)
        .raw("application/pdf", cv.clone())
        .send(&router)
        .await;
    let reply = Call::get(&path).key(&org.key).send(&router).await;
    assert_eq!(reply.status, 302);
    let link = reply.header("location").unwrap();
    assert!(link.contains("X-Amz-Expires=900"), "{link}");
    let fetched = reqwest::get(link).await.unwrap().bytes().await.unwrap();
    assert_eq!(fetched.to_vec(), cv);
}

async fn start_upload(org: &TestOrg, id: &str, size: usize) -> integration_tests::Reply {
    post(&format!("/api/v1/dossiers/{id}/cv/upload"))
        .key(&org.key)
        .json(&json!({ "size": size }))
        .send(&dossiers_router().await)
        .await
}

async fn put_to(upload: &Value, bytes: Vec<u8>) -> u16 {
    let mut request = reqwest::Client::new()
        .put(upload["url"].as_str().unwrap())
        .body(bytes);
    for (name, value) in upload["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn presigned_uploads_are_checked_before_they_are_attached() {
    let org = growth_org().await;
    let router = dossiers_router().await;
    let created = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "candidate", "name": "Ed"}))
        .send(&router)
        .await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let complete = format!("/api/v1/dossiers/{id}/cv/complete");

    let cv = pdf(300_000);
    let reply = start_upload(&org, &id, cv.len()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let upload = reply.body["data"].clone();
    assert_eq!(upload["method"], "PUT");
    assert!(upload["url"]
        .as_str()
        .unwrap()
        .contains("X-Amz-Expires=900"));
    assert_eq!(put_to(&upload, cv.clone()).await, 200);
    let done = post(&complete)
        .key(&org.key)
        .json(&json!({"upload_id": upload["upload_id"]}))
        .send(&router)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let key = format!("{}/dossiers/{id}/cv.pdf", org.id);
    assert_eq!(done.body["data"]["cv_url"], key.as_str());
    assert_eq!(stored(&key).await.unwrap(), cv);
    let again = post(&complete)
        .key(&org.key)
        .json(&json!({"upload_id": upload["upload_id"]}))
        .send(&router)
        .await;
    assert_eq!(again.status, 400, "an upload is attached once");

    let fake = b"MZ not a pdf".to_vec();
    let upload = start_upload(&org, &id, fake.len()).await.body["data"].clone();
    assert_eq!(put_to(&upload, fake).await, 200);
    let refused = post(&complete)
        .key(&org.key)
        .json(&json!({"upload_id": upload["upload_id"]}))
        .send(&router)
        .await;
    assert_eq!(refused.status, 415);
    assert_eq!(
        stored(&key).await.unwrap(),
        cv,
        "the attached CV is untouched"
    );

    assert_eq!(start_upload(&org, &id, MAX_CV_BYTES + 1).await.status, 413);
    assert_eq!(start_upload(&org, &id, 0).await.status, 400);
    assert_eq!(
        start_upload(&org, &uuid::Uuid::now_v7().to_string(), 10)
            .await
            .status,
        404
    );
    let unknown = post(&complete)
        .key(&org.key)
        .json(&json!({"upload_id": uuid::Uuid::now_v7()}))
        .send(&router)
        .await;
    assert_eq!(unknown.status, 400);
}
