//! `template.yaml`, the local watch router in `Cargo.toml` and the functions' routers
//! agree on which function serves which route.

use std::collections::BTreeSet;

use http::Method;
use integration_tests::{growth_org, stack, Call};

fn root_file(name: &str) -> String {
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
            if !name.starts_with(' ') {
                function = name.to_lowercase();
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
    let cargo = root_file("Cargo.toml");
    let table = cargo
        .split("[workspace.metadata.lambda.watch.router]")
        .nth(1)
        .unwrap();
    table
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(path, function)| {
            (
                path.trim_matches('"').to_string(),
                function.trim_matches('"').to_string(),
            )
        })
        .collect()
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

#[tokio::test]
async fn every_template_route_is_served_by_its_functions_router() {
    let org = growth_org().await;
    let stack = stack().await;
    for (function, method, path) in template_routes() {
        let router = match function.as_str() {
            "dossiers" => dossiers::router(stack.core(), stack.cvs()),
            "contacts" => contacts::router(stack.core()),
            "flows" => flows::router(stack.core()),
            "notes" => notes::router(stack.core()),
            other => panic!("no router for {other}"),
        };
        let concrete = path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{contact_id}", &uuid::Uuid::now_v7().to_string());
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let reply = Call::new(method.clone(), &concrete)
            .key(&org.key)
            .send(&router)
            .await;
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            !message.starts_with("No route matches"),
            "{function} does not serve {method} {path}"
        );
        assert_ne!(
            reply.status, 405,
            "{function} does not serve {method} {path}"
        );
    }
}
