//! Email uniqueness: case- and Unicode-insensitive per organization, and race-free.

use integration_tests::{contacts_router, growth_org, patch, post, Call};
use serde_json::{json, Value};

use super::create;

#[tokio::test]
async fn unicode_equal_emails_are_one_contact_stored_in_nfc() {
    let org = growth_org().await;
    let nfc = "jos\u{e9}.garc\u{ed}a@example.com";
    let nfd = "jose\u{301}.garci\u{301}a@example.com";
    let first = create(&org, json!({"full_name": "Jos\u{e9}", "email": nfd})).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["data"]["email"], nfc, "stored and shown in NFC");
    for other in [
        nfc,
        "JOS\u{c9}.GARC\u{cd}A@EXAMPLE.COM",
        "JOSE\u{301}.garci\u{301}a@Example.com",
    ] {
        let dup = create(&org, json!({"full_name": "Twin", "email": other})).await;
        assert_eq!(
            (dup.status.as_u16(), dup.error_code()),
            (409, "duplicate_contact"),
            "{other}"
        );
        assert_eq!(dup.body["error"]["param"], "email");
    }
    // Search folds the same way, whichever form the query is typed in.
    for query in ["jos%C3%A9.garc", "JOSE%CC%81.GARCI%CC%81A", "Jos%C3%89"] {
        let found = Call::get(&format!("/api/v1/contacts?search={query}"))
            .key(&org.key)
            .send(&contacts_router().await)
            .await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(found.body["meta"]["total"], 1, "{query}: {}", found.body);
    }
}

#[tokio::test]
async fn emails_are_unique_per_organization_case_insensitively() {
    let org = growth_org().await;
    let first = create(
        &org,
        json!({"full_name": "Mark", "email": "mark@rabobank.nl"}),
    )
    .await;
    let first_id = first.body["data"]["id"].as_str().unwrap().to_string();
    let dup = create(
        &org,
        json!({"full_name": "Mark 2", "email": "MARK@Rabobank.nl"}),
    )
    .await;
    assert_eq!(
        (dup.status.as_u16(), dup.error_code()),
        (409, "duplicate_contact")
    );
    assert!(dup.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&first_id));
    // Another organization may use the same address.
    let other = growth_org().await;
    assert_eq!(
        create(
            &other,
            json!({"full_name": "Mark", "email": "mark@rabobank.nl"})
        )
        .await
        .status,
        201
    );

    // PATCH is held to the same rule, and changing an email frees the old one.
    let second = create(
        &org,
        json!({"full_name": "Anna", "email": "anna@example.com"}),
    )
    .await;
    let second_path = format!(
        "/api/v1/contacts/{}",
        second.body["data"]["id"].as_str().unwrap()
    );
    let clash = patch(&second_path)
        .key(&org.key)
        .json(&json!({"email": "Mark@rabobank.nl"}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(clash.status, 409);
    let moved = patch(&format!("/api/v1/contacts/{first_id}"))
        .key(&org.key)
        .json(&json!({"email": "mark@new.nl"}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(moved.status, 200);
    assert_eq!(
        patch(&second_path)
            .key(&org.key)
            .json(&json!({"email": "mark@rabobank.nl"}))
            .send(&contacts_router().await)
            .await
            .status,
        200
    );
    let cleared = patch(&second_path)
        .key(&org.key)
        .json(&json!({"email": null}))
        .send(&contacts_router().await)
        .await;
    assert_eq!(cleared.body["data"]["email"], Value::Null);
    assert_eq!(
        create(
            &org,
            json!({"full_name": "Mark 3", "email": "mark@rabobank.nl"})
        )
        .await
        .status,
        201
    );
}

#[tokio::test]
async fn twenty_concurrent_creates_with_one_email_make_one_contact() {
    let org = growth_org().await;
    let router = contacts_router().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let router = router.clone();
        let key = org.key.clone();
        tasks.push(tokio::spawn(async move {
            post("/api/v1/contacts")
                .key(&key)
                .json(&json!({"full_name": format!("Racer {i}"), "email": "race@example.com"}))
                .send(&router)
                .await
                .status
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}
