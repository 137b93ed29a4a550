//! Organizations of a given size, written in bulk, and the request bodies the operations
//! send.

use futures_util::StreamExt;
use integration_tests::Stack;
use serde_json::json;
use shared::table::store::Db;
use shared::web::auth::Scope;
use uuid::Uuid;

/// The most dossiers an organization is seeded with: they are written through their
/// transactions, which DynamoDB Local slows down superlinearly as the partition grows.
pub(crate) const MOST_DOSSIERS: usize = 10_000;

pub(crate) fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.resize(size, b'a');
    bytes
}

pub(crate) fn multipart(fields: &[(&str, &str)], cv: &[u8]) -> (String, Vec<u8>) {
    let boundary = "leadgridbench";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
    body.extend(cv);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// An organization of `dossiers` dossiers and `contacts` contacts, with enough keys that
/// the benchmark never meets the per-key rate limit.
pub(crate) struct Org {
    pub(crate) id: Uuid,
    pub(crate) keys: Vec<String>,
    pub(crate) dossier: Uuid,
    pub(crate) flow_stages: Vec<Uuid>,
    pub(crate) contacts: Vec<Uuid>,
    /// A webhook endpoint with as many logged attempts as the organization has contacts.
    pub(crate) endpoint: Uuid,
    /// The newest event in that log, with four attempts.
    pub(crate) attempted_event: String,
}

pub(crate) async fn seed(stack: &Stack, dossiers: usize, contacts: usize) -> Org {
    let admin = stack.admin();
    let org = admin
        .create_org(
            &format!("Bench {dossiers}/{contacts}"),
            shared::domain::orgs::Plan::Growth,
        )
        .await
        .unwrap();
    let mut keys = Vec::new();
    for _ in 0..32 {
        keys.push(
            admin
                .create_key(org.id, Scope::ALL.to_vec(), None, None)
                .await
                .unwrap()
                .key,
        );
    }
    let db = stack.core().db;
    let dossiers = seed_dossiers(&db, org.id, dossiers).await;
    let contacts = seed_contacts(&db, org.id, contacts).await;
    shared::domain::contacts::recount(&db, org.id)
        .await
        .unwrap();
    let (endpoint, attempted_event) = seed_attempt_log(stack, org.id, contacts.len()).await;
    let dossier = *dossiers.iter().max().unwrap();
    Org {
        id: org.id,
        keys,
        dossier,
        flow_stages: flow_stages(&db, org.id, dossier).await,
        contacts,
        endpoint,
        attempted_event,
    }
}

/// `count` dossiers, sales and candidates alternately.
async fn seed_dossiers(db: &Db, org: Uuid, count: usize) -> Vec<Uuid> {
    futures_util::stream::iter(0..count)
        .map(|i| {
            let db = db.clone();
            async move {
                let kind = if i % 2 == 0 { "sales" } else { "candidate" };
                let input =
                    serde_json::from_value(json!({"type": kind, "name": format!("Dossier {i}")}))
                        .unwrap();
                shared::domain::dossiers::create(&db, org, input, shared::clock::now())
                    .await
                    .unwrap()
                    .id
            }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// `count` contacts, without the organization's counters: the caller recounts them once.
async fn seed_contacts(db: &Db, org: Uuid, count: usize) -> Vec<Uuid> {
    // Contacts are put in bulk: DynamoDB Local takes many times longer per transaction as
    // the partition grows, and 50,000 contacts would not be written in half an hour.
    futures_util::stream::iter(0..count)
        .map(|i| {
            let db = db.clone();
            async move {
                let kind = match i % 3 {
                    0 => json!(["candidate"]),
                    1 => json!(["prospect", "client"]),
                    _ => json!(["supplier"]),
                };
                let mut body = json!({"full_name": format!("Contact {i}"), "email": format!("c{i}@bench.example"), "kind": kind});
                // Ten contacts share a word at every size: a search matching ten.
                if i < 10 {
                    body["role"] = json!("Quartermaster");
                }
                // A sixth of the contacts (half the candidates) have left the pool.
                if i % 6 == 0 {
                    body["pool_expires_at"] = json!("2020-01-01T00:00:00Z");
                }
                let input = serde_json::from_value(body).unwrap();
                let (contact, writes) = shared::domain::contacts::creation(&db, org, input, shared::clock::now())
                    .await
                    .unwrap();
                // The items its transaction puts; the counters it would ADD to are set by
                // the caller's one recount.
                let puts: Vec<_> = writes
                    .writes()
                    .iter()
                    .filter_map(|write| match write {
                        shared::table::txn::Write::Put { item, .. } => Some(item.clone()),
                        _ => None,
                    })
                    .collect();
                db.put_all(puts).await.unwrap();
                contact.id
            }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// The stages of the flow `dossier` is in.
async fn flow_stages(db: &Db, org: Uuid, dossier: Uuid) -> Vec<Uuid> {
    let flow = shared::domain::dossiers::get(db, org, dossier)
        .await
        .unwrap()
        .unwrap()
        .flow_id;
    shared::domain::flows::get(db, org, flow)
        .await
        .unwrap()
        .unwrap()
        .stages
        .iter()
        .map(|s| s.id)
        .collect()
}

/// An endpoint and `attempts` attempts in its log, four per event, put in bulk as the
/// delivery worker would write them one by one.
async fn seed_attempt_log(stack: &Stack, org: Uuid, attempts: usize) -> (Uuid, String) {
    use shared::webhooks::{Attempt, Outcome, WebhookType};
    let endpoint = stack
        .admin()
        .create_webhook(
            org,
            "https://hooks.bench.example/leadgrid",
            vec![shared::webhooks::Subscription::Every],
            shared::webhooks::Destinations::from_env().unwrap(),
        )
        .await
        .unwrap()
        .endpoint
        .id;
    let events: Vec<String> = (0..attempts.div_ceil(4))
        .map(|_| shared::domain::outbox::new_event_id())
        .collect();
    let items: Vec<_> = (0..attempts)
        .map(|i| {
            Attempt {
                id: shared::ids::new_id(),
                endpoint_id: endpoint,
                event_id: events[i / 4].clone(),
                event_type: WebhookType::Domain(shared::domain::outbox::EventType::DossierUpdated),
                attempt: (i % 4) as u32 + 1,
                url: Some("https://hooks.bench.example/leadgrid".into()),
                created_at: shared::clock::now(),
                duration_ms: 40,
                status: Some(if i % 4 == 3 { 200 } else { 503 }),
                error: None,
                response_body: Some("x".repeat(200)),
                outcome: if i % 4 == 3 {
                    Outcome::Delivered
                } else {
                    Outcome::Retrying
                },
                next_attempt_at: None,
                timed_out: false,
            }
            .item(org)
            .unwrap()
        })
        .collect();
    let db = stack.core().db;
    futures_util::stream::iter(items.chunks(250).map(<[_]>::to_vec))
        .map(|chunk| {
            let db = db.clone();
            async move { db.put_all(chunk).await.unwrap() }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    (endpoint, events.last().cloned().unwrap_or_default())
}
