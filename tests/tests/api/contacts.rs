//! Contacts (spec section 04): create, read, update, and race-free email uniqueness.

use integration_tests::{contacts_router, growth_org, patch, post, Call, TestOrg};
use serde_json::{json, Value};

async fn create(org: &TestOrg, body: Value) -> integration_tests::Reply {
    post("/api/v1/contacts")
        .key(&org.key)
        .json(&body)
        .send(&contacts_router().await)
        .await
}

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
    let explicit = create(
        &org,
        json!({"full_name": "B", "kind": ["candidate"], "pool_expires_at": "2030-01-01T00:00:00Z"}),
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

#[tokio::test]
async fn listing_filters_by_kind_pool_and_search_with_exact_totals() {
    let org = growth_org().await;
    let router = contacts_router().await;
    let past = "2020-01-01T00:00:00Z";
    for (name, email, company, kinds, pool) in [
        (
            "Sophie van Dijk",
            "sophie@example.com",
            "Adyen",
            json!(["candidate"]),
            None,
        ),
        (
            "Mark de Vries",
            "mark@rabobank.nl",
            "Rabobank",
            json!(["client", "prospect"]),
            None,
        ),
        (
            "Old Candidate",
            "old@example.com",
            "Philips",
            json!(["candidate"]),
            Some(past),
        ),
        (
            "Pat Partner",
            "pat@partner.io",
            "Sophie's Bakery",
            json!(["partner"]),
            None,
        ),
    ] {
        let mut body =
            json!({"full_name": name, "email": email, "company": company, "kind": kinds});
        if let Some(pool) = pool {
            body["pool_expires_at"] = json!(pool);
        }
        assert_eq!(create(&org, body).await.status, 201);
    }
    let names = |reply: &integration_tests::Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["full_name"].as_str().unwrap().to_string())
            .collect()
    };
    for (query, expected) in [
        (
            "",
            vec![
                "Pat Partner",
                "Old Candidate",
                "Mark de Vries",
                "Sophie van Dijk",
            ],
        ),
        (
            "kind=candidate&kind=client",
            vec!["Old Candidate", "Mark de Vries", "Sophie van Dijk"],
        ),
        ("kind=prospect", vec!["Mark de Vries"]),
        ("pool=in_pool", vec!["Sophie van Dijk"]),
        ("pool=expired", vec!["Old Candidate"]),
        ("search=SOPHIE", vec!["Pat Partner", "Sophie van Dijk"]),
        ("search=sophie&kind=candidate", vec!["Sophie van Dijk"]),
        ("search=rabobank.nl", vec!["Mark de Vries"]),
        ("kind=supplier", vec![]),
    ] {
        let reply = Call::get(&format!("/api/v1/contacts?{query}"))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        assert_eq!(names(&reply), expected, "{query}");
        assert_eq!(reply.body["meta"]["total"], expected.len(), "{query}");
    }
    let first = Call::get("/api/v1/contacts?per_page=3")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(
        first.body["meta"],
        json!({"total": 4, "page": 1, "per_page": 3, "next_cursor": first.body["meta"]["next_cursor"]})
    );
    let cursor = first.body["meta"]["next_cursor"].as_str().unwrap();
    let rest = Call::get(&format!("/api/v1/contacts?per_page=3&cursor={cursor}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(names(&rest), ["Sophie van Dijk"]);
    assert_eq!(rest.body["meta"]["next_cursor"], Value::Null);
    for bad in [
        "kind=vendor",
        "pool=soon",
        "page=0",
        "cursor=x",
        "page=1&cursor=djE6MDFhMjE3ZTgtMmI2OS03MjlkLWEyZGItN2U5YWE0ZGMyNDY1",
        "sort=name",
    ] {
        let reply = Call::get(&format!("/api/v1/contacts?{bad}"))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 400, "{bad}");
    }
}
