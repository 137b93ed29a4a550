//! `template.yaml`, the local watch router in `Cargo.toml` and the functions' routers
//! agree on which function serves which route.

use std::collections::BTreeSet;

use http::Method;
use integration_tests::{growth_org, stack, Call};

pub(crate) fn root_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// (function, method, path) for every HttpApi route in the template.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let template = root_file("template.yaml");
    let mut function = String::new();
    let mut routes = BTreeSet::new();
    for line in template.lines() {
        if let Some(name) = line
            .strip_prefix("  ")
            .and_then(|l| l.strip_suffix("Function:"))
        {
            // `Globals: Function:` names no function.
            if !name.starts_with(' ') && !name.is_empty() {
                let template_id = format!("{name}Function");
                function = shared::functions::Function::of_template(&template_id)
                    .unwrap_or_else(|| panic!("{template_id} is not in the registry"))
                    .as_str()
                    .to_string();
            }
        }
        let Some(props) = line
            .trim()
            .strip_prefix("Properties: {ApiId: !Ref Api, Method: ")
        else {
            continue;
        };
        let (method, rest) = props.split_once(", Path: ").unwrap();
        let path = rest.trim_end_matches('}').trim_matches('\'');
        routes.insert((function.clone(), method.to_string(), path.to_string()));
    }
    routes
}

/// (path, function) pairs of `[workspace.metadata.lambda.watch.router]`.
fn watch_routes() -> BTreeSet<(String, String)> {
    integration_tests::routes::table().iter().cloned().collect()
}

#[test]
fn the_template_and_the_watch_router_send_each_path_to_the_same_function() {
    let template: BTreeSet<(String, String)> = template_routes()
        .into_iter()
        .map(|(f, _, p)| (p, f))
        .collect();
    let watch: BTreeSet<(String, String)> = watch_routes()
        .into_iter()
        .filter(|(path, _)| !path.contains("{*rest}"))
        .collect();
    assert!(template.len() >= 12, "{template:?}");
    assert_eq!(template, watch);
}

/// Every operation of the OpenAPI document is served by the function the template sends its
/// path to.
#[tokio::test]
async fn every_operation_is_served_by_the_function_its_path_reaches() {
    let org = growth_org().await;
    let stack = stack().await;
    let owners: std::collections::BTreeMap<String, String> = template_routes()
        .into_iter()
        .map(|(function, method, path)| {
            assert_eq!(method, "ANY", "{path}");
            (path, function)
        })
        .collect();
    let document: serde_json::Value = serde_json::from_str(flows::OPENAPI_JSON).unwrap();
    let paths = document["paths"].as_object().unwrap();
    for (path, operations) in paths {
        let path = format!("/api/v1{path}");
        let function = &owners[&path];
        let router = stack.router(function);
        let concrete = path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{contact_id}", &uuid::Uuid::now_v7().to_string());
        let methods = operations.as_object().unwrap().keys();
        for method in methods.filter(|m| *m != "parameters") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = Call::new(method.clone(), &concrete)
                .key(&org.key)
                .send(&router)
                .await;
            let message = reply.body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                !message.starts_with("No route matches") && reply.status != 405,
                "{function} does not serve {method} {path}"
            );
        }
    }
}

/// Every `NAME` the functions read with `env::var("NAME")`, `required("NAME")` or
/// `optional("NAME")`, outside the local-only tools. `AWS_*` names belong to the SDK and
/// the Lambda runtime, which set them.
fn variables_the_code_reads() -> BTreeSet<String> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs = vec![root.join("shared/src")];
    for function in std::fs::read_dir(root.join("functions")).unwrap() {
        dirs.push(function.unwrap().path().join("src"));
    }
    let mut names = BTreeSet::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("local") && !path.ends_with("bin") {
                    dirs.push(path);
                }
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for call in [
                "env::var(\"",
                "env::var_os(\"",
                "required(\"",
                "optional(\"",
            ] {
                for (at, _) in text.match_indices(call) {
                    let rest = &text[at + call.len()..];
                    let name = &rest[..rest.find('"').unwrap()];
                    if name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                        && !name.starts_with("AWS_")
                    {
                        names.insert(name.to_string());
                    }
                }
            }
        }
    }
    names
}

/// Every name set under an `Environment: Variables:` block of the template.
fn variables_the_template_sets() -> BTreeSet<String> {
    let template = root_file("template.yaml");
    let mut names = BTreeSet::new();
    let mut in_variables = None;
    for line in template.lines() {
        let indent = line.len() - line.trim_start().len();
        if line.trim() == "Variables:" {
            in_variables = Some(indent);
            continue;
        }
        match in_variables {
            Some(block) if indent > block && !line.trim().is_empty() => {
                if let Some((name, _)) = line.trim().split_once(':') {
                    if !name.starts_with('#') {
                        names.insert(name.to_string());
                    }
                }
            }
            Some(_) if line.trim().is_empty() || line.trim().starts_with('#') => {}
            _ => in_variables = None,
        }
    }
    names
}

#[test]
fn the_template_sets_exactly_the_variables_the_code_reads() {
    let read = variables_the_code_reads();
    for expected in [
        "TABLE_NAME",
        "API_KEY_SECRET_ID",
        "WEBHOOK_SECRET_ID",
        "CV_BUCKET",
        "EVENTS_QUEUE_URL",
        "WEBHOOK_RETRY_SCHEDULE",
    ] {
        assert!(read.contains(expected), "the scan found {read:?}");
    }
    let set = variables_the_template_sets();
    // Read by the tracing subscriber and by lambda_http, not by our code.
    let runtime = BTreeSet::from([
        "RUST_LOG".to_string(),
        "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH".to_string(),
    ]);
    let missing: Vec<_> = read.difference(&set).collect();
    assert!(
        missing.is_empty(),
        "read by the code but not set in template.yaml: {missing:?}"
    );
    let unused: Vec<_> = set
        .difference(&read)
        .filter(|n| !runtime.contains(*n))
        .collect();
    assert!(
        unused.is_empty(),
        "set in template.yaml but read by nothing: {unused:?}"
    );
}

#[test]
fn the_local_stack_sets_the_variables_the_deployed_functions_get() {
    let local = std::fs::read_to_string(format!(
        "{}/../tools/src/local/stack.rs",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
        + &std::fs::read_to_string(format!(
            "{}/../tools/src/local/mod.rs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
    // Optional settings with production defaults need not be set locally.
    let defaulted = [
        "WEBHOOK_RETRY_SCHEDULE",
        "EVENT_RETENTION_DAYS",
        "RUST_LOG",
        "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH",
    ];
    for name in variables_the_template_sets() {
        if !defaulted.contains(&name.as_str()) {
            assert!(
                local.contains(&format!("\"{name}\"")),
                "the local stack does not set {name}"
            );
        }
    }
}

/// (method, path) of every operation in the served OpenAPI document, paths under `/api/v1`.
fn document_routes() -> BTreeSet<(String, String)> {
    let document: serde_json::Value = serde_json::from_str(flows::OPENAPI_JSON).unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "patch", "put", "delete"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), format!("/api/v1{path}")));
            }
        }
    }
    routes
}

#[test]
fn the_document_describes_exactly_the_template_paths() {
    let template: BTreeSet<String> = template_routes()
        .into_iter()
        .map(|(.., path)| path)
        .collect();
    let document: BTreeSet<String> = document_routes()
        .into_iter()
        .map(|(_, path)| path)
        .collect();
    assert_eq!(document, template);
}

/// API Gateway sends every method on a path to its function (an `ANY` route): each answers
/// 405, in the error shape, for every method the document does not list.
#[tokio::test]
async fn the_routers_serve_no_method_the_document_does_not_list() {
    let org = growth_org().await;
    let stack = stack().await;
    let documented = document_routes();
    let paths: BTreeSet<(String, String)> = template_routes()
        .into_iter()
        .map(|(f, _, p)| (f, p))
        .collect();
    for (function, path) in paths {
        let router = stack.router(&function);
        let concrete = path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{contact_id}", &uuid::Uuid::now_v7().to_string());
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            if documented.contains(&(method.to_string(), path.clone())) {
                continue;
            }
            let reply = Call::new(method.clone(), &concrete)
                .key(&org.key)
                .send(&router)
                .await;
            assert_eq!(
                (reply.status.as_u16(), reply.error_code()),
                (405, "method_not_allowed"),
                "{function} answers {method} {path}, which the document does not list"
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_served_without_a_key() {
    let stack = stack().await;
    let reply = Call::get("/api/v1/openapi.json")
        .send(&flows::router(stack.core()))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body["openapi"], "3.1.0");
    assert_eq!(
        reply.body,
        serde_json::from_str::<serde_json::Value>(flows::OPENAPI_JSON).unwrap()
    );
}
