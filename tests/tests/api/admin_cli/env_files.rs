//! Settings: the environment over `--env-file`, dotenv files, a default org, `--pretty`.

use std::process::Command;

use serde_json::Value;

use super::{admin, admin_bin};

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
