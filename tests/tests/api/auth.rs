//! Authentication, plans, scopes and tenancy (spec sections 02 and 08).

use integration_tests::{
    flows_router, growth_org, legacy_key, org_with, stack, stored_key_hashes, Call,
};
use shared::domain::orgs::Plan;
use shared::web::auth::{generate_key, hash_key, Scope};

async fn status_of(call: Call) -> (u16, String, serde_json::Value) {
    let reply = call.send(&flows_router().await).await;
    assert!(
        reply.header("x-request-id").is_some(),
        "every response has a request id"
    );
    (
        reply.status.as_u16(),
        reply.error_code().to_string(),
        reply.body,
    )
}

#[tokio::test]
async fn every_401_case_answers_unauthorized() {
    let org = growth_org().await;
    let unknown_key = generate_key(org.id).plaintext;
    let unknown_org_key = generate_key(uuid::Uuid::now_v7()).plaintext;
    let cases = [
        ("missing header", Call::get("/api/v1/flows")),
        (
            "wrong scheme",
            Call::get("/api/v1/flows").header("authorization", &format!("Basic {}", org.key)),
        ),
        (
            "no token",
            Call::get("/api/v1/flows").header("authorization", "Bearer"),
        ),
        (
            "not lg_live_",
            Call::get("/api/v1/flows").key("sk_live_abc"),
        ),
        ("malformed", Call::get("/api/v1/flows").key("lg_live_abc")),
        (
            "truncated",
            Call::get("/api/v1/flows").key(&org.key[..org.key.len() - 2]),
        ),
        ("unknown key", Call::get("/api/v1/flows").key(&unknown_key)),
        (
            "unknown org",
            Call::get("/api/v1/flows").key(&unknown_org_key),
        ),
        (
            "non-UTF-8 header",
            Call::get("/api/v1/flows").header("authorization", "Bearer lg_live_\u{e9}"),
        ),
    ];
    for (name, call) in cases {
        let (status, code, body) = status_of(call).await;
        assert_eq!(
            (status, code.as_str()),
            (401, "unauthorized"),
            "{name}: {body}"
        );
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn a_valid_key_gets_in_with_rate_headers() {
    let org = growth_org().await;
    let reply = Call::get("/api/v1/flows")
        .key(&org.key)
        .send(&flows_router().await)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-ratelimit-limit"), Some("600"));
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("599"));
}

#[tokio::test]
async fn revocation_takes_effect_on_the_very_next_request() {
    let org = growth_org().await;
    let router = flows_router().await;
    assert_eq!(
        Call::get("/api/v1/flows")
            .key(&org.key)
            .send(&router)
            .await
            .status,
        200
    );
    stack()
        .await
        .admin()
        .revoke_key(org.id, org.key_id)
        .await
        .unwrap();
    let reply = Call::get("/api/v1/flows").key(&org.key).send(&router).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (401, "unauthorized")
    );
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
}

#[tokio::test]
async fn expired_keys_are_refused() {
    let org = growth_org().await;
    let admin = stack().await.admin();
    let past = shared::clock::now() - time::Duration::seconds(1);
    let expired = admin
        .create_key(org.id, vec![Scope::FlowsRead], Some(past), None)
        .await
        .unwrap();
    let future = shared::clock::now() + time::Duration::hours(1);
    let live = admin
        .create_key(org.id, vec![Scope::FlowsRead], Some(future), None)
        .await
        .unwrap();
    let router = flows_router().await;
    let reply = Call::get("/api/v1/flows")
        .key(&expired.key)
        .send(&router)
        .await;
    assert_eq!(reply.status, 401);
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    assert_eq!(
        Call::get("/api/v1/flows")
            .key(&live.key)
            .send(&router)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn plans_without_api_access_get_402_after_a_valid_key() {
    for plan in [Plan::Free, Plan::Pro] {
        let org = org_with(plan, &Scope::ALL).await;
        let reply = Call::get("/api/v1/flows")
            .key(&org.key)
            .send(&flows_router().await)
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (402, "plan_required")
        );
        assert!(reply.header("x-ratelimit-remaining").is_some());
        // An invalid key on the same org is still a 401: authentication comes first.
        let (status, ..) = status_of(Call::get("/api/v1/flows").key("lg_live_x")).await;
        assert_eq!(status, 401);
    }
}

#[tokio::test]
async fn a_plan_change_applies_at_once_even_in_a_warm_container() {
    let org = growth_org().await;
    let admin = stack().await.admin();
    let flows = flows_router().await;
    let status = || async {
        Call::get("/api/v1/flows")
            .key(&org.key)
            .send(&flows)
            .await
            .status
    };
    assert_eq!(status().await, 200);
    admin.set_plan(org.id, Plan::Pro).await.unwrap();
    assert_eq!(status().await, 402);
    admin.set_plan(org.id, Plan::Growth).await.unwrap();
    assert_eq!(status().await, 200);
}

#[tokio::test]
async fn a_key_made_before_keys_carried_the_plan_reads_the_organizations() {
    let org = growth_org().await;
    let stack = stack().await;
    let (pk, sk) = (
        shared::table::keys::org_pk(org.id),
        shared::table::keys::api_key_sk(org.key_id),
    );
    let forget_plan = shared::table::store::Expression {
        text: "REMOVE #plan",
        names: &[("#plan", "plan")],
        values: Vec::new(),
    };
    stack
        .core()
        .db
        .update_if(&pk, &sk, &forget_plan, None)
        .await
        .unwrap()
        .unwrap();
    let status = || async {
        Call::get("/api/v1/flows")
            .key(&org.key)
            .send(&flows_router().await)
            .await
            .status
    };
    assert_eq!(status().await, 200);
    stack.admin().set_plan(org.id, Plan::Free).await.unwrap();
    assert_eq!(
        status().await,
        402,
        "a new container reads the plan it changed"
    );
}

#[tokio::test]
async fn an_organization_has_at_most_99_keys_not_revoked_so_a_plan_change_is_one_transaction() {
    let org = growth_org().await;
    let admin = stack().await.admin();
    for _ in 1..99 {
        admin
            .create_key(org.id, vec![Scope::FlowsRead], None, None)
            .await
            .unwrap();
    }
    let refused = admin
        .create_key(org.id, vec![Scope::FlowsRead], None, None)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("99 keys that are not revoked"),
        "{refused}"
    );
    let revoked = admin.list_keys(org.id).await.unwrap()[1].id;
    admin.revoke_key(org.id, revoked).await.unwrap();
    admin
        .create_key(org.id, vec![Scope::FlowsRead], None, None)
        .await
        .unwrap();
    admin.set_plan(org.id, Plan::Pro).await.unwrap();
    let reply = Call::get("/api/v1/flows")
        .key(&org.key)
        .send(&flows_router().await)
        .await;
    assert_eq!(reply.status, 402);
}

#[tokio::test]
async fn missing_scopes_get_403_and_name_the_scope() {
    let org = org_with(Plan::Growth, &[Scope::DossiersRead]).await;
    let reply = Call::get("/api/v1/flows")
        .key(&org.key)
        .send(&flows_router().await)
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (403, "forbidden")
    );
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("flows:read"));
    assert_eq!(reply.header("x-ratelimit-limit"), Some("600"));
}

#[tokio::test]
async fn linking_contacts_needs_both_write_scopes() {
    let org = org_with(Plan::Growth, &[Scope::DossiersWrite, Scope::ContactsRead]).await;
    let router = integration_tests::contacts_router().await;
    let path = format!("/api/v1/dossiers/{}/contacts", uuid::Uuid::now_v7());
    let reply = Call::new(http::Method::POST, &path)
        .key(&org.key)
        .json(&serde_json::json!({}))
        .send(&router)
        .await;
    assert_eq!(reply.status, 403);
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("contacts:write"));
}

#[tokio::test]
async fn scope_table_matches_the_issue() {
    use http::Method;
    // A key with one unrelated scope: every other route answers 403 naming its scopes.
    let key = org_with(Plan::Growth, &[Scope::NotesRead]).await.key;
    let id = uuid::Uuid::now_v7();
    let routes: Vec<(axum::Router, Method, String, &[&str])> = vec![
        (
            integration_tests::dossiers_router().await,
            Method::GET,
            "/api/v1/dossiers".into(),
            &["dossiers:read"],
        ),
        (
            integration_tests::dossiers_router().await,
            Method::GET,
            format!("/api/v1/dossiers/{id}"),
            &["dossiers:read"],
        ),
        (
            integration_tests::dossiers_router().await,
            Method::POST,
            "/api/v1/dossiers".into(),
            &["dossiers:write"],
        ),
        (
            integration_tests::dossiers_router().await,
            Method::PATCH,
            format!("/api/v1/dossiers/{id}"),
            &["dossiers:write"],
        ),
        (
            integration_tests::dossiers_router().await,
            Method::DELETE,
            format!("/api/v1/dossiers/{id}"),
            &["dossiers:write"],
        ),
        (
            integration_tests::dossiers_router().await,
            Method::POST,
            format!("/api/v1/dossiers/{id}/cv"),
            &["dossiers:write"],
        ),
        (
            integration_tests::contacts_router().await,
            Method::GET,
            "/api/v1/contacts".into(),
            &["contacts:read"],
        ),
        (
            integration_tests::contacts_router().await,
            Method::GET,
            format!("/api/v1/contacts/{id}"),
            &["contacts:read"],
        ),
        (
            integration_tests::contacts_router().await,
            Method::GET,
            format!("/api/v1/dossiers/{id}/contacts"),
            &["contacts:read"],
        ),
        (
            integration_tests::contacts_router().await,
            Method::POST,
            "/api/v1/contacts".into(),
            &["contacts:write"],
        ),
        (
            integration_tests::contacts_router().await,
            Method::PATCH,
            format!("/api/v1/contacts/{id}"),
            &["contacts:write"],
        ),
        (
            integration_tests::contacts_router().await,
            Method::DELETE,
            format!("/api/v1/contacts/{id}"),
            &["contacts:write"],
        ),
        (
            integration_tests::contacts_router().await,
            Method::POST,
            format!("/api/v1/dossiers/{id}/contacts"),
            &["dossiers:write", "contacts:write"],
        ),
        (
            integration_tests::contacts_router().await,
            Method::DELETE,
            format!("/api/v1/dossiers/{id}/contacts/{id}"),
            &["dossiers:write", "contacts:write"],
        ),
        (
            flows_router().await,
            Method::GET,
            "/api/v1/flows".into(),
            &["flows:read"],
        ),
        (
            flows_router().await,
            Method::GET,
            format!("/api/v1/flows/{id}/stages"),
            &["flows:read"],
        ),
        (
            integration_tests::notes_router().await,
            Method::POST,
            format!("/api/v1/dossiers/{id}/notes"),
            &["notes:write"],
        ),
    ];
    for (router, method, path, scopes) in routes {
        let reply = Call::new(method.clone(), &path)
            .key(&key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.body);
        let message = reply.body["error"]["message"].as_str().unwrap();
        for scope in scopes {
            assert!(message.contains(scope), "{method} {path}: {message}");
        }
    }
}

#[tokio::test]
async fn another_organizations_flow_is_indistinguishable_from_a_missing_one() {
    let mine = growth_org().await;
    let theirs = growth_org().await;
    let their_flow = shared::domain::flows::list(&stack().await.core().db, theirs.id)
        .await
        .unwrap()[0]
        .id;
    let router = flows_router().await;
    let foreign = Call::get(&format!("/api/v1/flows/{their_flow}/stages"))
        .key(&mine.key)
        .send(&router)
        .await;
    let missing = Call::get(&format!("/api/v1/flows/{}/stages", uuid::Uuid::now_v7()))
        .key(&mine.key)
        .send(&router)
        .await;
    assert_eq!(foreign.status, 404);
    assert_eq!(foreign.body, missing.body);
    let own = Call::get(&format!("/api/v1/flows/{their_flow}/stages"))
        .key(&theirs.key)
        .send(&router)
        .await;
    assert_eq!(own.status, 200);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let org = growth_org().await;
    let router = flows_router().await;
    let reply = Call::get("/api/v1/nope").key(&org.key).send(&router).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (404, "not_found")
    );
    let reply = Call::new(http::Method::DELETE, "/api/v1/flows")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (405, "method_not_allowed")
    );
}

/// Keys made while a plan change runs carry the plan it sets, or were refused: none keeps
/// the old plan (a plan change holds only if no key was made since it read the keys).
#[tokio::test]
async fn a_key_made_during_a_plan_change_never_keeps_the_old_plan() {
    let org = growth_org().await;
    let stack = stack().await;
    let admin = stack.admin();
    let creates = (0..8).map(|_| admin.create_key(org.id, vec![Scope::FlowsRead], None, None));
    let (made, changed) = tokio::join!(
        futures_util::future::join_all(creates),
        admin.set_plan(org.id, Plan::Pro)
    );
    assert_eq!(changed.unwrap().plan, Plan::Pro);
    let flows = flows_router().await;
    for key in made.into_iter().flatten() {
        let reply = Call::get("/api/v1/flows").key(&key.key).send(&flows).await;
        assert_eq!(reply.status, 402, "a key made meanwhile");
    }
}

/// A key made before keys were hashed without the pepper verifies with it at its first use,
/// on whichever function sees it, and gains its SHA-256: from then on no request of it
/// needs the pepper, and its pepper hash stays for the version before. A key forged on a
/// legacy key's ids is refused and changes nothing; so is a revoked legacy key.
#[tokio::test]
async fn a_key_hashed_with_the_pepper_gains_its_sha256_at_its_first_use() {
    let stack = stack().await;
    let org = growth_org().await;
    let secret = stack.config.api_key_secret_id.clone().unwrap();
    let probe = |key: &str| Call::get("/api/v1/key-only-probe").key(key);
    for function in shared::functions::Function::api().map(|f| f.as_str()) {
        let key = legacy_key(org.id, &Scope::ALL, &secret).await;
        let (legacy_hash, none) = stored_key_hashes(&key).await;
        assert!(!legacy_hash.starts_with("sha256:") && none.is_none());
        let forged = forge(&key);
        let router = stack.router(function);
        assert_eq!(probe(&forged).send(&router).await.status, 401, "{function}");
        assert_eq!(stored_key_hashes(&key).await, (legacy_hash.clone(), None));
        assert_eq!(
            probe(&key).send(&router).await.status,
            404,
            "{function}: the key verifies, and no route matches"
        );
        assert_eq!(
            stored_key_hashes(&key).await,
            (legacy_hash, Some(hash_key(&key))),
            "{function}"
        );
    }

    let revoked = legacy_key(org.id, &Scope::ALL, &secret).await;
    let (_, id) = shared::web::auth::parse_key(&revoked).unwrap();
    stack.admin().revoke_key(org.id, id).await.unwrap();
    let reply = probe(&revoked).send(&stack.router("flows")).await;
    assert_eq!(reply.status, 401);
    assert!(reply.body.to_string().contains("revoked"));
    assert_eq!(stored_key_hashes(&revoked).await.1, None, "nothing written");

    // Without a pepper to read, keys in the new form verify and forged ones are refused.
    let legacy = legacy_key(org.id, &[Scope::FlowsRead], &secret).await;
    let no_pepper = flows::router(shared::web::Core {
        legacy_pepper: shared::secrets::SecretSource::new(
            aws_sdk_secretsmanager::Client::new(&stack.sdk),
            "no-such-secret",
        ),
        ..stack.core()
    });
    let status = |key: String| {
        let router = no_pepper.clone();
        async move {
            Call::get("/api/v1/flows")
                .key(&key)
                .send(&router)
                .await
                .status
        }
    };
    assert_eq!(status(org.key.clone()).await, 200);
    assert_eq!(status(forge(&org.key)).await, 401);
    assert_eq!(
        status(legacy).await,
        500,
        "a legacy key needs the pepper, which this container cannot read"
    );
}

/// The same organization and key ids with other random bytes.
fn forge(key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    let at = chars.len() - 10;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}
