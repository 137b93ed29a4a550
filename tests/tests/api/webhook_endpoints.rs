//! `/webhook_endpoints`: subscribing and unsubscribing through the API, under the same rules
//! as `leadgrid-admin webhook …`, which runs the same domain functions.

use std::time::Duration;

use http::Method;
use integration_tests::verifiers::Verifier;
use integration_tests::{
    delete, dossiers_router, growth_org, pipeline, post, stack, webhooks_router, Call, Receiver,
};
use serde_json::{json, Value};
use shared::web::auth::Scope;
use shared::webhooks::endpoints::MAX_ENDPOINTS;

async fn subscribe(key: &str, body: Value) -> integration_tests::Reply {
    post("/api/v1/webhook_endpoints")
        .key(key)
        .json(&body)
        .send(&webhooks_router().await)
        .await
}

/// A receiver on 127.0.0.1 that answers 200, subscribed to `dossier.created` through the
/// API: the receiver, the endpoint's id and its secret.
async fn subscribed_receiver(key: &str) -> (Receiver, String, String) {
    let receiver = Receiver::start(|_, _| 200).await;
    let created = subscribe(
        key,
        json!({"url": receiver.url, "events": ["dossier.created"]}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let data = &created.body["data"];
    let id = data["id"].as_str().unwrap().to_string();
    let secret = data["secret"].as_str().unwrap().to_string();
    (receiver, id, secret)
}

#[tokio::test]
async fn an_endpoint_is_created_read_listed_and_deleted() {
    let org = growth_org().await;
    let created = subscribe(
        &org.key,
        json!({"url": "https://hooks.example.com/leadgrid", "description": "CRM sync"}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let endpoint = &created.body["data"];
    let id = endpoint["id"].as_str().unwrap().to_string();
    assert_eq!(endpoint["url"], "https://hooks.example.com/leadgrid");
    assert_eq!(endpoint["description"], "CRM sync");
    assert_eq!(
        endpoint["events"],
        json!([
            "dossier.created",
            "dossier.updated",
            "dossier.stage_changed",
            "dossier.deleted",
            "note.created"
        ]),
        "all five by default"
    );
    assert!(endpoint["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(endpoint["disabled_at"], Value::Null);

    let router = webhooks_router().await;
    let shown = Call::get(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["data"]["url"], endpoint["url"]);
    assert!(
        shown.body["data"].get("secret").is_none(),
        "shown once only"
    );

    let listed = Call::get("/api/v1/webhook_endpoints")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["meta"]["total"], 1);
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
    assert!(listed.body["data"][0].get("secret").is_none());

    // The CLI sees what the API made: one implementation.
    let operators = stack().await.admin().list_webhooks(org.id).await.unwrap();
    assert_eq!(operators.len(), 1);
    assert_eq!(operators[0].id.to_string(), id);
    assert_eq!(operators[0].description.as_deref(), Some("CRM sync"));

    let path = format!("/api/v1/webhook_endpoints/{id}");
    let deleted = delete(&path).key(&org.key).send(&router).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["data"], json!({"id": id, "deleted": true}));
    for method in [Method::GET, Method::DELETE] {
        let gone = Call::new(method, &path).key(&org.key).send(&router).await;
        assert_eq!(gone.status, 404);
        assert_eq!(gone.error_code(), "not_found");
    }
}

#[tokio::test]
async fn every_route_needs_the_webhooks_manage_scope() {
    let org = growth_org().await;
    let without: Vec<Scope> = Scope::ALL
        .iter()
        .copied()
        .filter(|scope| *scope != Scope::WebhooksManage)
        .collect();
    let key = org.key_with(&without).await;
    let id = uuid::Uuid::now_v7();
    let router = webhooks_router().await;
    for (method, path, body) in [
        (Method::GET, "/api/v1/webhook_endpoints".to_string(), None),
        (
            Method::POST,
            "/api/v1/webhook_endpoints".to_string(),
            Some(json!({"url": "https://hooks.example.com/"})),
        ),
        (Method::GET, format!("/api/v1/webhook_endpoints/{id}"), None),
        (
            Method::DELETE,
            format!("/api/v1/webhook_endpoints/{id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhook_endpoints/{id}/rotate_secret"),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/webhook_endpoints/{id}"),
            Some(json!({"disabled": true})),
        ),
        (
            Method::POST,
            format!("/api/v1/webhook_endpoints/{id}/replay"),
            Some(json!({"event_id": "evt_00000000000000000000000000000000"})),
        ),
        (
            Method::POST,
            format!("/api/v1/webhook_endpoints/{id}/test"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/webhook_endpoints/{id}/attempts"),
            None,
        ),
    ] {
        let mut call = Call::new(method.clone(), &path).key(&key);
        if let Some(body) = &body {
            call = call.json(body);
        }
        let reply = call.send(&router).await;
        assert_eq!(reply.status, 403, "{method} {path}");
        assert!(reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("webhooks:manage"));
    }
}

#[tokio::test]
async fn refused_input_is_a_400_that_names_the_field_and_writes_nothing() {
    let org = growth_org().await;
    for body in [
        json!({"url": "ftp://hooks.example.com/"}),
        json!({"url": "https://10.0.0.8/hook"}),
        json!({"url": "https://hooks.example.com:22/hook"}),
        json!({"url": "https://user@hooks.example.com/hook"}),
        json!({"url": "https://hooks.example.com/", "events": []}),
        json!({"url": "https://hooks.example.com/", "events": ["dossier.exploded"]}),
        json!({"url": "https://hooks.example.com/", "description": "two\u{1b}[31m"}),
        json!({"url": "https://hooks.example.com/", "description": "x".repeat(501)}),
        json!({"url": "https://hooks.example.com/", "secret": "whsec_mine"}),
        json!({"events": ["note.created"]}),
    ] {
        let reply = subscribe(&org.key, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.error_code(), "invalid_body", "{body}");
    }
    let listed = Call::get("/api/v1/webhook_endpoints")
        .key(&org.key)
        .send(&webhooks_router().await)
        .await;
    assert_eq!(listed.body["meta"]["total"], 0);
}

#[tokio::test]
async fn an_organization_has_at_most_sixteen_endpoints_even_when_asked_at_once() {
    let org = growth_org().await;
    let attempts = (0..MAX_ENDPOINTS + 4).map(|i| {
        let key = org.key.clone();
        async move {
            subscribe(
                &key,
                json!({"url": format!("https://hooks.example.com/{i}")}),
            )
            .await
            .status
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let made = statuses.iter().filter(|s| s.as_u16() == 201).count();
    assert_eq!(made as u64, MAX_ENDPOINTS, "{statuses:?}");
    let refused = subscribe(&org.key, json!({"url": "https://hooks.example.com/more"})).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.error_code(), "limit_reached");

    let router = webhooks_router().await;
    let listed = Call::get("/api/v1/webhook_endpoints?per_page=100")
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(listed.body["meta"]["total"], MAX_ENDPOINTS);
    let first = listed.body["data"][0]["id"].as_str().unwrap();
    let deleted = delete(&format!("/api/v1/webhook_endpoints/{first}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(deleted.status, 200);
    let again = subscribe(&org.key, json!({"url": "https://hooks.example.com/again"})).await;
    assert_eq!(again.status, 201, "a deletion gives its place back");
}

#[tokio::test]
async fn a_rotation_returns_the_new_secret_and_keeps_the_old_one_for_its_grace() {
    let org = growth_org().await;
    let created = subscribe(&org.key, json!({"url": "https://hooks.example.com/"})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let router = webhooks_router().await;
    let rotate = |body: Value| {
        post(&format!("/api/v1/webhook_endpoints/{id}/rotate_secret"))
            .key(&org.key)
            .json(&body)
    };
    let rotated = rotate(json!({"grace_hours": 2})).send(&router).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let secret = rotated.body["data"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_ne!(secret, created.body["data"]["secret"].as_str().unwrap());
    let shown = Call::get(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert!(shown.body["data"]["previous_secret_expires_at"].is_string());

    for bad in [
        json!({"grace_hours": 169}),
        json!({"grace_hours": -1}),
        json!({"grace": 1}),
    ] {
        let reply = rotate(bad.clone()).send(&router).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
    let missing = post(&format!(
        "/api/v1/webhook_endpoints/{}/rotate_secret",
        uuid::Uuid::now_v7()
    ))
    .key(&org.key)
    .json(&json!({}))
    .send(&router)
    .await;
    assert_eq!(missing.status, 404);
}

/// A REST-hook subscription from start to end, through the real delivery path: subscribe,
/// an event arrives signed with the secret the API returned, unsubscribe, nothing more.
#[tokio::test]
async fn subscribe_receive_verify_unsubscribe() {
    pipeline();
    let org = growth_org().await;
    let (receiver, id, secret) = subscribed_receiver(&org.key).await;

    let dossiers = dossiers_router().await;
    let made = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "Subscribed"}))
        .send(&dossiers)
        .await;
    assert_eq!(made.status, 201);
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    let signature = got[0]
        .headers
        .get("x-leadgrid-signature")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(Verifier::Rust.verifies(signature, &got[0].body, &secret, 300));
    assert_eq!(got[0].event_id(), {
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        body["id"].as_str().unwrap().to_string()
    });

    let unsubscribed = delete(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&webhooks_router().await)
        .await;
    assert_eq!(unsubscribed.status, 200);
    let after = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "After unsubscribing"}))
        .send(&dossiers)
        .await;
    assert_eq!(after.status, 201);
    // Time for the stream and queue pollers to carry it, were anything subscribed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.requests().len(), 1, "nothing after unsubscribing");
}

#[tokio::test]
async fn a_patch_changes_what_it_names_under_if_match() {
    let org = growth_org().await;
    let created = subscribe(&org.key, json!({"url": "https://hooks.example.com/a"})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/webhook_endpoints/{id}");
    let first_tag = created.header("etag").unwrap().to_string();
    let router = webhooks_router().await;
    let patch = |body: Value| integration_tests::patch(&path).key(&org.key).json(&body);

    let changed = patch(json!({"events": ["note.created"], "description": "notes only"}))
        .header("if-match", &first_tag)
        .send(&router)
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["data"]["events"], json!(["note.created"]));
    assert_eq!(changed.body["data"]["description"], "notes only");
    assert_eq!(changed.body["data"]["url"], "https://hooks.example.com/a");
    let second_tag = changed.header("etag").unwrap().to_string();
    assert_ne!(second_tag, first_tag);

    let stale = patch(json!({"description": "lost update"}))
        .header("if-match", &first_tag)
        .send(&router)
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.error_code(), "precondition_failed");

    for bad in [
        json!({"url": "http://10.1.2.3/hook"}),
        json!({"events": []}),
        json!({"disabled": "yes"}),
        json!({"secret": "whsec_mine"}),
    ] {
        let reply = patch(bad.clone()).send(&router).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
    let same = patch(json!({"description": "notes only"}))
        .send(&router)
        .await;
    assert_eq!(
        same.header("etag"),
        Some(second_tag.as_str()),
        "no change, no new version"
    );
    let cleared = patch(json!({"description": null})).send(&router).await;
    assert_eq!(cleared.body["data"]["description"], Value::Null);

    let refused = delete(&path)
        .key(&org.key)
        .header("if-match", &second_tag)
        .send(&router)
        .await;
    assert_eq!(refused.status, 412, "the description changed since");
    let current = cleared.header("etag").unwrap().to_string();
    let deleted = delete(&path)
        .key(&org.key)
        .header("if-match", &current)
        .send(&router)
        .await;
    assert_eq!(deleted.status, 200);
}

/// Disabled: nothing is sent. Enabled again: events made from then on are sent.
#[tokio::test]
async fn a_disabled_endpoint_gets_nothing_until_it_is_enabled_again() {
    pipeline();
    let org = growth_org().await;
    let (receiver, id, _) = subscribed_receiver(&org.key).await;
    let path = format!("/api/v1/webhook_endpoints/{id}");
    let router = webhooks_router().await;
    let set_disabled = |disabled: bool| {
        integration_tests::patch(&path)
            .key(&org.key)
            .json(&json!({ "disabled": disabled }))
    };
    let disabled = set_disabled(true).send(&router).await;
    assert_eq!(disabled.status, 200);
    assert!(disabled.body["data"]["disabled_at"].is_string());

    let dossiers = dossiers_router().await;
    let create = |name: &'static str| {
        post("/api/v1/dossiers")
            .key(&org.key)
            .json(&json!({"type": "sales", "name": name}))
    };
    assert_eq!(create("While disabled").send(&dossiers).await.status, 201);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(receiver.requests().is_empty(), "nothing while disabled");

    let enabled = set_disabled(false).send(&router).await;
    assert_eq!(enabled.body["data"]["disabled_at"], Value::Null);
    let after = create("After enabling").send(&dossiers).await;
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_after: Vec<Value> = receiver
        .requests()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["data"]["id"].clone())
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got_after, [after.body["data"]["id"].clone()]);
}

/// A replay sends the same event again, through the queue and the delivery function.
#[tokio::test]
async fn a_replay_sends_a_past_event_again_unchanged() {
    pipeline();
    let org = growth_org().await;
    let (receiver, id, _) = subscribed_receiver(&org.key).await;
    let made = post("/api/v1/dossiers")
        .key(&org.key)
        .json(&json!({"type": "sales", "name": "Replayed"}))
        .send(&dossiers_router().await)
        .await;
    assert_eq!(made.status, 201);
    let first = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    let event_id = first[0].event_id();

    let router = webhooks_router().await;
    let replay = |endpoint: &str, event: &str| {
        post(&format!("/api/v1/webhook_endpoints/{endpoint}/replay"))
            .key(&org.key)
            .json(&json!({ "event_id": event }))
    };
    let queued = replay(&id, &event_id).send(&router).await;
    assert_eq!(queued.status, 200, "{}", queued.body);
    assert_eq!(
        queued.body["data"],
        json!({"event_id": event_id, "event_type": "dossier.created", "endpoint_id": id, "queued": true})
    );
    let both = receiver
        .wait_for(Duration::from_secs(120), |got| got.len() >= 2)
        .await;
    assert_eq!(both[1].event_id(), event_id);
    assert_eq!(both[1].body, both[0].body, "the same body, byte for byte");

    let malformed = replay(&id, "evt_../../x").send(&router).await;
    assert_eq!(malformed.status, 400);
    let unknown = replay(&id, "evt_00000000000000000000000000000000")
        .send(&router)
        .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("kept 7 days"));
    let no_endpoint = replay(&uuid::Uuid::now_v7().to_string(), &event_id)
        .send(&router)
        .await;
    assert_eq!(no_endpoint.status, 404);

    // What an outage missed is replayed once the endpoint is enabled again, though it was
    // made before: the replay was asked for after.
    let set_disabled = |disabled: bool| {
        integration_tests::patch(&format!("/api/v1/webhook_endpoints/{id}"))
            .key(&org.key)
            .json(&json!({ "disabled": disabled }))
    };
    assert_eq!(set_disabled(true).send(&router).await.status, 200);
    let refused = replay(&id, &event_id).send(&router).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.error_code(), "endpoint_disabled");
    assert_eq!(set_disabled(false).send(&router).await.status, 200);
    assert_eq!(replay(&id, &event_id).send(&router).await.status, 200);
    let three = receiver
        .wait_for(Duration::from_secs(120), |got| got.len() >= 3)
        .await;
    assert_eq!(three[2].event_id(), event_id);
}

fn attempts_path(endpoint: &str, query: &str) -> String {
    format!("/api/v1/webhook_endpoints/{endpoint}/attempts?{query}")
}

/// The attempts of `endpoint` for `event`, once the attempt log shows at least one.
async fn logged_attempts(key: &str, endpoint: &str, event: &str) -> Vec<Value> {
    let router = webhooks_router().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = Call::get(&attempts_path(endpoint, &format!("event_id={event}")))
            .key(key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let attempts = reply.body["data"].as_array().unwrap().clone();
        if !attempts.is_empty() {
            return attempts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt for {event} was logged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The log as the delivery worker writes it, read newest first a page at a time, whole or
/// for one event.
#[tokio::test]
async fn the_attempt_log_pages_newest_first_by_cursor() {
    use shared::domain::outbox::EventType;
    use shared::webhooks::{Attempt, Outcome, WebhookType};
    let org = growth_org().await;
    let created = subscribe(&org.key, json!({"url": "https://hooks.example.com/log"})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let events = [
        "evt_0000000000000000000000000000000a",
        "evt_0000000000000000000000000000000b",
    ];
    let stack = stack().await;
    let mut made = Vec::new();
    for n in 0..5 {
        let attempt = Attempt {
            id: shared::ids::new_id(),
            endpoint_id: id.parse().unwrap(),
            event_id: events[n % 2].into(),
            event_type: WebhookType::Domain(EventType::DossierCreated),
            attempt: n as u32 / 2 + 1,
            url: Some("https://hooks.example.com/log".into()),
            created_at: shared::clock::now(),
            duration_ms: 12,
            status: Some(500),
            error: None,
            response_body: Some("not yet".into()),
            outcome: Outcome::Retrying,
            timed_out: false,
        };
        shared::webhooks::attempts::record(&stack.core().db, org.id, &attempt)
            .await
            .unwrap();
        made.push((attempt.id.to_string(), attempt.event_id));
    }
    made.reverse();

    let router = webhooks_router().await;
    let read_all = |filter: &'static str| {
        let (router, key, id) = (router.clone(), org.key.clone(), id.clone());
        async move {
            let (mut seen, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
            loop {
                let mut query = format!("per_page=2{filter}");
                if let Some(cursor) = &cursor {
                    query.push_str(&format!("&cursor={cursor}"));
                }
                let reply = Call::get(&attempts_path(&id, &query))
                    .key(&key)
                    .send(&router)
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.body);
                assert_eq!(reply.body["meta"]["per_page"], 2);
                assert!(reply.body["meta"].get("total").is_none(), "no count kept");
                pages += 1;
                for attempt in reply.body["data"].as_array().unwrap() {
                    assert_eq!(attempt["endpoint_id"], id.as_str());
                    assert_eq!(attempt["status"], 500);
                    assert_eq!(attempt["outcome"], "retrying");
                    seen.push((
                        attempt["id"].as_str().unwrap().to_string(),
                        attempt["event_id"].as_str().unwrap().to_string(),
                    ));
                }
                match reply.body["meta"]["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_string()),
                    None => return (seen, pages),
                }
            }
        }
    };
    assert_eq!(read_all("").await, (made.clone(), 3), "newest first");
    let of_a: Vec<_> = made
        .iter()
        .filter(|(_, e)| e == events[0])
        .cloned()
        .collect();
    assert_eq!(
        read_all("&event_id=evt_0000000000000000000000000000000a").await,
        (of_a, 2)
    );

    for query in [
        "page=2",
        "cursor=abc",
        "event_id=evt_x",
        "event_id=evt_0000000000000000000000000000000a%23",
        "per_page=0",
        "per_page=101",
        "bogus=1",
        "event_id=evt_0000000000000000000000000000000a&event_id=evt_0000000000000000000000000000000b",
    ] {
        let reply = Call::get(&attempts_path(&id, query))
            .key(&org.key)
            .send(&router)
            .await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_eq!(reply.error_code(), "invalid_query", "{query}");
    }
    let unknown = Call::get(&attempts_path(&uuid::Uuid::now_v7().to_string(), ""))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(unknown.status, 404);
    let stranger = growth_org().await;
    let elsewhere = Call::get(&attempts_path(&id, ""))
        .key(&stranger.key)
        .send(&router)
        .await;
    assert_eq!(elsewhere.status, 404, "another organization's endpoint");
}

/// A test goes to the one endpoint it names, signed like any event, even while that
/// endpoint is disabled, and is logged with the endpoint's attempts.
#[tokio::test]
async fn a_test_ping_goes_only_where_asked_even_when_disabled() {
    pipeline();
    let org = growth_org().await;
    let (receiver, id, secret) = subscribed_receiver(&org.key).await;
    let (bystander, _, _) = subscribed_receiver(&org.key).await;
    let router = webhooks_router().await;
    let test = |endpoint: &str| post(&format!("/api/v1/webhook_endpoints/{endpoint}/test"));

    // A bare POST, as `curl -X POST` sends it.
    let queued = test(&id).key(&org.key).send(&router).await;
    assert_eq!(queued.status, 200, "{}", queued.body);
    assert_eq!(queued.body["data"]["event_type"], "ping");
    assert_eq!(queued.body["data"]["endpoint_id"], id.as_str());
    let ping_id = queued.body["data"]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    let got = receiver
        .wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    assert_eq!(got[0].event_id(), ping_id);
    assert_eq!(got[0].headers["x-leadgrid-event-type"], "ping");
    let signature = got[0].headers["x-leadgrid-signature"].to_str().unwrap();
    assert!(Verifier::Rust.verifies(signature, &got[0].body, &secret, 300));
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(body["type"], "ping");
    assert_eq!(body["data"], json!({ "endpoint_id": id }));
    let logged = logged_attempts(&org.key, &id, &ping_id).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0]["event_type"], "ping");
    assert_eq!(logged[0]["outcome"], "delivered");
    assert_eq!(logged[0]["status"], 200);
    assert_eq!(logged[0]["url"], receiver.url.as_str());

    let disabled = integration_tests::patch(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .json(&json!({"disabled": true}))
        .send(&router)
        .await;
    assert_eq!(disabled.status, 200);
    let again = test(&id).key(&org.key).json(&json!({})).send(&router).await;
    assert_eq!(again.status, 200, "{}", again.body);
    receiver
        .wait_for(Duration::from_secs(120), |got| got.len() == 2)
        .await;
    let shown = Call::get(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert!(
        shown.body["data"]["disabled_at"].is_string(),
        "still disabled"
    );

    let with_fields = test(&id)
        .key(&org.key)
        .json(&json!({"event": "dossier.created"}))
        .send(&router)
        .await;
    assert_eq!(with_fields.status, 400, "{}", with_fields.body);
    let unknown = test(&uuid::Uuid::now_v7().to_string())
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(unknown.status, 404);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(bystander.requests().is_empty(), "never fanned out");
    assert_eq!(receiver.requests().len(), 2);
}

/// A test the receiver fails is tried once, and neither disables the endpoint nor marks
/// it failing: not even a 410.
#[tokio::test]
async fn a_failed_test_is_not_retried_and_changes_nothing() {
    pipeline();
    let org = growth_org().await;
    let gone = Receiver::start(|_, _| 410).await;
    let created = subscribe(&org.key, json!({"url": gone.url})).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    let router = webhooks_router().await;
    let queued = post(&format!("/api/v1/webhook_endpoints/{id}/test"))
        .key(&org.key)
        .send(&router)
        .await;
    let ping_id = queued.body["data"]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    gone.wait_for(Duration::from_secs(120), |got| !got.is_empty())
        .await;
    let logged = logged_attempts(&org.key, &id, &ping_id).await;
    assert_eq!(logged[0]["outcome"], "failed");
    assert_eq!(logged[0]["status"], 410);
    // The test schedule retries within about a second; a test is not retried at all.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(gone.requests().len(), 1);
    let shown = Call::get(&format!("/api/v1/webhook_endpoints/{id}"))
        .key(&org.key)
        .send(&router)
        .await;
    assert_eq!(shown.body["data"]["disabled_at"], Value::Null);
    assert_eq!(shown.body["data"]["failing_since"], Value::Null);
}
