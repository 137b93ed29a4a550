//! Listing contacts: filters with exact totals, indexes agreeing with a full pass, cost.

use integration_tests::{contacts_router, growth_org, patch, post, Call, TestOrg};
use serde_json::{json, Value};

use super::create;

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
        shared::domain::contacts::create(&core.db, org.id, input, shared::clock::now())
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
