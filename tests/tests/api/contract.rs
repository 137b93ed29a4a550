//! The OpenAPI document against the running API: property-based fuzzing with schemathesis,
//! and a negative pass of bad keys, scopes, bodies and content types on every operation.

use std::collections::BTreeSet;

use http::Method;
use integration_tests::{growth_org, org_with, Call};
use serde_json::Value;
use shared::domain::orgs::Plan;
use shared::web::auth::Scope;

fn document() -> Value {
    serde_json::from_str(flows::OPENAPI_JSON).unwrap()
}

/// Enough keys that none nears the 600-per-minute limit: the run sends up to about 8,000
/// requests a minute, some 125 per key.
const CONTRACT_KEYS: usize = 64;

/// Bounded to 15 examples per operation and 120 s, through API Gateway's events and the
/// functions' Lambda entry points ([`integration_tests::serve_api`]). The hooks in
/// `tests/contract/schemathesis_hooks.py` generate raw PDF bodies, spread requests over
/// [`CONTRACT_KEYS`] keys and log every response. Its two standing warnings are expected:
/// `GET /dossiers/{id}/cv` and `POST …/cv/complete` mostly answer 404 because generated
/// dossiers have no CV and generated upload ids name no upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failures() {
    let org = growth_org().await;
    let mut keys = vec![org.key.clone()];
    for _ in 1..CONTRACT_KEYS {
        keys.push(org.key_with(&Scope::ALL).await);
    }
    let base = integration_tests::serve_api().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let report = std::env::temp_dir().join(format!("schemathesis-{}", org.id));
    std::fs::create_dir_all(&report).unwrap();
    let log = report.join("responses.jsonl");
    let out = tokio::process::Command::new(root.join(".venv/bin/schemathesis"))
        .current_dir(&report)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env(
            "SCHEMATHESIS_HOOKS",
            root.join("tests/contract/schemathesis_hooks.py"),
        )
        .env("LEADGRID_CONTRACT_KEYS", keys.join(","))
        .env("LEADGRID_CONTRACT_LOG", &log)
        .args(["run", &format!("{base}/openapi.json"), "--url", &base])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", "15", "--max-time", "120", "--seed", "20261126"])
        .args(["--max-redirects", "0", "--request-timeout", "20"])
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
    let summary = text
        .lines()
        .rev()
        .find(|line| line.contains(" generated"))
        .unwrap_or_else(|| panic!("no summary line in:\n{text}"));
    assert!(!summary.contains("errored"), "{summary}");
    assert!(!summary.contains("skipped"), "{summary}");
    let count = |label: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(|rest| rest.trim().to_string())
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{text}"))
    };
    let selected = count("Selected:");
    let (selected, total) = selected.split_once('/').unwrap_or((&selected, ""));
    assert_eq!(
        (selected, total),
        (count("Tested:").as_str(), selected),
        "every operation is selected and tested"
    );
    assert!(!text.contains("Rate limited"), "the run waited on a 429");

    let responses: Vec<Value> = std::fs::read_to_string(&log)
        .expect("the hooks logged responses")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let statuses = |operation: &str| -> BTreeSet<u64> {
        responses
            .iter()
            .filter(|r| r["operation"] == operation)
            .map(|r| r["status"].as_u64().unwrap())
            .collect()
    };
    let tested: BTreeSet<String> = responses
        .iter()
        .map(|r| r["operation"].as_str().unwrap().to_string())
        .collect();
    let documented: BTreeSet<String> = operations()
        .iter()
        .map(|op| format!("{} {}", op.method, op.template))
        .collect();
    assert_eq!(
        documented.difference(&tested).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "operations schemathesis never called"
    );
    // The key's limit never answers; the per-endpoint limit on test pings may, since the
    // stateful phase pings the endpoints it creates again and again.
    let limited: Vec<&Value> = responses.iter().filter(|r| r["status"] == 429).collect();
    assert!(
        limited
            .iter()
            .all(|r| r["operation"] == "POST /webhook_endpoints/{id}/test"
                && r["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("At most 5 test pings a minute per endpoint."))),
        "no request may be rate limited but by the test-ping limit: {limited:?}"
    );
    let pdf_bodies = |magic: bool| {
        responses
            .iter()
            .filter(|r| {
                r["operation"] == "POST /dossiers/{id}/cv"
                    && r["media_type"] == "application/pdf"
                    && r["raw_bytes"] == true
                    && r["pdf_magic"] == magic
            })
            .count()
    };
    let (arbitrary, pdf_like) = (pdf_bodies(false), pdf_bodies(true));
    let report = format!(
        "schemathesis: {}; operations {selected}/{total} tested; {} responses over {CONTRACT_KEYS} keys, none limited by a key's rate, {} by the test-ping limit; raw PDF bodies: {arbitrary} arbitrary, {pdf_like} opening with %PDF-; POST /dossiers/{{id}}/cv answered {:?}\n",
        summary.trim(),
        responses.len(),
        limited.len(),
        statuses("POST /dossiers/{id}/cv"),
    );
    print!("{report}");
    // `make test` prints this after the run, where a passing test's output is hidden.
    std::fs::write(root.join("target/schemathesis-summary.txt"), &report).unwrap();
    assert!(arbitrary > 0 && pdf_like > 0);
}

/// A TypeScript client generated from the document the API serves (openapi-typescript),
/// type-checked with `tsc --noEmit` under strict settings, then run with openapi-fetch
/// against the API: create with an Idempotency-Key, get, PATCH with If-Match (and a stale
/// one refused), a 400 naming its field, a contact, a link, a note, a multipart create with
/// a CV, and cursor paging. `tests/typescript/round_trip.ts` also holds type-level checks
/// that fail `tsc` when the document loses a required field, a declared header or a field
/// of a form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_typescript_client_round_trips() {
    let org = growth_org().await;
    let base = integration_tests::serve_api().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Inside the repository, so that Node finds node_modules/ by walking up.
    let dir = root.join(format!("target/typescript-client/{}", org.id));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["round_trip.ts", "tsconfig.json", "package.json"] {
        std::fs::copy(root.join("tests/typescript").join(file), dir.join(file)).unwrap();
    }
    let bin = |name: &str| root.join("node_modules/.bin").join(name);
    let run = |program: std::path::PathBuf, args: Vec<String>| async move {
        let out = tokio::process::Command::new(&program)
            .args(&args)
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output()
            .await
            .unwrap_or_else(|err| {
                panic!("{} ({err}); `make setup` installs it", program.display())
            });
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{} {args:?}:\n{text}",
            program.display()
        );
        text
    };
    let schema = dir.join("schema.d.ts");
    run(
        bin("openapi-typescript"),
        vec![
            format!("{base}/openapi.json"),
            "-o".into(),
            schema.display().to_string(),
        ],
    )
    .await;
    // Every operation's request samples: the TypeScript ones are type-checked with the
    // round trip (against the same generated types, as `leadgrid.d.ts`, the name they
    // import), the Python ones compiled, the shell ones parsed.
    std::fs::copy(&schema, dir.join("leadgrid.d.ts")).unwrap();
    let document: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut samples = 0;
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            let by_lang: Vec<(&str, &str)> = operation["x-codeSamples"]
                .as_array()
                .unwrap_or_else(|| panic!("{id} has request samples"))
                .iter()
                .map(|s| (s["lang"].as_str().unwrap(), s["source"].as_str().unwrap()))
                .collect();
            let langs: Vec<&str> = by_lang.iter().map(|(lang, _)| *lang).collect();
            assert_eq!(langs, ["Shell", "TypeScript", "Python"], "{id}");
            for (lang, source) in by_lang {
                let file = match lang {
                    "Shell" => format!("sample_{id}.sh"),
                    "TypeScript" => format!("sample_{id}.ts"),
                    _ => format!("sample_{id}.py"),
                };
                std::fs::write(dir.join(file), source).unwrap();
            }
            samples += 1;
        }
    }
    assert!(samples >= 30, "{samples} operations with samples");
    run(
        bin("tsc"),
        vec!["-p".into(), dir.join("tsconfig.json").display().to_string()],
    )
    .await;
    let python = root.join(".venv/bin/python");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("py") => {
                run(
                    python.clone(),
                    vec!["-m".into(), "py_compile".into(), path.display().to_string()],
                )
                .await;
            }
            Some("sh") => {
                run("bash".into(), vec!["-n".into(), path.display().to_string()]).await;
            }
            _ => {}
        }
    }
    // Some samples as they are, against the API: what a reader pastes works.
    for id in [
        "listFlows",
        "createContact",
        "createDossier",
        "listDossiers",
    ] {
        let out = tokio::process::Command::new(&python)
            .arg(dir.join(format!("sample_{id}.py")))
            .env("LEADGRID_API", &base)
            .env("LEADGRID_KEY", &org.key)
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && (text.starts_with("200 ") || text.starts_with("201 ")),
            "the Python sample of {id}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(
        bin("tsx"),
        vec![
            dir.join("round_trip.ts").display().to_string(),
            base.clone(),
            org.key.clone(),
        ],
    )
    .await;
    let summary: Value = serde_json::from_str(out.trim().lines().last().unwrap())
        .unwrap_or_else(|_| panic!("the round trip's last line is its summary:\n{out}"));
    assert!(summary["pages"].as_u64().unwrap() >= 2, "{summary}");
    std::fs::remove_dir_all(&dir).ok();
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
        ..
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
                    .key(&shared::web::auth::generate_key(org.id).plaintext),
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

/// Holes a client generator sees and a validator does not: a key the YAML parser made out
/// of an unquoted description (its value null), a multipart schema that refuses its own
/// `cv` (an `allOf` with `additionalProperties: false`), a `required` that lives only in
/// an `allOf` branch.
#[test]
fn the_document_holds_no_shapes_that_generators_misread() {
    fn nulls(value: &Value, path: &str, found: &mut Vec<String>) {
        match value {
            Value::Null => found.push(path.to_string()),
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| nulls(v, &format!("{path}/{k}"), found)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| nulls(v, &format!("{path}/{i}"), found)),
            _ => {}
        }
    }
    let document = document();
    let mut found = Vec::new();
    nulls(&document, "", &mut found);
    assert!(found.is_empty(), "null values (unquoted text?): {found:?}");

    let schemas = &document["components"]["schemas"];
    let create = &document["paths"]["/dossiers"]["post"]["requestBody"]["content"];
    assert_eq!(
        create["multipart/form-data"]["schema"]["$ref"],
        "#/components/schemas/DossierCreateForm"
    );
    let (json, form) = (&schemas["DossierCreate"], &schemas["DossierCreateForm"]);
    let mut expected = json["properties"].as_object().unwrap().clone();
    expected.insert("cv".into(), form["properties"]["cv"].clone());
    assert_eq!(form["properties"].as_object().unwrap(), &expected);
    assert_eq!(form["required"], json["required"]);
    assert_eq!(form["additionalProperties"], false);

    let mut branches = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (media, content) in operation["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                if content["schema"].get("allOf").is_some() {
                    branches.push(format!("{method} {path} {media}"));
                }
            }
        }
    }
    assert!(
        branches.is_empty(),
        "request bodies built with allOf: {branches:?}"
    );
    let contact = &document["paths"]["/contacts"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"];
    assert_eq!(contact, "#/components/schemas/ContactCreate");
    assert_eq!(
        schemas["ContactCreate"]["required"],
        serde_json::json!(["full_name"])
    );
}

/// Every header the creates of dossiers and contacts, and a dossier's archive, answer with
/// is declared on that answer, `ETag` included.
#[tokio::test]
async fn every_header_a_write_answers_with_is_declared() {
    let org = growth_org().await;
    let stack = integration_tests::stack().await;
    let document = document();
    let undeclared = |reply: &integration_tests::Reply, path: &str, method: &str, status: &str| {
        let declared: BTreeSet<String> = document["paths"][path][method]["responses"][status]
            ["headers"]
            .as_object()
            .unwrap()
            .keys()
            .map(|name| name.to_ascii_lowercase())
            .collect();
        let standard = ["content-type", "content-length", "cache-control"];
        reply
            .headers
            .keys()
            .map(|name| name.as_str().to_string())
            .filter(|name| !standard.contains(&name.as_str()) && !declared.contains(name))
            .collect::<Vec<_>>()
    };
    let creates = [
        (
            "/dossiers",
            serde_json::json!({"type": "candidate", "name": "Declared Headers"}),
        ),
        (
            "/contacts",
            serde_json::json!({"full_name": "Declared Headers"}),
        ),
    ];
    let mut dossier = None;
    for (path, body) in creates {
        let full = format!("/api/v1{path}");
        let reply = integration_tests::post(&full)
            .key(&org.key)
            .json(&body)
            .header("idempotency-key", &format!("declared headers for {path}"))
            .send(&stack.router(integration_tests::function_for(&full)))
            .await;
        assert_eq!(reply.status, 201, "{path}: {}", reply.body);
        assert!(reply.header("etag").is_some(), "{path}");
        assert_eq!(
            undeclared(&reply, path, "post", "201"),
            Vec::<String>::new(),
            "POST {path}"
        );
        if path == "/dossiers" {
            let etag = reply.header("etag").unwrap().to_string();
            dossier = Some((reply.body["data"]["id"].as_str().unwrap().to_string(), etag));
        }
    }
    let (id, etag) = dossier.unwrap();
    let full = format!("/api/v1/dossiers/{id}");
    let reply = integration_tests::delete(&full)
        .key(&org.key)
        .header("if-match", &etag)
        .send(&stack.router(integration_tests::function_for(&full)))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.header("etag").is_some());
    assert_eq!(
        undeclared(&reply, "/dossiers/{id}", "delete", "200"),
        Vec::<String>::new(),
        "DELETE /dossiers/{{id}}"
    );
}

/// One license, said the same in every place a user or a tool reads it.
#[test]
fn the_license_is_apache_2_0_everywhere() {
    let license = crate::routes::root_file("LICENSE");
    assert!(license.contains("Apache License") && license.contains("Version 2.0, January 2004"));
    assert_eq!(document()["info"]["license"]["identifier"], "Apache-2.0");
    assert!(crate::routes::root_file("Cargo.toml").contains("\nlicense = \"Apache-2.0\"\n"));
    let package: Value = serde_json::from_str(&crate::routes::root_file("package.json")).unwrap();
    assert_eq!(package["license"], "Apache-2.0");
    let crates = [
        "shared",
        "tools",
        "tests",
        "bench",
        "bench/peer",
        "functions/dossiers",
        "functions/contacts",
        "functions/flows",
        "functions/notes",
        "functions/webhooks",
        "functions/fanout",
        "functions/delivery",
    ];
    for krate in crates {
        let manifest = crate::routes::root_file(&format!("{krate}/Cargo.toml"));
        assert!(manifest.contains("\nlicense.workspace = true\n"), "{krate}");
    }
}

/// A reader of the repository or of the served page needs no file outside them: no doc,
/// verifier or description points to the product reference's file or its section numbers,
/// and the served document names no repository file.
#[test]
fn the_docs_and_the_served_document_stand_alone() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("README.md"), root.join("openapi.yaml")];
    for dir in [
        "docs",
        "docs/webhooks",
        "tests/fixtures",
        "tests/typescript",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() && path.extension().is_some_and(|e| e != "png") {
                files.push(path);
            }
        }
    }
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for outside in ["../shared", "shared/spec", "section 0"] {
            assert!(
                !text.contains(outside),
                "{} cites {outside:?}",
                path.display()
            );
        }
    }
    let served = flows::OPENAPI_JSON;
    for file in [
        ".md",
        "docs/api-",
        "docs/webhooks",
        "tests/",
        "functions/",
        "README",
    ] {
        assert!(!served.contains(file), "the served document names {file:?}");
    }
}
