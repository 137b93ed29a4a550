//! Contacts: create, read, update, and race-free email uniqueness.

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

/// Every id a listing returns, following `next_cursor` to the end.
async fn walk(
    router: &axum::Router,
    org: &TestOrg,
    query: &str,
    per_page: u32,
) -> (Vec<String>, u64) {
    let mut ids = Vec::new();
    let mut url = format!("/api/v1/contacts?{query}&per_page={per_page}");
    let mut total = None;
    loop {
        let reply = Call::get(&url).key(&org.key).send(router).await;
        assert_eq!(reply.status, 200, "{url}: {}", reply.body);
        let meta = &reply.body["meta"];
        let this_total = meta["total"].as_u64().unwrap();
        assert_eq!(*total.get_or_insert(this_total), this_total, "{url}");
        for contact in reply.body["data"].as_array().unwrap() {
            ids.push(contact["id"].as_str().unwrap().to_string());
        }
        match meta["next_cursor"].as_str() {
            Some(cursor) => {
                url = format!("/api/v1/contacts?{query}&per_page={per_page}&cursor={cursor}")
            }
            None => return (ids, this_total),
        }
    }
}

#[tokio::test]
async fn indexed_listings_agree_with_a_full_pass_after_every_kind_of_change() {
    let org = growth_org().await;
    let router = contacts_router().await;
    let kinds = ["candidate", "prospect", "client", "supplier", "partner"];
    let mut ids = Vec::new();
    for i in 0..14usize {
        let chosen: Vec<&str> = kinds
            .iter()
            .enumerate()
            .filter(|(k, _)| (i >> k) & 1 == 1 || (i + k) % 5 == 0)
            .map(|(_, kind)| *kind)
            .collect();
        let mut body = json!({"full_name": format!("Person {i}"), "email": format!("p{i}@example.com"), "kind": chosen});
        if i % 4 == 1 {
            body["pool_expires_at"] = json!("2021-06-01T00:00:00Z");
        }
        let reply = create(&org, body).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        ids.push(reply.body["data"]["id"].as_str().unwrap().to_string());
    }
    // Kinds replaced, cleared and a pool window closed; two contacts deleted; a candidate
    // dossier that adds `candidate` to an existing contact found by its email.
    for (i, patch_body) in [
        (0, json!({"kind": ["supplier", "candidate"]})),
        (3, json!({"kind": []})),
        (5, json!({"pool_expires_at": null})),
        (9, json!({"pool_expires_at": "2020-01-01T00:00:00Z"})),
    ] {
        let reply = patch(&format!("/api/v1/contacts/{}", ids[i]))
            .key(&org.key)
            .json(&patch_body)
            .send(&router)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    for i in [7, 8] {
        let reply = integration_tests::delete(&format!("/api/v1/contacts/{}", ids[i]))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 200);
    }
    let dossier = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "candidate", "name": "Person 2", "email": "P2@example.com"}))
        .send(&integration_tests::dossiers_router().await)
        .await;
    assert_eq!(dossier.status, 201, "{}", dossier.body);

    for mask in 0..32usize {
        let mut filters: Vec<String> = kinds
            .iter()
            .enumerate()
            .filter(|(k, _)| (mask >> k) & 1 == 1)
            .map(|(_, kind)| format!("kind={kind}"))
            .collect();
        for pool in ["", "pool=in_pool", "pool=expired"] {
            if !pool.is_empty() {
                filters.push(pool.to_string());
            }
            let query = filters.join("&");
            let full = integration_tests::contact_listings::expected(
                &integration_tests::contact_listings::all_contacts(org.id).await,
                &query,
                shared::clock::now(),
            );
            let indexed = walk(&router, &org, &query, 100).await;
            assert_eq!(indexed, full, "{query}");
            assert_eq!(indexed.0.len() as u64, indexed.1, "{query}");
            let paged = walk(&router, &org, &query, 2).await;
            assert_eq!(paged, full, "{query} by cursor");
            if !pool.is_empty() {
                filters.pop();
            }
        }
    }
    let all = walk(&router, &org, "", 100).await;
    assert_eq!(all.1, 12);
    let page_two = Call::get("/api/v1/contacts?kind=candidate&kind=partner&page=2&per_page=3")
        .key(&org.key)
        .send(&router)
        .await;
    let full = walk(&router, &org, "kind=candidate&kind=partner", 100)
        .await
        .0;
    let shown: Vec<String> = page_two.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(shown, full[3..6.min(full.len())].to_vec());
}

#[tokio::test]
async fn page_one_without_search_reads_a_page_not_the_organization() {
    let org = growth_org().await;
    let stack = integration_tests::stack().await;
    let core = stack.core();
    for i in 0..300 {
        let kind = match i % 3 {
            0 => json!(["candidate"]),
            1 => json!(["prospect", "client"]),
            _ => json!([]),
        };
        let input =
            serde_json::from_value(json!({"full_name": format!("C{i}"), "kind": kind})).unwrap();
        shared::domain::contacts::create(&core.db, org.id, input)
            .await
            .unwrap();
    }
    let (counted, calls) = stack.counted_core();
    let router = contacts::router(counted);
    Call::get("/api/v1/contacts")
        .key(&org.key)
        .send(&router)
        .await;
    for (query, total, most) in [
        ("", 300, 40),
        ("kind=client", 100, 40),
        ("kind=candidate&kind=prospect", 200, 60),
        ("kind=client&cursor=", 100, 40),
        // The pool reads the page's entries on its side and its total from the counters
        // of the expiry buckets on that side.
        ("pool=in_pool", 100, 40),
        ("pool=in_pool&cursor=", 100, 40),
        // Search reads the entries of its word (one per matching contact here).
        ("search=c1", 111, 140),
    ] {
        let query = match query.strip_suffix("cursor=") {
            Some(base) => {
                let first = Call::get(&format!("/api/v1/contacts?{base}per_page=10"))
                    .key(&org.key)
                    .send(&router)
                    .await;
                format!(
                    "{base}cursor={}",
                    first.body["meta"]["next_cursor"].as_str().unwrap()
                )
            }
            None => query.to_string(),
        };
        calls.take();
        let reply = Call::get(&format!("/api/v1/contacts?{query}&per_page=10"))
            .key(&org.key)
            .send(&router)
            .await;
        let read = calls.take_items();
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        assert_eq!(reply.body["meta"]["total"], total, "{query}");
        assert_eq!(reply.body["data"].as_array().unwrap().len(), 10, "{query}");
        assert!(
            read <= most,
            "{query}: read {read} items, expected at most {most}"
        );
        eprintln!("GET /contacts?{query}&per_page=10: {read} items read");
    }
}

#[tokio::test]
async fn repeated_kinds_cost_one_query_and_deep_offset_pages_are_refused() {
    let org = growth_org().await;
    let stack = integration_tests::stack().await;
    let (counted, calls) = stack.counted_core();
    let router = contacts::router(counted);
    let once = Call::get("/api/v1/contacts?kind=client")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(once.status, 200, "{}", once.body);
    calls.take();
    let once = Call::get("/api/v1/contacts?kind=client")
        .key(&org.key)
        .send(&router)
        .await;
    let single = calls.take();
    let repeated = vec!["kind=client"; 500].join("&");
    let many = Call::get(&format!("/api/v1/contacts?{repeated}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(many.status, 200, "{}", many.body);
    assert_eq!(many.body, once.body);
    assert_eq!(
        calls.take(),
        single,
        "500 copies of one kind cost what one does"
    );

    for query in [
        "page=101&per_page=100",
        "page=42000000",
        "page=10001&per_page=1",
    ] {
        calls.take();
        let deep = Call::get(&format!("/api/v1/contacts?{query}"))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(
            (deep.status.as_u16(), deep.error_code()),
            (400, "invalid_query"),
            "{query}"
        );
        assert!(deep.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`cursor`"));
    }
    let edge = Call::get("/api/v1/contacts?page=100&per_page=100")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(edge.status, 200, "the window's last page is served");

    // Each search word is a query: their number is bounded too.
    let eight = ["a"; 8].join("%20");
    let nine = "a.b.c.d.e.f.g.h.i";
    let long = "a".repeat(201);
    for (search, status) in [(eight.as_str(), 200), (nine, 400), (long.as_str(), 400)] {
        let reply = Call::get(&format!("/api/v1/contacts?search={search}"))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(reply.status, status, "{search}: {}", reply.body);
    }
}

#[tokio::test]
async fn the_talent_pool_holds_candidates_only_on_every_path() {
    let org = growth_org().await;
    let router = contacts_router().await;
    let get = |id: String| {
        let key = org.key.clone();
        async move {
            Call::get(&format!("/api/v1/contacts/{id}"))
                .key(&key)
                .send(&contacts_router().await)
                .await
                .body["data"]
                .clone()
        }
    };
    let days_left = |contact: &Value| {
        let at = shared::clock::parse(contact["pool_expires_at"].as_str().unwrap()).unwrap();
        (at - shared::clock::now()).whole_days()
    };
    // Removing `candidate` takes the contact out of the pool.
    let made = create(
        &org,
        json!({"full_name": "Ex", "kind": ["candidate", "client"]}),
    )
    .await;
    let ex = made.body["data"]["id"].as_str().unwrap().to_string();
    let patched = patch(&format!("/api/v1/contacts/{ex}"))
        .key(&org.key)
        .json(&json!({"kind": ["client"]}))
        .send(&router)
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["data"]["pool_expires_at"], Value::Null);
    // A window for a non-candidate is refused, on create and on update.
    let refused = patch(&format!("/api/v1/contacts/{ex}"))
        .key(&org.key)
        .json(&json!({"pool_expires_at": "2030-01-01T00:00:00Z"}))
        .send(&router)
        .await;
    assert_eq!(
        (refused.status.as_u16(), refused.error_code()),
        (400, "invalid_body")
    );
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("pool_expires_at"));
    let refused = create(
        &org,
        json!({"full_name": "P", "kind": ["prospect"], "pool_expires_at": "2030-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        get(ex.clone()).await,
        patched.body["data"],
        "a refused PATCH changes nothing"
    );

    // A candidate dossier made with `contact_id` makes its contact a candidate with a full
    // window, as the email-match path does; a shorter window is renewed.
    let prospect = create(&org, json!({"full_name": "Pro", "kind": ["prospect"]})).await;
    let prospect = prospect.body["data"]["id"].as_str().unwrap().to_string();
    let soon = (shared::clock::now() + time::Duration::days(10))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let expiring = create(
        &org,
        json!({"full_name": "Soon", "email": "soon@example.com", "kind": ["candidate"], "pool_expires_at": soon}),
    )
    .await;
    let expiring = expiring.body["data"]["id"].as_str().unwrap().to_string();
    for (body, contact) in [
        (
            json!({"type": "candidate", "name": "Pro", "contact_id": prospect}),
            &prospect,
        ),
        (
            json!({"type": "candidate", "name": "Soon", "contact_id": expiring}),
            &expiring,
        ),
        (
            json!({"type": "candidate", "name": "Soon", "email": "SOON@example.com"}),
            &expiring,
        ),
    ] {
        let made = post("/api/v1/dossiers")
            .key(&org.key)
            .json(&body)
            .send(&integration_tests::dossiers_router().await)
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
        let contact = get(contact.clone()).await;
        assert!(
            contact["kind"]
                .as_array()
                .unwrap()
                .contains(&json!("candidate")),
            "{body}: {contact}"
        );
        assert!(
            (364..=365).contains(&days_left(&contact)),
            "{body}: {contact}"
        );
    }
    assert_eq!(
        get(prospect).await["kind"],
        json!(["prospect", "candidate"])
    );
}
