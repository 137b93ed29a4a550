//! The document: generator-safe shapes, declared headers, the license, no outside references.

use std::collections::BTreeSet;

use integration_tests::growth_org;
use serde_json::Value;

use super::document;

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
        "functions/webhook-endpoints",
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
