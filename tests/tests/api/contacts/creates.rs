//! Creating contacts: the spec's examples, and invalid input refused naming the field.

use integration_tests::{contacts_router, growth_org, patch, Call};
use serde_json::{json, Value};

use super::create;

#[tokio::test]
async fn the_specs_contact_examples_work() {
    let org = growth_org().await;
    let reply = create(
        &org,
        json!({
            "full_name": "Sophie van Dijk",
            "email": "sophie@example.com",
            "company": "Adyen",
            "role": "Senior Frontend Engineer",
            "city": "Amsterdam",
            "kind": ["candidate"]
        }),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let contact = reply.body["data"].clone();
    assert_eq!(contact["kind"], json!(["candidate"]));
    assert_eq!(contact["dossier_count"], 0);
    assert_eq!(contact["notes"], Value::Null);
    let pool = shared::clock::parse(contact["pool_expires_at"].as_str().unwrap()).unwrap();
    let days = (pool - shared::clock::now()).whole_days();
    assert!(
        (364..=365).contains(&days),
        "a new candidate is in the pool for 365 days: {days}"
    );
    let id = contact["id"].as_str().unwrap();
    let path = format!("/api/v1/contacts/{id}");

    let fetched = Call::get(&path)
        .key(&org.key)
        .send(&contacts_router().await)
        .await;
    assert_eq!(fetched.body["data"], contact);

    let patched = patch(&path)
        .key(&org.key)
        .json(&json!({ "kind": ["candidate", "client", "candidate"], "city": "Rotterdam" }))
        .send(&contacts_router().await)
        .await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["data"]["kind"], json!(["candidate", "client"]));
    assert_eq!(patched.body["data"]["city"], "Rotterdam");
    assert_eq!(
        patched.body["data"]["pool_expires_at"], contact["pool_expires_at"],
        "staying a candidate keeps the window"
    );

    let cleared = patch(&path)
        .key(&org.key)
        .json(&json!({"pool_expires_at": null, "notes": "Met at a meetup"}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(cleared.body["data"]["pool_expires_at"], Value::Null);
    assert_eq!(cleared.body["data"]["notes"], "Met at a meetup");
    let other = growth_org().await;
    assert_eq!(
        Call::get(&path)
            .key(&other.key)
            .send(&contacts_router().await)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn invalid_contacts_are_400_naming_the_field() {
    let org = growth_org().await;
    let existing = create(&org, json!({"full_name": "Ok"})).await;
    let path = format!(
        "/api/v1/contacts/{}",
        existing.body["data"]["id"].as_str().unwrap()
    );
    for (body, field) in [
        (json!({}), "full_name"),
        (json!({"full_name": "  "}), "full_name"),
        (json!({"full_name": null}), "full_name"),
        (json!({"full_name": "A", "kind": ["vendor"]}), "kind"),
        (
            json!({"full_name": "A", "linkedin_url": "linkedin.com/in/x"}),
            "linkedin_url",
        ),
        (
            json!({"full_name": "A", "linkedin_url": "ftp://x"}),
            "linkedin_url",
        ),
        (json!({"full_name": "A", "email": "nope"}), "email"),
        (json!({"full_name": "A", "city": "x".repeat(201)}), "city"),
        (
            json!({"full_name": "A", "pool_expires_at": "tomorrow"}),
            "pool_expires_at",
        ),
        // Valid RFC 3339, but in UTC the year 10000, which RFC 3339 cannot print.
        (
            json!({"full_name": "A", "kind": ["candidate"], "pool_expires_at": "9999-12-31T23:59:59-23:59"}),
            "pool_expires_at",
        ),
        (json!({"full_name": "A", "favourite": 1}), "favourite"),
    ] {
        let reply = create(&org, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{body}: {}",
            reply.body
        );
    }
    let reply = patch(&path)
        .key(&org.key)
        .json(&json!({"full_name": null}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(reply.status, 400);
    // Kept as shown: in UTC, to the second.
    let explicit = create(
        &org,
        json!({"full_name": "B", "kind": ["candidate"], "pool_expires_at": "2030-01-01T01:00:00.75+01:00"}),
    )
    .await;
    assert_eq!(
        explicit.body["data"]["pool_expires_at"],
        "2030-01-01T00:00:00Z"
    );
    let missing = patch(&format!("/api/v1/contacts/{}", uuid::Uuid::now_v7()))
        .key(&org.key)
        .json(&json!({"city": "X"}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(missing.status, 404);
}
