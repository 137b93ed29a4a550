//! Data maintenance: `contacts reindex` and `cv erase`.

use integration_tests::Call;
use serde_json::Value;

use super::admin;

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
        let contact = contacts::create(&db, org.id, input, shared::clock::now())
            .await
            .unwrap();
        // Back to the shape of a contact written before the indexes: the plain item only.
        let mut items: txn::Transaction = search::contact_words(&contact)
            .iter()
            .map(|word| {
                txn::delete(
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
        items.push(txn::put(plain, None));
        // Nor did they have pool entries, or counts in the pool and kinds counters.
        items.extend(contacts::pool::changes(org.id, Some(&contact), None));
        items.push(txn::update(txn::UpdateSpec {
            pk: org_pk(org.id),
            sk: contacts::COUNTERS_SK.to_string(),
            expression: "ADD kinds_1 :minus".into(),
            condition: None,
            names: Vec::new(),
            values: vec![(":minus".into(), shared::table::store::n(-1))],
        }));
        txn::commit(&db, &items).await.unwrap().unwrap();
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
