//! The OpenAPI document against the running API: property-based fuzzing with schemathesis,
//! and a negative pass of bad keys, scopes, bodies and content types on every operation.

use std::collections::BTreeSet;

use http::Method;
use integration_tests::{growth_org, org_with, Call};
use serde_json::Value;
use shared::auth::Scope;
use shared::orgs::Plan;

fn document() -> Value {
    serde_json::from_str(flows::OPENAPI_JSON).unwrap()
}

/// Bounded to 15 examples per operation and 120 s. Its two standing warnings are expected:
/// `GET /dossiers/{id}/cv` and `POST …/cv/complete` mostly answer 404 because generated
/// dossiers have no CV and generated upload ids name no upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failures() {
    let org = growth_org().await;
    let base = integration_tests::serve_api().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let report = std::env::temp_dir().join(format!("schemathesis-{}", org.id));
    let out = tokio::process::Command::new(root.join(".venv/bin/schemathesis"))
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .args(["run", &format!("{base}/openapi.json"), "--url", &base])
        .args(["--header", &format!("Authorization: Bearer {}", org.key)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", "15", "--max-time", "120", "--seed", "20261126"])
        .args(["--rate-limit", "auto", "--max-redirects", "0", "--request-timeout", "20"])
        .args(["--no-color", "--generation-database", "none"])
        .arg("--report-dir")
        .arg(&report)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run schemathesis (installed by `make setup`)");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        out.status.success(),
        "schemathesis failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An operation of the document, with its path's ids filled in.
struct Operation {
    method: Method,
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
                path: concrete,
                scopes,
                documented: statuses,
                json_body,
            });
        }
    }
    operations
}

#[tokio::test]
async fn bad_requests_get_a_documented_4xx_on_every_operation() {
    let org = growth_org().await;
    let stack = integration_tests::stack().await;
    let operations = operations();
    assert!(operations.len() >= 20, "{}", operations.len());
    let mut sent = 0;
    for Operation {
        method,
        path,
        scopes,
        documented,
        json_body,
    } in operations
    {
        let router = stack.router(integration_tests::function_for(&path));
        // A key whose only scope is one this operation does not need.
        let other_scope = Scope::ALL
            .into_iter()
            .find(|s| !scopes.contains(&s.as_str().to_string()))
            .unwrap();
        let unscoped = org.key_with(&[other_scope]).await;
        let mut cases: Vec<(&str, Call)> = vec![
            ("no key", Call::new(method.clone(), &path)),
            (
                "a malformed key",
                Call::new(method.clone(), &path).key("lg_live_not-a-key"),
            ),
            (
                "an unknown key",
                Call::new(method.clone(), &path)
                    .key(&shared::auth::generate_key(org.id, b"another pepper").plaintext),
            ),
            (
                "a key without the scope",
                Call::new(method.clone(), &path).key(&unscoped),
            ),
        ];
        if json_body {
            let oversized = vec![b' '; 11 * 1024 * 1024];
            cases.extend([
                (
                    "an oversized body",
                    Call::new(method.clone(), &path)
                        .key(&org.key)
                        .raw("application/json", oversized),
                ),
                (
                    "a wrong content type",
                    Call::new(method.clone(), &path)
                        .key(&org.key)
                        .raw("text/plain", b"hello".to_vec()),
                ),
                (
                    "no content type",
                    Call::new(method.clone(), &path)
                        .key(&org.key)
                        .raw("", b"{}".to_vec()),
                ),
                (
                    "malformed JSON",
                    Call::new(method.clone(), &path)
                        .key(&org.key)
                        .raw("application/json", b"{\"name\": ".to_vec()),
                ),
                (
                    "a JSON array",
                    Call::new(method.clone(), &path)
                        .key(&org.key)
                        .raw("application/json", b"[]".to_vec()),
                ),
                (
                    "invalid UTF-8",
                    Call::new(method.clone(), &path)
                        .key(&org.key)
                        .raw("application/json", vec![b'{', 0xff, b'}']),
                ),
            ]);
        }
        for (what, call) in cases {
            let reply = call.send(&router).await;
            let status = reply.status.as_u16();
            sent += 1;
            assert!(
                (400..500).contains(&status) && documented.contains(&status),
                "{method} {path} with {what}: {status} is not a documented 4xx ({documented:?}): {}",
                reply.body
            );
            assert!(
                reply.body["error"]["code"].is_string(),
                "{method} {path} with {what}: {}",
                reply.body
            );
        }
    }
    println!("negative pass: {sent} requests, every one a documented 4xx");
}

#[tokio::test]
async fn a_plan_without_api_access_is_402_everywhere() {
    let org = org_with(Plan::Pro, &Scope::ALL).await;
    let stack = integration_tests::stack().await;
    for Operation {
        method,
        path,
        documented,
        ..
    } in operations()
    {
        let reply = Call::new(method.clone(), &path)
            .key(&org.key)
            .send(&stack.router(integration_tests::function_for(&path)))
            .await;
        assert_eq!(reply.status, 402, "{method} {path}");
        assert!(documented.contains(&402));
    }
}
