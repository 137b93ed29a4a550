//! Organizations, members and API keys, operator mistakes, and carrying the pepper over.

use std::process::Command;

use integration_tests::{flows_router, Call};
use serde_json::Value;

use super::{admin, admin_bin, admin_fails};

#[tokio::test]
async fn operators_manage_orgs_members_and_keys() {
    let org = admin(&["org", "create", "--name", "Acme Recruiting"]);
    assert_eq!(org["name"], "Acme Recruiting");
    assert_eq!(org["plan"], "growth");
    let org_id = org["id"].as_str().unwrap().to_string();

    let member = admin(&[
        "member",
        "add",
        "--org",
        &org_id,
        "--email",
        "ann@acme.test",
        "--name",
        "Ann",
    ]);
    assert_eq!(member["email"], "ann@acme.test");
    assert!(uuid::Uuid::parse_str(member["id"].as_str().unwrap()).is_ok());

    let key = admin(&[
        "key",
        "create",
        "--org",
        &org_id,
        "--scopes",
        "flows:read,dossiers:read",
    ]);
    let secret = key["key"].as_str().unwrap().to_string();
    assert!(secret.starts_with("lg_live_"));
    assert_eq!(
        key["scopes"],
        serde_json::json!(["flows:read", "dossiers:read"])
    );
    assert_eq!(key["expires_at"], Value::Null);
    let key_id = key["id"].as_str().unwrap().to_string();

    let listed = admin(&["key", "list", "--org", &org_id]);
    let listed_text = listed.to_string();
    assert!(
        !listed_text.contains(&secret[8..]),
        "key list shows no secret"
    );
    assert!(!listed_text.contains("hash"));
    assert_eq!(listed["data"][0]["id"], key_id.as_str());

    let router = flows_router().await;
    assert_eq!(
        Call::get("/api/v1/flows")
            .key(&secret)
            .send(&router)
            .await
            .status,
        200
    );

    let plan = admin(&["org", "set-plan", "--org", &org_id, "--plan", "pro"]);
    assert_eq!(plan, serde_json::json!({"id": org_id, "plan": "pro"}));
    assert_eq!(
        Call::get("/api/v1/flows")
            .key(&secret)
            .send(&flows_router().await)
            .await
            .status,
        402
    );
    admin(&["org", "set-plan", "--org", &org_id, "--plan", "growth"]);

    let revoked = admin(&["key", "revoke", "--org", &org_id, "--id", &key_id]);
    assert_eq!(revoked, serde_json::json!({"id": key_id, "revoked": true}));
    assert_eq!(
        Call::get("/api/v1/flows")
            .key(&secret)
            .send(&router)
            .await
            .status,
        401
    );
    assert!(admin(&["key", "list", "--org", &org_id])["data"][0]["revoked_at"].is_string());

    let expiring = admin(&[
        "key",
        "create",
        "--org",
        &org_id,
        "--scopes",
        "flows:read",
        "--expires-at",
        "2099-01-01T00:00:00Z",
    ]);
    assert_eq!(expiring["expires_at"], "2099-01-01T00:00:00Z");

    let flow = admin(&[
        "flow",
        "create",
        "--org",
        &org_id,
        "--type",
        "candidate",
        "--name",
        "Interns",
        "--stages",
        r##"[{"name":"Applied"},{"name":"Hired","win_probability":100,"color":"#00AA00"}]"##,
    ]);
    assert_eq!(flow["stages"][1]["position"], 2);
    assert_eq!(flow["type"], "candidate");
}

#[tokio::test]
async fn operator_mistakes_fail_with_a_message_and_no_output() {
    let missing_org = uuid::Uuid::now_v7().to_string();
    assert!(admin_fails(&["org", "create"]).contains("--name"));
    assert!(admin_fails(&["org", "create", "--name", "X", "--plan", "gold"]).contains("--plan"));
    assert!(admin_fails(&[
        "key",
        "create",
        "--org",
        &missing_org,
        "--scopes",
        "flows:read"
    ])
    .contains("does not exist"));
    assert!(admin_fails(&[
        "key",
        "create",
        "--org",
        &missing_org,
        "--scopes",
        "flows:admin"
    ])
    .contains("flows:admin"));
    assert!(
        admin_fails(&["key", "revoke", "--org", &missing_org, "--id", &missing_org])
            .contains("does not exist")
    );
    assert!(
        admin_fails(&["member", "add", "--org", "not-a-uuid", "--email", "a@b.c"]).contains("UUID")
    );
    // A member's email is held to the API's rule for emails.
    let org = admin(&["org", "create", "--name", "Member Mistakes"]);
    let org_id = org["id"].as_str().unwrap();
    for bad in ["a@b", "a b@c.com", "@b.com"] {
        let message = admin_fails(&["member", "add", "--org", org_id, "--email", bad]);
        assert!(message.contains("--email"), "{bad}: {message}");
    }
    assert!(
        admin_fails(&["org", "set-plan", "--org", &missing_org, "--plan", "pro"])
            .contains("does not exist")
    );
    assert!(admin_fails(&["frobnicate"]).contains("unrecognized subcommand"));
    assert!(
        admin_fails(&["key", "list", "--org", &missing_org, "--bogus", "1"]).contains("--bogus")
    );
}

/// A stack deployed with one secret keeps it as its webhook secret and gains an API-key
/// secret; `secrets carry-over-pepper` keeps the keys made before the split valid, and
/// the API-key secret then holds nothing the webhook key derives from.
#[tokio::test]
async fn carrying_the_pepper_over_keeps_keys_made_with_the_single_secret() {
    let stack = integration_tests::stack().await;
    let client = aws_sdk_secretsmanager::Client::new(&stack.sdk);
    let suffix = uuid::Uuid::now_v7();
    let (single, api_keys) = (format!("single-{suffix}"), format!("api-keys-{suffix}"));
    let root = format!("{{\"root_key\":\"{}\"}}", "r".repeat(64));
    for (id, value) in [
        (&single, root.clone()),
        (
            &api_keys,
            format!("{{\"root_key\":\"{}\"}}", "n".repeat(64)),
        ),
    ] {
        client
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    let with_secrets = |api_key_secret: &str, args: &[&str]| {
        let out = Command::new(admin_bin())
            .args(args)
            .env("API_KEY_SECRET_ID", api_key_secret)
            .env("WEBHOOK_SECRET_ID", &single)
            .output()
            .expect("leadgrid-admin runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let org = admin(&["org", "create", "--name", "Before The Split"]);
    let org_id = org["id"].as_str().unwrap();
    // Before the split, keys were hashed with the single secret's pepper.
    let key = integration_tests::legacy_key(
        org_id.parse().unwrap(),
        &[shared::web::auth::Scope::FlowsRead],
        &single,
    )
    .await;
    let reading = |secret: &str| shared::web::Core {
        legacy_pepper: shared::secrets::SecretSource::new(client.clone(), secret),
        ..stack.core()
    };
    let status = |core, key: String| async move {
        Call::get("/api/v1/flows")
            .key(&key)
            .send(&flows::router(core))
            .await
            .status
    };
    assert_eq!(
        status(reading(&api_keys), key.clone()).await,
        401,
        "a fresh pepper"
    );

    let carried = with_secrets(&api_keys, &["secrets", "carry-over-pepper"]);
    assert_eq!(carried["carried_over"], true);
    assert_eq!(status(reading(&api_keys), key).await, 200);
    let stored = client
        .get_secret_value()
        .secret_id(&api_keys)
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    assert!(!stored.contains(&"r".repeat(64)) && !stored.contains("root_key"));
    // Again: nothing changes, and a key not used yet still verifies with the pepper.
    let unused = integration_tests::legacy_key(
        org_id.parse().unwrap(),
        &[shared::web::auth::Scope::FlowsRead],
        &single,
    )
    .await;
    with_secrets(&api_keys, &["secrets", "carry-over-pepper"]);
    assert_eq!(status(reading(&api_keys), unused).await, 200);
}
