//! The talent pool holds candidates only, whichever path changes a contact.

use integration_tests::{contacts_router, growth_org, patch, post, Call};
use serde_json::{json, Value};

use super::create;

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
