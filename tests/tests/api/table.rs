//! What the table layer promises against DynamoDB Local: expired items are gone before TTL
//! deletes them.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{growth_org, stack};
use shared::table::query::{Query, SortKey};
use shared::table::schema::TTL_ATTRIBUTE;
use shared::table::store::{key, n, s};

/// TTL deletes an expired item within a few days, not at its expiry: until then reads
/// would still find it. Every read of the table leaves it out.
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html>
#[tokio::test]
async fn an_item_past_its_expiry_is_gone_for_every_read() {
    let org = growth_org().await;
    let db = stack().await.core().db;
    let pk = shared::table::keys::org_pk(org.id);
    let now = shared::clock::now().unix_timestamp();
    for (sk, expires) in [("TTLTEST#expired", now - 60), ("TTLTEST#live", now + 3600)] {
        let mut item = key(&pk, sk);
        item.insert(TTL_ATTRIBUTE.into(), n(expires));
        db.put_item(item).await.unwrap();
    }
    assert!(db.get_item(&pk, "TTLTEST#expired").await.unwrap().is_none());
    assert!(db.get_item(&pk, "TTLTEST#live").await.unwrap().is_some());
    let mut pages = db.pages(Query::table(&pk).sort(SortKey::BeginsWith("TTLTEST#".into())));
    let mut found = Vec::new();
    while let Some(page) = pages.next(None).await.unwrap() {
        found.extend(page.into_iter().map(|item| item["SK"].clone()));
    }
    assert_eq!(found, [s("TTLTEST#live")]);
    let both = db
        .batch_get(vec![key(&pk, "TTLTEST#expired"), key(&pk, "TTLTEST#live")])
        .await
        .unwrap();
    assert_eq!(both.len(), 1);
    assert_eq!(both[0]["SK"], AttributeValue::S("TTLTEST#live".into()));
}
