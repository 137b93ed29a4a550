//! Every operation: bad keys, scopes, bodies, content types, a plan without API access.

use integration_tests::{growth_org, org_with, Call};
use shared::domain::orgs::Plan;
use shared::web::auth::Scope;

use super::{operations, Operation};

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
