//! `leadgrid-admin` end to end: the built binary against the local stack.

use std::path::PathBuf;
use std::process::Command;

use integration_tests::{flows_router, Call};
use serde_json::Value;

fn admin_bin() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/leadgrid-admin");
    assert!(
        path.is_file(),
        "build it first: cargo build -p leadgrid-tools --bins"
    );
    path
}

fn admin(args: &[&str]) -> Value {
    let out = Command::new(admin_bin())
        .args(args)
        .output()
        .expect("leadgrid-admin runs");
    assert!(
        out.status.success(),
        "leadgrid-admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    assert_eq!(
        text.trim().lines().count(),
        1,
        "one JSON object per command: {text}"
    );
    serde_json::from_str(&text).expect("stdout is JSON")
}

fn admin_fails(args: &[&str]) -> String {
    let out = Command::new(admin_bin())
        .args(args)
        .output()
        .expect("leadgrid-admin runs");
    assert!(!out.status.success(), "leadgrid-admin {args:?} should fail");
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).to_string()
}

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

#[tokio::test]
async fn operators_manage_webhook_endpoints() {
    integration_tests::pipeline();
    let org = integration_tests::growth_org().await;
    let org_id = org.id.to_string();
    let receiver = integration_tests::Receiver::start(|_, _| 200).await;
    let created = admin(&[
        "webhook",
        "create",
        "--org",
        &org_id,
        "--url",
        &receiver.url,
        "--events",
        "dossier.created,note.created",
    ]);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["url"], receiver.url.as_str());
    assert_eq!(
        created["events"],
        serde_json::json!(["dossier.created", "note.created"])
    );
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() >= 6 + 32,
        "{secret}"
    );

    let listed = admin(&["webhook", "list", "--org", &org_id]);
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert!(!listed.to_string().contains("secret\""), "{listed}");
    assert!(!listed.to_string().contains(&secret[6..]));

    // The API's cap holds here too: a grace beyond it is refused, never a panic.
    for hours in ["169", "4294967295"] {
        let refused = admin_fails(&[
            "webhook",
            "rotate-secret",
            "--org",
            &org_id,
            "--id",
            &id,
            "--grace-hours",
            hours,
        ]);
        assert!(
            refused.contains("--grace-hours must be from 0 to 168")
                && !refused.contains("panicked"),
            "{hours}: {refused}"
        );
    }
    let rotated = admin(&["webhook", "rotate-secret", "--org", &org_id, "--id", &id]);
    assert_ne!(rotated["secret"], secret.as_str());
    let listed = admin(&["webhook", "list", "--org", &org_id]);
    assert!(listed["data"][0]["previous_secret_expires_at"].is_string());

    let dossier = integration_tests::post("/api/v1/dossiers")
        .key(&org.key)
        .json(&serde_json::json!({"type": "sales", "name": "Via CLI"}))
        .send(&integration_tests::dossiers_router().await)
        .await;
    assert_eq!(dossier.status, 201);
    let first = receiver
        .wait_for(std::time::Duration::from_secs(30), |got| got.len() == 1)
        .await;
    let event_id = first[0].event_id();
    // The receiver has the event a moment before the delivery logs its attempt.
    let mut attempts = Value::Null;
    for _ in 0..50 {
        attempts = admin(&[
            "webhook", "attempts", "--org", &org_id, "--id", &id, "--event", &event_id,
        ]);
        if !attempts["data"][0].is_null() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(attempts["data"][0]["status"], 200);
    assert_eq!(attempts["data"][0]["outcome"], "delivered");
    assert_eq!(attempts["data"][0]["attempt"], 1);

    let replayed = admin(&[
        "webhook", "replay", "--org", &org_id, "--id", &id, "--event", &event_id,
    ]);
    assert_eq!(replayed["queued"], true);
    let both = receiver
        .wait_for(std::time::Duration::from_secs(30), |got| got.len() == 2)
        .await;
    assert_eq!(both[1].body, both[0].body, "same id and body");
    assert_eq!(both[1].event_id(), event_id);

    let tested = admin(&["webhook", "test", "--org", &org_id, "--id", &id]);
    assert_eq!(tested["event_type"], "ping");
    let three = receiver
        .wait_for(std::time::Duration::from_secs(30), |got| got.len() == 3)
        .await;
    let ping_id = tested["event_id"].as_str().unwrap();
    assert_eq!(three[2].event_id(), ping_id);
    // The attempt is logged once the receiver has answered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while admin(&[
        "webhook", "attempts", "--org", &org_id, "--id", &id, "--event", ping_id,
    ])["data"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the ping's attempt is logged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Newest first, a page at a time: the ping's attempt, then the replay's, then the first.
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    while seen.len() < 4 {
        let mut args = vec![
            "webhook", "attempts", "--org", &org_id, "--id", &id, "--limit", "1",
        ];
        if let Some(before) = &before {
            args.extend(["--before", before.as_str()]);
        }
        let page = admin(&args);
        match page["data"].as_array().unwrap().first() {
            Some(attempt) => seen.push(attempt["event_type"].as_str().unwrap().to_string()),
            None => break,
        }
        match page["next_before"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["ping", "dossier.created", "dossier.created"]);
    assert!(admin_fails(&[
        "webhook", "attempts", "--org", &org_id, "--id", &id, "--event", "evt_x"
    ])
    .contains("--event must be an event id"));

    for (event, says) in [
        ("evt_00000000000000000000000000000000", "kept 7 days"),
        ("evt_missing", "event id"),
    ] {
        let refused = admin_fails(&[
            "webhook", "replay", "--org", &org_id, "--id", &id, "--event", event,
        ]);
        assert!(refused.contains(says), "{event}: {refused}");
    }
    assert!(
        admin_fails(&["webhook", "create", "--org", &org_id, "--url", "ftp://x"]).contains("--url")
    );
    assert!(admin_fails(&[
        "webhook",
        "create",
        "--org",
        &org_id,
        "--url",
        &receiver.url,
        "--events",
        "dossier.exploded"
    ])
    .contains("unknown event type"));
    let deleted = admin(&["webhook", "delete", "--org", &org_id, "--id", &id]);
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        admin(&["webhook", "list", "--org", &org_id])["data"],
        serde_json::json!([])
    );
    assert!(
        admin_fails(&["webhook", "delete", "--org", &org_id, "--id", &id])
            .contains("does not exist")
    );
}

/// Settings already in the environment win over `--env-file`: an operator can try the
/// deployed webhook policy against the local stack by setting just that.
#[tokio::test]
async fn environment_variables_win_over_the_env_file() {
    let org = admin(&["org", "create", "--name", "Env Precedence"]);
    let org_id = org["id"].as_str().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("env-file-{org_id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("local.env");
    std::fs::write(
        &file,
        "WEBHOOK_ALLOWED_DESTINATIONS=public,loopback\nWEBHOOK_REQUIRE_HTTPS=false\n",
    )
    .unwrap();
    let create = |https_only: Option<&str>| {
        let mut command = Command::new(admin_bin());
        command.args([
            "--env-file",
            file.to_str().unwrap(),
            "webhook",
            "create",
            "--org",
            &org_id,
            "--url",
            "http://127.0.0.1:8080/hook",
        ]);
        command.env_remove("WEBHOOK_ALLOWED_DESTINATIONS");
        match https_only {
            Some(value) => command.env("WEBHOOK_REQUIRE_HTTPS", value),
            None => command.env_remove("WEBHOOK_REQUIRE_HTTPS"),
        };
        command.output().expect("leadgrid-admin runs")
    };
    assert!(
        create(None).status.success(),
        "the file allows http to loopback"
    );
    let refused = create(Some("true"));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("https"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// Contacts written before the indexes existed (no search or pool entries, no kind index
/// keys, not counted) are found again after `contacts reindex`, which is safe to run twice
/// and resumes after a given id.
#[tokio::test]
async fn contacts_reindex_indexes_contacts_written_before_the_indexes() {
    use shared::domain::contacts::{self, search, CONTACT_PREFIX};
    use shared::table::{keys::org_pk, txn};
    let org = integration_tests::growth_org().await;
    let db = integration_tests::stack().await.core().db;
    let mut legacy = Vec::new();
    for name in ["Legacy Sophie", "Legacy Mark", "Legacy Anna"] {
        let input =
            serde_json::from_value(serde_json::json!({"full_name": name, "kind": ["candidate"]}))
                .unwrap();
        let contact = contacts::create(&db, org.id, input).await.unwrap();
        // Back to the shape of a contact written before the indexes: the plain item only.
        let mut items: Vec<_> = search::contact_words(&contact)
            .iter()
            .map(|word| {
                txn::delete(
                    &db,
                    &org_pk(org.id),
                    &shared::table::keys::search_sk(word, contact.id),
                    None,
                )
            })
            .collect();
        let mut plain = shared::table::store::to_item(
            &contact,
            &org_pk(org.id),
            &contacts::contact_sk(contact.id),
            "contact",
        )
        .unwrap();
        plain.insert("version".into(), shared::table::store::n(contact.version));
        items.push(txn::put(&db, plain, None));
        // Nor did they have pool entries, or counts in the pool and kinds counters.
        items.extend(contacts::pool::changes(&db, org.id, Some(&contact), None));
        items.push(txn::update(
            &db,
            txn::UpdateSpec {
                pk: org_pk(org.id),
                sk: contacts::COUNTERS_SK.to_string(),
                expression: "ADD kinds_1 :minus".into(),
                condition: None,
                names: Vec::new(),
                values: vec![(":minus".into(), shared::table::store::n(-1))],
            },
        ));
        txn::write(&db, items).await.unwrap().unwrap();
        legacy.push(contact.id.to_string());
    }
    let router = integration_tests::contacts_router().await;
    let found = |query: &'static str| {
        let (router, key) = (router.clone(), org.key.clone());
        async move {
            Call::get(&format!("/api/v1/contacts?{query}"))
                .key(&key)
                .send(&router)
                .await
                .body["meta"]["total"]
                .clone()
        }
    };
    assert_eq!(found("search=legacy").await, 0, "not indexed yet");
    assert_eq!(found("kind=candidate").await, 0, "nor counted");
    assert_eq!(found("pool=in_pool").await, 0, "nor in the pool");

    let org_id = org.id.to_string();
    let first = admin(&[
        "contacts", "reindex", "--org", &org_id, "--after", &legacy[0],
    ]);
    assert_eq!(first["contacts"], 2, "resumed after the first: {first}");
    assert_eq!(found("search=legacy").await, 2);
    let all = admin(&["contacts", "reindex", "--org", &org_id]);
    assert_eq!(all["contacts"], 3);
    assert_eq!(all["last"], legacy[2].as_str());
    let again = admin(&["contacts", "reindex", "--org", &org_id]);
    assert_eq!(again["contacts"], 3, "running again is safe");
    assert_eq!(found("search=legacy").await, 3);
    assert_eq!(found("search=legacy%20sophie").await, 1);
    // The kind index keys are back on the items too.
    let items: Vec<contacts::Contact> = db
        .query_prefix(&org_pk(org.id), CONTACT_PREFIX)
        .await
        .unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(found("kind=candidate&pool=in_pool").await, 3);
    assert_eq!(found("pool=expired").await, 0);
    let pool = Call::get("/api/v1/contacts?pool=in_pool")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(
        pool.body["data"].as_array().unwrap().len(),
        3,
        "{}",
        pool.body
    );
    assert_eq!(again["counted"], 3);
    assert_eq!(found("kind=candidate").await, 3, "the totals count them");
}

/// A data-subject request: every version of a dossier's CV (the replaced one included) and
/// of its abandoned uploads is deleted, delete markers too, and the dossier forgets it.
#[tokio::test]
async fn cv_erase_deletes_every_version_and_the_dossier_forgets_it() {
    let org = integration_tests::growth_org().await;
    let stack = integration_tests::stack().await;
    let router = integration_tests::dossiers_router().await;
    let created = integration_tests::post("/api/v1/dossiers")
        .key(&org.key)
        .json(&serde_json::json!({"type": "candidate", "name": "Erase me"}))
        .send(&router)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let dossier: uuid::Uuid = id.parse().unwrap();
    for version in ["%PDF-1.7 first", "%PDF-1.7 second"] {
        let stored = integration_tests::post(&format!("/api/v1/dossiers/{id}/cv"))
            .key(&org.key)
            .raw("application/pdf", version.as_bytes().to_vec())
            .send(&router)
            .await;
        assert_eq!(stored.status, 200, "{}", stored.body);
    }
    let cvs = stack.cvs();
    let abandoned = shared::cv::staging_key(org.id, dossier, uuid::Uuid::now_v7());
    cvs.put(&abandoned, b"%PDF-1.7 never completed".to_vec())
        .await
        .unwrap();
    let versions = || async {
        let mut found = 0;
        for prefix in [
            format!("{}/dossiers/{dossier}/", org.id),
            format!("uploads/{}/{dossier}/", org.id),
        ] {
            let page = cvs
                .s3
                .list_object_versions()
                .bucket(&cvs.bucket)
                .prefix(prefix)
                .send()
                .await
                .unwrap();
            found += page.versions().len() + page.delete_markers().len();
        }
        found
    };
    assert!(versions().await >= 3, "two CV versions and an upload");

    let org_id = org.id.to_string();
    let erase = || admin(&["cv", "erase", "--org", &org_id, "--dossier", &id]);
    let erased = erase();
    assert_eq!(erased["dossier"], id.as_str());
    assert!(
        erased["versions_deleted"].as_u64().unwrap() >= 3,
        "{erased}"
    );
    assert_eq!(
        versions().await,
        0,
        "nothing of the CV is left, in any version"
    );
    let shown = Call::get(&format!("/api/v1/dossiers/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(shown.body["data"]["cv_url"], Value::Null);
    let download = Call::get(&format!("/api/v1/dossiers/{id}/cv"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(download.status, 404, "{}", download.body);
    let again = erase();
    assert_eq!(again["versions_deleted"], 0, "running it again is safe");
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

/// The papercuts of issue 29: a dotenv file read as shells write it (`export`, quotes),
/// `--org` from `$LEADGRID_ORG` (set or from the file), `org list`, key names, endpoint
/// update, disable and enable, and `--pretty`.
#[tokio::test]
async fn operators_get_dotenv_files_a_default_org_names_and_endpoint_changes() {
    let org = admin(&["org", "create", "--name", "Papercut Recruiting"]);
    let org_id = org["id"].as_str().unwrap().to_string();
    let listed = admin(&["org", "list"]);
    let orgs = listed["data"].as_array().unwrap();
    assert!(
        orgs.iter()
            .any(|o| o["id"] == org_id.as_str() && o["name"] == "Papercut Recruiting"),
        "{listed}"
    );
    let ids: Vec<&str> = orgs.iter().map(|o| o["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "oldest first");
    // One made before `org list` existed (its item without the directory's keys) is
    // listed after `org index`, which is safe to run again.
    let legacy = shared::domain::orgs::Org {
        id: uuid::Uuid::now_v7(),
        name: "Made Before".into(),
        plan: shared::domain::orgs::Plan::Growth,
        pool_days: 365,
        created_at: shared::clock::now(),
    };
    let db = integration_tests::stack().await.core().db;
    db.put_item(
        shared::table::store::to_item(
            &legacy,
            &shared::table::keys::org_pk(legacy.id),
            shared::table::keys::ORG_SK,
            "org",
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let listed_before = admin(&["org", "list"]);
    assert!(!listed_before.to_string().contains(&legacy.id.to_string()));
    assert!(admin(&["org", "index"])["indexed"].as_u64().unwrap() >= 1);
    let listed_after = admin(&["org", "list"]);
    assert!(listed_after.to_string().contains(&legacy.id.to_string()));

    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(admin_bin());
        command.args(args).env_remove("LEADGRID_ORG");
        for (name, value) in env {
            command.env(name, value);
        }
        let out = command.output().expect("leadgrid-admin runs");
        assert!(
            out.status.success(),
            "leadgrid-admin {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json = |text: String| -> Value { serde_json::from_str(&text).unwrap() };

    // $LEADGRID_ORG stands in for --org; a key gets a name that `key list` shows.
    let key = json(run(
        &[
            "key",
            "create",
            "--scopes",
            "flows:read",
            "--name",
            "Zapier sync",
        ],
        &[("LEADGRID_ORG", &org_id)],
    ));
    assert_eq!(key["name"], "Zapier sync");
    assert_eq!(key["org"], org_id.as_str());
    let keys = json(run(&["key", "list"], &[("LEADGRID_ORG", &org_id)]));
    assert_eq!(keys["data"][0]["name"], "Zapier sync", "{keys}");
    let missing = Command::new(admin_bin())
        .args(["key", "list"])
        .env_remove("LEADGRID_ORG")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--org"));

    // A dotenv file as shells write it: `export`, quotes, a comment; it may set the org.
    let dir = std::env::temp_dir().join(format!("dotenv-{org_id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ops.env");
    std::fs::write(
        &file,
        format!(
            "# operator settings\nexport LEADGRID_ORG=\"{org_id}\"\nexport WEBHOOK_ALLOWED_DESTINATIONS='public,loopback'\nWEBHOOK_REQUIRE_HTTPS=\"false\" # local only\n"
        ),
    )
    .unwrap();
    let with_file = |args: &[&str]| {
        let mut all = vec!["--env-file", file.to_str().unwrap()];
        all.extend_from_slice(args);
        let mut command = Command::new(admin_bin());
        command
            .args(&all)
            .env_remove("LEADGRID_ORG")
            .env_remove("WEBHOOK_ALLOWED_DESTINATIONS")
            .env_remove("WEBHOOK_REQUIRE_HTTPS");
        let out = command.output().expect("leadgrid-admin runs");
        assert!(
            out.status.success(),
            "leadgrid-admin {all:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let endpoint = with_file(&["webhook", "create", "--url", "http://127.0.0.1:8099/hook"]);
    let id = endpoint["id"].as_str().unwrap().to_string();

    let updated = with_file(&[
        "webhook",
        "update",
        "--id",
        &id,
        "--events",
        "note.created",
        "--description",
        "CRM sync",
    ]);
    assert_eq!(updated["events"], serde_json::json!(["note.created"]));
    assert_eq!(updated["description"], "CRM sync");
    let disabled = with_file(&["webhook", "disable", "--id", &id]);
    assert!(disabled["disabled_at"].is_string(), "{disabled}");
    let enabled = with_file(&["webhook", "enable", "--id", &id]);
    assert!(enabled["disabled_at"].is_null(), "{enabled}");
    let cleared = with_file(&["webhook", "update", "--id", &id, "--description", ""]);
    assert!(cleared["description"].is_null(), "{cleared}");

    // --pretty indents the same JSON.
    let pretty = run(&["--pretty", "key", "list", "--org", &org_id], &[]);
    assert!(pretty.trim().lines().count() > 1, "{pretty}");
    assert_eq!(json(pretty), keys);
}
