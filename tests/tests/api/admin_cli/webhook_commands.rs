//! `leadgrid-admin webhook …`: operators manage an organization's webhook endpoints.

use serde_json::Value;

use super::{admin, admin_fails};

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
        ("evt_00000000000000000000000000000000", "kept 30 days"),
        ("evt_missing", "event id"),
    ] {
        let refused = admin_fails(&[
            "webhook", "replay", "--org", &org_id, "--id", &id, "--event", event,
        ]);
        assert!(refused.contains(says), "{event}: {refused}");
    }
    // Every event made since the endpoint was created reached it: nothing to recover.
    let since = shared::clock::format(shared::clock::now() - time::Duration::minutes(10));
    let recovered = admin(&[
        "webhook", "recover", "--org", &org_id, "--id", &id, "--since", &since,
    ]);
    assert_eq!(recovered["object"], "webhook_recovery", "{recovered}");
    assert_eq!(recovered["queued"], 0, "{recovered}");
    assert!(admin_fails(&[
        "webhook",
        "recover",
        "--org",
        &org_id,
        "--id",
        &id,
        "--since",
        "2001-01-01T00:00:00Z"
    ])
    .contains("within the last 30 days"));
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
