//! `make bench`: what each API operation costs (DynamoDB calls and capacity, other AWS
//! calls, warm latency, the overhead over DynamoDB's own time) at four organization sizes,
//! cold starts and memory of every function binary under a local Lambda Runtime API, and
//! webhook latency through the local pollers. Writes `bench/REPORT.md` and
//! `bench/report.json`. Run it through `leadgrid-local test --`, which provides the stack.

mod cold_starts;
mod meter;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use integration_tests::{Call, Stack};
use serde_json::{json, Value};
use shared::web::auth::Scope;
use shared::web::Core;
use uuid::Uuid;

use cold_starts::{cold_starts, key_only_against_peer};
use meter::{CallMeter, DynamoMeter, Meter, Service, Tally};

const FUNCTIONS: [&str; 6] = [
    "dossiers", "contacts", "flows", "notes", "fanout", "delivery",
];
const API_FUNCTIONS: [&str; 5] = ["dossiers", "contacts", "flows", "notes", "webhooks"];

struct Settings {
    quick: bool,
    sizes: Vec<usize>,
    repetitions: usize,
    cold_runs: usize,
    webhook_events: usize,
    concurrent_creates: usize,
    profile: &'static str,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.resize(size, b'a');
    bytes
}

fn multipart(fields: &[(&str, &str)], cv: &[u8]) -> (String, Vec<u8>) {
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
struct Org {
    id: Uuid,
    keys: Vec<String>,
    dossier: Uuid,
    flow_stages: Vec<Uuid>,
    contacts: Vec<Uuid>,
    /// A webhook endpoint with as many logged attempts as the organization has contacts.
    endpoint: Uuid,
    /// The newest event in that log, with four attempts.
    attempted_event: String,
}

async fn seed(stack: &Stack, dossiers: usize, contacts: usize) -> Org {
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
    let dossiers: Vec<Uuid> = futures_util::stream::iter(0..dossiers)
        .map(|i| {
            let db = db.clone();
            async move {
                let kind = if i % 2 == 0 { "sales" } else { "candidate" };
                let input =
                    serde_json::from_value(json!({"type": kind, "name": format!("Dossier {i}")}))
                        .unwrap();
                shared::domain::dossiers::create(&db, org.id, input)
                    .await
                    .unwrap()
                    .id
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    // Contacts are put in bulk: DynamoDB Local takes many times longer per transaction as
    // the partition grows, and 50,000 contacts would not be written in half an hour.
    let contacts: Vec<Uuid> = futures_util::stream::iter(0..contacts)
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
                let (contact, writes) = shared::domain::contacts::creation(&db, org.id, input)
                    .await
                    .unwrap();
                // The items its transaction puts; the counters it would ADD to are set by
                // one recount below.
                let puts: Vec<_> = writes
                    .into_iter()
                    .filter_map(|write| Some(write.put?.item))
                    .collect();
                db.put_all(puts).await.unwrap();
                contact.id
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    shared::domain::contacts::recount(&db, org.id)
        .await
        .unwrap();
    let (endpoint, attempted_event) = seed_attempt_log(stack, org.id, contacts.len()).await;
    let dossier = *dossiers.iter().max().unwrap();
    let flow = shared::domain::dossiers::get(&db, org.id, dossier)
        .await
        .unwrap()
        .unwrap()
        .flow_id;
    let flow_stages = shared::domain::flows::get(&db, org.id, flow)
        .await
        .unwrap()
        .unwrap()
        .stages
        .iter()
        .map(|s| s.id)
        .collect();
    Org {
        id: org.id,
        keys,
        dossier,
        flow_stages,
        contacts,
        endpoint,
        attempted_event,
    }
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
            shared::domain::outbox::EventType::ALL.to_vec(),
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

/// The per-container parts of the functions, with every AWS client metered.
fn metered(stack: &Stack, meter: &Meter) -> (Core, shared::cv::CvStore) {
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
        .interceptor(DynamoMeter(meter.clone()))
        .build();
    let secrets = aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .config()
        .to_builder()
        .interceptor(CallMeter(meter.clone(), Service::Secrets))
        .build();
    let s3 = shared::config::s3_client(&stack.sdk)
        .config()
        .to_builder()
        .interceptor(CallMeter(meter.clone(), Service::S3))
        .build();
    let core = Core {
        db: shared::table::store::Db::new(
            aws_sdk_dynamodb::Client::from_conf(dynamodb),
            &stack.config.table_name,
        ),
        legacy_pepper: shared::secrets::SecretSource::new(
            aws_sdk_secretsmanager::Client::from_conf(secrets),
            stack.config.api_key_secret_id.clone().unwrap(),
        ),
        plans: Default::default(),
        clock: Default::default(),
    };
    let cvs = shared::cv::CvStore {
        s3: aws_sdk_s3::Client::from_conf(s3),
        bucket: stack.config.cv_bucket.clone().unwrap(),
    };
    (core, cvs)
}

struct Sample {
    latency: Duration,
    tally: Tally,
    status: u16,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(|a, b| a.total_cmp(b));
    percentile(&v, 50.0)
}

fn summarize(samples: &[Sample]) -> Value {
    let mut latencies: Vec<f64> = samples
        .iter()
        .map(|s| s.latency.as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let ratio = median(
        samples
            .iter()
            .filter(|s| s.tally.dynamodb_time > Duration::ZERO)
            .map(|s| s.latency.as_secs_f64() / s.tally.dynamodb_time.as_secs_f64()),
    );
    let errors = samples.iter().filter(|s| s.status >= 500).count();
    json!({
        "requests": samples.len(),
        "statuses": samples.iter().map(|s| s.status).collect::<std::collections::BTreeSet<_>>(),
        "server_errors": errors,
        "p50_ms": latencies.get(latencies.len() / 2).copied().unwrap_or(0.0),
        "p99_ms": percentile(&latencies, 99.0),
        "dynamodb_calls": median(samples.iter().map(|s| s.tally.dynamodb_calls as f64)),
        "read_units": median(samples.iter().map(|s| s.tally.read_units)),
        "write_units": median(samples.iter().map(|s| s.tally.write_units)),
        "s3_calls": median(samples.iter().map(|s| s.tally.s3_calls as f64)),
        "secrets_calls": median(samples.iter().map(|s| s.tally.secrets_calls as f64)),
        "dynamodb_ms_p50": median(samples.iter().map(|s| s.tally.dynamodb_time.as_secs_f64() * 1000.0)),
        "overhead_ratio_p50": ratio,
    })
}

type Prepare<'a> = Box<dyn Fn(usize, &'a str) -> BoxFuture<'a, Call> + 'a>;

/// The operations measured, each as a function of the repetition number and a key.
fn operations<'a>(
    org: &'a Org,
    routers: &'a Routers,
    stack: &'a Stack,
    cursor20: &'a str,
    attempts_cursor20: &'a str,
) -> Vec<(&'static str, &'static str, Prepare<'a>)> {
    let d = org.dossier;
    let stages = &org.flow_stages;
    let mut ops: Vec<(&'static str, &'static str, Prepare<'a>)> = Vec::new();
    macro_rules! op {
        ($name:expr, $function:expr, |$i:ident, $key:ident| $body:expr) => {
            ops.push((
                $name,
                $function,
                Box::new(move |$i: usize, $key: &'a str| async move { $body }.boxed()),
            ));
        };
    }
    op!("auth + rate limit (unknown route)", "flows", |_i, key| {
        Call::get("/api/v1/nope").key(key)
    });
    op!("GET one dossier", "dossiers", |_i, key| Call::get(
        &format!("/api/v1/dossiers/{d}")
    )
    .key(key));
    op!("GET /dossiers page 1", "dossiers", |_i, key| Call::get(
        "/api/v1/dossiers"
    )
    .key(key));
    op!(
        "GET /dossiers page 1, type+status",
        "dossiers",
        |_i, key| Call::get("/api/v1/dossiers?type=sales&status=active").key(key)
    );
    op!("GET /dossiers page 20", "dossiers", |_i, key| Call::get(
        "/api/v1/dossiers?page=20"
    )
    .key(key));
    op!("GET /dossiers page 20 by cursor", "dossiers", |_i, key| {
        Call::get(&format!("/api/v1/dossiers?cursor={cursor20}")).key(key)
    });
    op!("POST /dossiers (JSON)", "dossiers", |i, key| {
        integration_tests::post("/api/v1/dossiers").key(key).json(&json!({"type": "sales", "name": format!("Bench {i}"), "deal_size": 1000, "deal_currency": "EUR"}))
    });
    op!(
        "POST /dossiers (JSON, new contact)",
        "dossiers",
        |i, key| {
            integration_tests::post("/api/v1/dossiers").key(key).json(&json!({"type": "candidate", "name": format!("Bench {i}"), "email": format!("new{i}-{}@bench.example", Uuid::now_v7().simple())}))
        }
    );
    op!(
        "POST /dossiers (multipart, 1 MB CV)",
        "dossiers",
        |i, key| {
            let (content_type, body) = multipart(
                &[("type", "candidate"), ("name", &format!("CV {i}"))],
                &pdf(1_000_000),
            );
            integration_tests::post("/api/v1/dossiers")
                .key(key)
                .raw(&content_type, body)
        }
    );
    op!("PATCH /dossiers/{id} stage move", "dossiers", |i, key| {
        integration_tests::patch(&format!("/api/v1/dossiers/{d}"))
            .key(key)
            .json(&json!({"current_stage_id": stages[i % 2]}))
    });
    op!("DELETE /dossiers/{id} (archive)", "dossiers", |_i, key| {
        let fresh = integration_tests::post("/api/v1/dossiers")
            .key(key)
            .json(&json!({"type": "sales", "name": "To archive"}))
            .send(&routers.plain_dossiers)
            .await;
        let id = fresh.body["data"]["id"].as_str().unwrap().to_string();
        integration_tests::delete(&format!("/api/v1/dossiers/{id}")).key(key)
    });
    op!(
        "POST /dossiers/{id}/cv (raw 1 MB)",
        "dossiers",
        |_i, key| integration_tests::post(&format!("/api/v1/dossiers/{d}/cv"))
            .key(key)
            .raw("application/pdf", pdf(1_000_000))
    );
    op!("GET /dossiers/{id}/cv", "dossiers", |_i, key| Call::get(
        &format!("/api/v1/dossiers/{d}/cv")
    )
    .key(key));
    op!("POST /dossiers/{id}/cv/upload", "dossiers", |_i, key| {
        integration_tests::post(&format!("/api/v1/dossiers/{d}/cv/upload"))
            .key(key)
            .json(&json!({"size": 100_000}))
    });
    op!("POST /dossiers/{id}/cv/complete", "dossiers", |_i, key| {
        let started = integration_tests::post(&format!("/api/v1/dossiers/{d}/cv/upload"))
            .key(key)
            .json(&json!({"size": 100_000}))
            .send(&routers.plain_dossiers)
            .await;
        let upload = &started.body["data"];
        let mut put = reqwest::Client::new().put(upload["url"].as_str().unwrap());
        for (name, value) in upload["headers"].as_object().unwrap() {
            put = put.header(name, value.as_str().unwrap());
        }
        put.body(pdf(100_000))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        integration_tests::post(&format!("/api/v1/dossiers/{d}/cv/complete"))
            .key(key)
            .json(&json!({"upload_id": upload["upload_id"]}))
    });
    op!("GET /contacts page 1", "contacts", |_i, key| Call::get(
        "/api/v1/contacts"
    )
    .key(key));
    op!(
        "GET /contacts kind=candidate&kind=client",
        "contacts",
        |_i, key| Call::get("/api/v1/contacts?kind=candidate&kind=client").key(key)
    );
    op!(
        "GET /contacts pool=in_pool page 1",
        "contacts",
        |_i, key| Call::get("/api/v1/contacts?pool=in_pool").key(key)
    );
    op!(
        "GET /contacts pool=expired page 1",
        "contacts",
        |_i, key| Call::get("/api/v1/contacts?pool=expired").key(key)
    );
    op!("GET /contacts search, 10 matches", "contacts", |_i, key| {
        Call::get("/api/v1/contacts?search=quartermaster").key(key)
    });
    op!("GET /contacts search, two words", "contacts", |_i, key| {
        Call::get("/api/v1/contacts?search=contact%20quartermaster").key(key)
    });
    op!("GET /contacts search and kind", "contacts", |_i, key| {
        Call::get("/api/v1/contacts?search=quartermaster&kind=candidate").key(key)
    });
    op!("GET one contact", "contacts", |i, key| Call::get(&format!(
        "/api/v1/contacts/{}",
        org.contacts[i % org.contacts.len()]
    ))
    .key(key));
    op!("POST /contacts", "contacts", |_i, key| {
        integration_tests::post("/api/v1/contacts").key(key).json(&json!({"full_name": "New", "email": format!("{}@bench.example", Uuid::now_v7().simple()), "kind": ["client"]}))
    });
    op!("PATCH /contacts/{id}", "contacts", |i, key| {
        integration_tests::patch(&format!(
            "/api/v1/contacts/{}",
            org.contacts[i % org.contacts.len()]
        ))
        .key(key)
        .json(&json!({"city": format!("City {i}")}))
    });
    op!("PATCH /contacts/{id} (rename)", "contacts", |i, key| {
        integration_tests::patch(&format!(
            "/api/v1/contacts/{}",
            org.contacts[(i + 10) % org.contacts.len()]
        ))
        .key(key)
        .json(&json!({"full_name": format!("Renamed Contact {i}")}))
    });
    op!("DELETE /contacts/{id}", "contacts", |_i, key| {
        let fresh = integration_tests::post("/api/v1/contacts")
            .key(key)
            .json(&json!({"full_name": "To delete"}))
            .send(&routers.plain_contacts)
            .await;
        integration_tests::delete(&format!(
            "/api/v1/contacts/{}",
            fresh.body["data"]["id"].as_str().unwrap()
        ))
        .key(key)
    });
    op!("GET /dossiers/{id}/contacts", "contacts", |_i, key| {
        Call::get(&format!("/api/v1/dossiers/{d}/contacts")).key(key)
    });
    op!(
        "POST /dossiers/{id}/contacts is_primary",
        "contacts",
        |i, key| {
            integration_tests::post(&format!("/api/v1/dossiers/{d}/contacts")).key(key).json(&json!({"contact_id": org.contacts[i % org.contacts.len()], "role_on_dossier": "champion", "is_primary": true}))
        }
    );
    op!(
        "DELETE /dossiers/{id}/contacts/{contact_id}",
        "contacts",
        |i, key| {
            let contact = org.contacts[(i + org.contacts.len() / 2) % org.contacts.len()];
            integration_tests::post(&format!("/api/v1/dossiers/{d}/contacts"))
                .key(key)
                .json(&json!({"contact_id": contact, "role_on_dossier": "other"}))
                .send(&routers.plain_contacts)
                .await;
            integration_tests::delete(&format!("/api/v1/dossiers/{d}/contacts/{contact}")).key(key)
        }
    );
    op!("GET /dossiers/{id}/notes", "notes", |_i, key| Call::get(
        &format!("/api/v1/dossiers/{d}/notes")
    )
    .key(key));
    op!("POST /dossiers/{id}/notes", "notes", |i, key| {
        integration_tests::post(&format!("/api/v1/dossiers/{d}/notes"))
            .key(key)
            .json(&json!({"content": format!("Note {i}")}))
    });
    op!("GET /flows", "flows", |_i, key| Call::get("/api/v1/flows")
        .key(key));
    op!("GET /flows/{id}/stages", "flows", |_i, key| {
        let flow = shared::domain::dossiers::get(&stack.core().db, org.id, d)
            .await
            .unwrap()
            .unwrap()
            .flow_id;
        Call::get(&format!("/api/v1/flows/{flow}/stages")).key(key)
    });
    let endpoint = org.endpoint;
    let event = &org.attempted_event;
    op!(ATTEMPTS_PAGE_1, "webhooks", |_i, key| Call::get(&format!(
        "/api/v1/webhook_endpoints/{endpoint}/attempts"
    ))
    .key(key));
    op!(ATTEMPTS_PAGE_20, "webhooks", |_i, key| Call::get(&format!(
        "/api/v1/webhook_endpoints/{endpoint}/attempts?cursor={attempts_cursor20}"
    ))
    .key(key));
    op!(ATTEMPTS_OF_EVENT, "webhooks", |_i, key| Call::get(
        &format!("/api/v1/webhook_endpoints/{endpoint}/attempts?event_id={event}")
    )
    .key(key));
    ops
}

struct Routers {
    metered: BTreeMap<&'static str, Router>,
    plain_dossiers: Router,
    plain_contacts: Router,
}

/// The most dossiers an organization is seeded with: they are written through their
/// transactions, which DynamoDB Local slows down superlinearly as the partition grows.
const MOST_DOSSIERS: usize = 10_000;

/// The operations at an organization of `size` contacts and as many dossiers, at most
/// [`MOST_DOSSIERS`].
async fn measure_size(stack: &Stack, settings: &Settings, size: usize) -> Value {
    let dossiers = size.min(MOST_DOSSIERS);
    eprintln!("[bench] seeding {dossiers} dossiers and {size} contacts");
    let started = Instant::now();
    let org = seed(stack, dossiers, size).await;
    eprintln!("[bench] seeded in {:.1} s", started.elapsed().as_secs_f64());
    let meter = Meter::default();
    let (core, cvs) = metered(stack, &meter);
    let routers = Routers {
        metered: BTreeMap::from([
            ("dossiers", dossiers::router(core.clone(), cvs)),
            ("contacts", contacts::router(core.clone())),
            ("notes", notes::router(core.clone())),
            ("flows", flows::router(core.clone())),
            (
                "webhooks",
                webhooks::router(webhooks::Endpoints {
                    core: core.clone(),
                    ..stack.webhook_endpoints()
                }),
            ),
        ]),
        plain_dossiers: dossiers::router(stack.core(), stack.cvs()),
        plain_contacts: contacts::router(stack.core()),
    };
    // A CV to download, and the cursor that starts page 20.
    integration_tests::post(&format!("/api/v1/dossiers/{}/cv", org.dossier))
        .key(&org.keys[0])
        .raw("application/pdf", pdf(1000))
        .send(&routers.plain_dossiers)
        .await;
    let cursor = cursor_to_page_20("/api/v1/dossiers", &org.keys[0], &routers.plain_dossiers).await;
    let attempts_cursor = cursor_to_page_20(
        &format!("/api/v1/webhook_endpoints/{}/attempts", org.endpoint),
        &org.keys[0],
        &integration_tests::webhooks_router().await,
    )
    .await;
    let mut results = serde_json::Map::new();
    let ops = operations(&org, &routers, stack, &cursor, &attempts_cursor);
    // Warm every container: the secret and the plan are read once per container.
    for router in routers.metered.values() {
        Call::get("/api/v1/flows")
            .key(&org.keys[0])
            .send(router)
            .await;
    }
    for (name, function, prepare) in &ops {
        let router = &routers.metered[function];
        // Every key's first request of a minute starts its rate-limit window (one more
        // call): start them all before measuring, as a steady stream of requests would.
        for key in &org.keys {
            Call::get("/api/v1/flows").key(key).send(router).await;
        }
        // Operations that read in proportion to what they skip (offset page 20) would take
        // many minutes at 200 repetitions of 10,000.
        let scans = name.ends_with("page 20");
        let repetitions = match size {
            _ if !scans || size <= 100 => settings.repetitions,
            1000 => settings.repetitions.min(50),
            _ => settings.repetitions.min(20),
        };
        let mut samples = Vec::new();
        for i in 0..repetitions {
            let key = &org.keys[i % org.keys.len()];
            let call = prepare(i, key).await;
            meter.take();
            let started = Instant::now();
            let reply = call.send(router).await;
            let latency = started.elapsed();
            let tally = meter.take();
            samples.push(Sample {
                latency,
                tally,
                status: reply.status.as_u16(),
            });
        }
        let summary = summarize(&samples);
        eprintln!(
            "[bench] {size:>5} {name}: p50 {:.1} ms, {} DynamoDB calls",
            summary["p50_ms"].as_f64().unwrap(),
            summary["dynamodb_calls"]
        );
        results.insert(name.to_string(), summary);
    }
    Value::Object(results)
}

/// The cursor that starts page 20 of a listing (25 to a page), or its last page's when it
/// is shorter.
async fn cursor_to_page_20(path: &str, key: &str, router: &Router) -> String {
    let mut cursor = String::new();
    for _ in 0..19 {
        let url = if cursor.is_empty() {
            path.to_string()
        } else {
            format!("{path}?cursor={cursor}")
        };
        let page = Call::get(&url).key(key).send(router).await;
        match page.body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    if cursor.is_empty() {
        cursor = shared::domain::pagination::encode_cursor(Uuid::nil().into());
    }
    cursor
}

/// Concurrent `POST /dossiers` in one organization, each client with its own key: how many
/// a second commit, and whether any failed. Every create adds to the organization's
/// counters in its transaction; split over shards, concurrent creates seldom conflict.
async fn concurrent_creates(stack: &Stack, settings: &Settings) -> Value {
    let org = seed(stack, 1, 0).await;
    let router = dossiers::router(stack.core(), stack.cvs());
    let clients = 16;
    let per_client = settings.concurrent_creates / clients;
    let started = Instant::now();
    let statuses: Vec<u16> = futures_util::future::join_all((0..clients).map(|client| {
        let (router, key) = (router.clone(), org.keys[client % org.keys.len()].clone());
        async move {
            let mut statuses = Vec::new();
            for i in 0..per_client {
                let reply = integration_tests::post("/api/v1/dossiers")
                    .key(&key)
                    .json(&json!({"type": "sales", "name": format!("Burst {client}/{i}")}))
                    .send(&router)
                    .await;
                statuses.push(reply.status.as_u16());
            }
            statuses
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    let seconds = started.elapsed().as_secs_f64();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let per_second = created as f64 / seconds;
    eprintln!("[bench] {created} concurrent creates in one organization, {per_second:.0}/s");
    json!({
        "clients": clients,
        "requests": statuses.len(),
        "created": created,
        "failed": statuses.len() - created,
        "per_second": per_second,
    })
}

async fn webhook_latency(stack: &Stack, settings: &Settings) -> Value {
    integration_tests::pipeline();
    let org = integration_tests::growth_org().await;
    let receiver = integration_tests::Receiver::start(|_, _| 200).await;
    let events =
        leadgrid_tools::admin::webhooks::parse_event_types(Some("dossier.created")).unwrap();
    let destinations = shared::webhooks::Destinations::parse("public,loopback").unwrap();
    stack
        .admin()
        .create_webhook(org.id, &receiver.url, events, destinations)
        .await
        .unwrap();
    let router = dossiers::router(stack.core(), stack.cvs());
    let mut committed = BTreeMap::new();
    for i in 0..settings.webhook_events {
        let reply = integration_tests::post("/api/v1/dossiers")
            .key(&org.key)
            .json(&json!({"type": "sales", "name": format!("Hook {i}")}))
            .send(&router)
            .await;
        committed.insert(
            reply.body["data"]["id"].as_str().unwrap().to_string(),
            Instant::now(),
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = receiver
        .wait_for(Duration::from_secs(120), |got| {
            got.len() >= settings.webhook_events
        })
        .await;
    let mut latencies: Vec<f64> = received
        .iter()
        .filter_map(|r| {
            let body: Value = serde_json::from_str(&r.body).ok()?;
            let at = committed.get(body["data"]["id"].as_str()?)?;
            Some(r.at.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    json!({"events": latencies.len(), "p50_ms": percentile(&latencies, 50.0), "p99_ms": percentile(&latencies, 99.0)})
}

fn binary_sizes() -> Value {
    let mut out = serde_json::Map::new();
    for function in FUNCTIONS {
        // Where `make package` (`sam build`) puts each function's bootstrap.
        let mut logical: Vec<char> = function.chars().collect();
        logical[0] = logical[0].to_ascii_uppercase();
        let logical: String = logical.into_iter().collect();
        let path = root().join(format!(".aws-sam/build/{logical}Function/bootstrap"));
        if let Ok(meta) = std::fs::metadata(&path) {
            out.insert(
                function.into(),
                json!({"bootstrap_mb": meta.len() as f64 / 1e6}),
            );
        }
    }
    Value::Object(out)
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string());
    json!({
        "cpu": model,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "date": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap(),
    })
}

fn markdown(report: &Value, settings: &Settings) -> String {
    let mut md = String::new();
    md.push_str("# LeadGrid benchmark report\n\n");
    md.push_str(&format!(
        "Measured {} on {} ({} cores), {} builds{}. Reproduce with `make bench` (`make bench QUICK=1` for a smoke run). Figures are medians unless marked p99; latencies are warm requests through the function's router in process against DynamoDB Local and moto, so they show our code's cost plus the local services', not AWS's.\n\n",
        report["machine"]["date"].as_str().unwrap_or_default(),
        report["machine"]["cpu"].as_str().unwrap_or("an unknown CPU"),
        report["machine"]["cores"],
        settings.profile,
        if settings.quick { " (QUICK: one size, few repetitions; not comparable)" } else { "" }
    ));
    md.push_str("## Targets\n\n| measure | target | measured | met |\n|---|---|---|---|\n");
    for target in report["targets"].as_array().unwrap() {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            target["measure"].as_str().unwrap(),
            target["target"].as_str().unwrap(),
            target["measured"].as_str().unwrap(),
            if target["met"].as_bool().unwrap() {
                "yes"
            } else {
                "**no**"
            }
        ));
    }
    for (size, ops) in report["operations"].as_object().unwrap() {
        md.push_str(&operations_table(size, ops));
    }
    md.push_str(concat!(
        "\n## Cold starts (local Runtime API emulator)\n\n",
        "Each run spawns the release binary with its event already queued, in the environment Lambda gives a function ",
        "(the function's settings and the runtime's variables, none of this shell's, one CA bundle). ",
        "`trivial` is an unauthenticated API request (401, no AWS call) or an empty batch; `real` is an authenticated ",
        "`GET` list for the API functions, a stream batch of one outbox record for `fanout` and one delivery for `delivery`. ",
        "The last column is init in this machine's own environment, for comparison.\n\n",
        "What a cold API function does before its first response: load the SDK configuration and build its clients ",
        "(the SDK trusts only the Amazon Trust Services roots, so no CA store is parsed), read the secret and open a ",
        "DynamoDB connection (both in init, at once), and ask for the event; then verify the key, count the request and ",
        "read the plan in one write to the key's item, and run the handler. ",
        "On AWS, init of a sandbox started ahead of a request is not seen by the request.\n\n",
        "| function | event | init to first `/next` ms | cold first response ms | warm ms | cold / warm | peak RSS MiB after 50 requests | init, machine environment ms |\n",
        "|---|---|---|---|---|---|---|---|\n"
    ));
    for (function, kinds) in report["cold_starts"].as_object().unwrap() {
        for kind in ["trivial", "real"] {
            if kinds.get(kind).is_none() {
                continue;
            }
            let s = &kinds[kind];
            let optional = |v: &Value| {
                v.as_f64()
                    .map(|m| format!("{m:.1}"))
                    .unwrap_or_else(|| "".into())
            };
            md.push_str(&format!(
                "| {function} | {kind} | {:.1} | {:.1} | {:.2} | {:.1} | {} | {} |\n",
                s["init_to_first_poll_ms_p50"].as_f64().unwrap_or(f64::NAN),
                s["cold_first_response_ms_p50"].as_f64().unwrap(),
                s["warm_ms_p50"].as_f64().unwrap(),
                s["cold_over_warm"].as_f64().unwrap(),
                optional(&s["peak_rss_mib_after_50"]),
                optional(&s["init_in_machine_environment_ms_p50"]),
            ));
        }
    }
    md.push_str("\nThe first authenticated response of a request that needs only its key (`GET` of a path the function does not serve: the key verified, counted and its plan read in one `UpdateItem`, then 404), on demand (process start to response, init included) and in a sandbox of provisioned concurrency, initialized ahead of the request (event to response), each against `bare-peer` (bench/peer): a Rust Lambda with the same SDK configuration that answers any event with one `GetItem`, started the same way, its runs alternating with the function's. An API function opens its DynamoDB connection in init only when initialized ahead (the peer never does); on demand, the difference is the larger binary and router and the key's `UpdateItem` (a write, which DynamoDB Local answers more slowly than a read) against the peer's `GetItem`.\n\n| function | on demand ms | peer ms | ratio | initialized ahead ms | peer ms | ratio |\n|---|---|---|---|---|---|---|\n");
    for function in API_FUNCTIONS {
        let s = &report["key_only_against_peer"][function];
        let f = |name: &str| s[name].as_f64().unwrap_or(f64::NAN);
        md.push_str(&format!(
            "| {function} | {:.1} | {:.1} | {:.2}× | {:.1} | {:.1} | {:.2}× |\n",
            f("on_demand_ms_p50"),
            f("peer_on_demand_ms_p50"),
            f("on_demand_over_peer"),
            f("initialized_ahead_ms_p50"),
            f("peer_initialized_ahead_ms_p50"),
            f("initialized_ahead_over_peer"),
        ));
    }
    let burst = &report["concurrent_creates"];
    md.push_str(&format!(
        "\n## Concurrent writes in one organization\n\n{} clients, each with its own key, sent {} `POST /dossiers` back to back through the router in process: {} created, {} failed, {:.0} creates a second against DynamoDB Local on this machine. Every create adds to the organization's dossier counters in its transaction; they are split over 8 items, so concurrent creates seldom cancel each other (DynamoDB does not queue transactions that touch one item). On AWS the bound is the organization's partition key, which DynamoDB serves at up to 1,000 write units a second: at about 20 WCU a JSON create with its index copies (`POST /dossiers (JSON)` above), some 50 creates a second.\n",
        burst["clients"], burst["requests"], burst["created"], burst["failed"],
        burst["per_second"].as_f64().unwrap_or(0.0),
    ));
    md.push_str("\n## Release bootstrap sizes (arm64, from `make package`)\n\n");
    let sizes = report["bootstrap_sizes"].as_object().unwrap();
    if sizes.is_empty() {
        md.push_str("Not built: run `make package` first.\n");
    } else {
        md.push_str("| function | MB |\n|---|---|\n");
        for (function, s) in sizes {
            md.push_str(&format!(
                "| {function} | {:.1} |\n",
                s["bootstrap_mb"].as_f64().unwrap()
            ));
        }
    }
    let hooks = &report["webhook_latency"];
    md.push_str(&format!(
        "\n## Webhook latency\n\nFrom the API response of the committing request to the receiver getting the event, through the local stream and queue pollers (the stream poller sleeps 250 ms between polls, the queue poller long-polls): {} events, p50 {:.0} ms, p99 {:.0} ms.\n",
        hooks["events"], hooks["p50_ms"].as_f64().unwrap(), hooks["p99_ms"].as_f64().unwrap()
    ));
    md
}

/// The targets, judged on the largest size measured against the smallest.
fn operations_table(size: &str, ops: &Value) -> String {
    let dossiers = size.parse::<usize>().map_or(0, |n| n.min(MOST_DOSSIERS));
    let mut md = format!("\n## Operations, organization of {dossiers} dossiers and {size} contacts\n\n| operation | DynamoDB calls | RCU | WCU | S3 calls | Secrets Manager calls | p50 ms | p99 ms | DynamoDB ms | overhead ratio |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (name, s) in ops.as_object().unwrap() {
        md.push_str(&format!(
            "| {name} | {} | {:.1} | {:.1} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            s["dynamodb_calls"],
            s["read_units"].as_f64().unwrap(),
            s["write_units"].as_f64().unwrap(),
            s["s3_calls"],
            s["secrets_calls"],
            s["p50_ms"].as_f64().unwrap(),
            s["p99_ms"].as_f64().unwrap(),
            s["dynamodb_ms_p50"].as_f64().unwrap(),
            s["overhead_ratio_p50"].as_f64().unwrap()
        ));
    }
    md
}

/// `--scale N`: the operations at one organization of N contacts (and N dossiers, at most
/// [`MOST_DOSSIERS`]), 20 repetitions each, into `bench/REPORT-scale-N.md` and
/// `bench/report-scale-N.json`, beside the main report.
async fn scale_run(stack: &Stack, size: usize) {
    let settings = Settings {
        quick: false,
        sizes: vec![size],
        repetitions: 20,
        cold_runs: 0,
        webhook_events: 0,
        concurrent_creates: 0,
        profile: "release",
    };
    let ops = measure_size(stack, &settings, size).await;
    let report = json!({"machine": machine(), "size": size, "operations": ops});
    let dir = root().join("bench");
    std::fs::write(
        dir.join(format!("report-scale-{size}.json")),
        serde_json::to_string_pretty(&report).unwrap() + "\n",
    )
    .unwrap();
    let md = format!(
        "# LeadGrid benchmark at {size} contacts\n\nMeasured {} on {}, with `make bench SCALE={size}`: the operations only (cold starts and webhook latency do not depend on the organization's size; see REPORT.md), 20 repetitions each.\n{}",
        report["machine"]["date"].as_str().unwrap_or_default(),
        report["machine"]["cpu"].as_str().unwrap_or("this machine"),
        operations_table(&size.to_string(), &ops)
    );
    std::fs::write(dir.join(format!("REPORT-scale-{size}.md")), &md).unwrap();
    println!("{md}");
}

const ATTEMPTS_PAGE_1: &str = "GET /webhook_endpoints/{id}/attempts page 1";
const ATTEMPTS_PAGE_20: &str = "GET /webhook_endpoints/{id}/attempts page 20 by cursor";
const ATTEMPTS_OF_EVENT: &str = "GET /webhook_endpoints/{id}/attempts of one event";

fn targets(report: &Value) -> Value {
    let ops = report["operations"].as_object().unwrap();
    let smallest = ops.values().next().unwrap();
    let largest = ops.values().next_back().unwrap();
    let calls = |name: &str| largest[name]["dynamodb_calls"].as_f64().unwrap_or(f64::NAN);
    let list_ratio = largest["GET /dossiers page 1"]["read_units"]
        .as_f64()
        .unwrap()
        / smallest["GET /dossiers page 1"]["read_units"]
            .as_f64()
            .unwrap();
    let overhead = largest["GET one dossier"]["overhead_ratio_p50"]
        .as_f64()
        .unwrap();
    let cold = report["cold_starts"].as_object().unwrap();
    // Only the API functions answer authenticated requests; `events` and `webhooks` are
    // reported in the cold-start table without a target.
    // The first authenticated response of a key-only request against the peer's one
    // `GetItem`: on demand (init included), and in a sandbox initialized ahead.
    let against_peer = &report["key_only_against_peer"];
    let over_peer = |measure: &str| {
        API_FUNCTIONS
            .iter()
            .map(|f| against_peer[*f][measure].as_f64().unwrap_or(f64::INFINITY))
            .fold(0.0, f64::max)
    };
    let worst_cold = over_peer("on_demand_over_peer");
    let worst_after_init = over_peer("initialized_ahead_over_peer");
    let worst_init = cold
        .values()
        .flat_map(|k| k.as_object().unwrap().values())
        .filter_map(|s| s["init_to_first_poll_ms_p50"].as_f64())
        .fold(0.0, f64::max);
    let worst_rss = cold
        .values()
        .flat_map(|k| k.as_object().unwrap().values())
        .filter_map(|s| s["peak_rss_mib_after_50"].as_f64())
        .fold(0.0, f64::max);
    let auth_only = calls("auth + rate limit (unknown route)");
    let burst = &report["concurrent_creates"];
    let burst_failed = burst["failed"].as_u64().unwrap_or(u64::MAX);
    // Contact reads must cost the same from 1,000 contacts up to the largest organization.
    let thousand = ops.get("1000").unwrap_or(smallest);
    let flat = |operation: &str, measure: &str| {
        largest[operation][measure].as_f64().unwrap_or(f64::NAN)
            / thousand[operation][measure].as_f64().unwrap_or(f64::NAN)
    };
    let flatness = |operations: &[&str]| {
        let ratios: Vec<(f64, f64)> = operations
            .iter()
            .map(|op| (flat(op, "dynamodb_calls"), flat(op, "read_units")))
            .collect();
        ratios
            .iter()
            .fold((0.0f64, 0.0f64), |(calls, rcu), (c, r)| {
                (calls.max(*c), rcu.max(*r))
            })
    };
    let search = "GET /contacts search, 10 matches";
    let (search_calls_ratio, search_rcu_ratio) = flatness(&[
        search,
        "GET /contacts search, two words",
        "GET /contacts search and kind",
    ]);
    let (pool_calls_ratio, pool_rcu_ratio) = flatness(&[
        "GET /contacts pool=in_pool page 1",
        "GET /contacts pool=expired page 1",
    ]);
    let (attempts_calls_ratio, attempts_rcu_ratio) =
        flatness(&[ATTEMPTS_PAGE_1, ATTEMPTS_PAGE_20, ATTEMPTS_OF_EVENT]);
    let search_over_get = largest[search]["p50_ms"].as_f64().unwrap_or(f64::NAN)
        / largest["GET one contact"]["p50_ms"]
            .as_f64()
            .unwrap_or(f64::NAN);
    json!([
        {"measure": "auth plus rate limit", "target": "1 DynamoDB round trip", "measured": format!("{auth_only}"), "met": auth_only <= 1.0},
        {"measure": "GET one dossier / contact", "target": "at most 2 round trips", "measured": format!("{} / {}", calls("GET one dossier"), calls("GET one contact")), "met": calls("GET one dossier") <= 2.0 && calls("GET one contact") <= 2.0},
        {"measure": "list page 1", "target": "at most 3 round trips; RCU ratio largest/smallest at most 1.1", "measured": format!("{} calls, RCU ratio {list_ratio:.2}", calls("GET /dossiers page 1")), "met": calls("GET /dossiers page 1") <= 3.0 && list_ratio <= 1.1},
        {"measure": "contact searches (10 matches, two words, with kind)", "target": "DynamoDB calls and RCU ratio largest/1,000 contacts at most 1.2", "measured": format!("worst: calls {search_calls_ratio:.2}, RCU {search_rcu_ratio:.2}"), "met": search_calls_ratio <= 1.2 && search_rcu_ratio <= 1.2},
        {"measure": "pool=in_pool and pool=expired page 1", "target": "DynamoDB calls and RCU ratio largest/1,000 contacts at most 1.2", "measured": format!("worst: calls {pool_calls_ratio:.2}, RCU {pool_rcu_ratio:.2}"), "met": pool_calls_ratio <= 1.2 && pool_rcu_ratio <= 1.2},
        {"measure": "attempt log: page 1, page 20 by cursor, one event", "target": "DynamoDB calls and RCU ratio largest/1,000 attempts at most 1.2", "measured": format!("worst: calls {attempts_calls_ratio:.2}, RCU {attempts_rcu_ratio:.2}"), "met": attempts_calls_ratio <= 1.2 && attempts_rcu_ratio <= 1.2},
        {"measure": "search matching 10 contacts, p50", "target": "at most 3x GET one contact p50, largest organization", "measured": format!("{search_over_get:.2}x"), "met": search_over_get <= 3.0},
        {"measure": "POST dossier (JSON)", "target": "at most 4 round trips", "measured": format!("{}", calls("POST /dossiers (JSON)")), "met": calls("POST /dossiers (JSON)") <= 4.0},
        {"measure": "overhead ratio, GET one dossier", "target": "at most 1.3 at p50", "measured": format!("{overhead:.2}"), "met": overhead <= 1.3},
        {"measure": "cold first authenticated response (key only), on demand: process start to response", "target": "at most 1.5x a bare GetItem peer's (bench/peer), same run", "measured": format!("worst {worst_cold:.2}x (API functions)"), "met": worst_cold <= 1.5},
        {"measure": "first authenticated response (key only) of a sandbox initialized ahead: event to response", "target": "at most 1.5x the peer's, same run", "measured": format!("worst {worst_after_init:.2}x (API functions)"), "met": worst_after_init <= 1.5},
        {"measure": "concurrent POST /dossiers in one organization (16 clients)", "target": "none fails", "measured": format!("{} of {} created, {:.0} a second", burst["created"], burst["requests"], burst["per_second"].as_f64().unwrap_or(0.0)), "met": burst_failed == 0},
        {"measure": "init before first poll of /next", "target": "under 20 ms, every function", "measured": format!("worst {worst_init:.1} ms"), "met": worst_init < 20.0},
        {"measure": "peak RSS", "target": "under 64 MB", "measured": format!("worst {worst_rss:.1} MiB"), "met": worst_rss < 61.0},
    ])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let settings = if quick {
        Settings {
            quick,
            sizes: vec![100],
            repetitions: 10,
            cold_runs: 2,
            webhook_events: 10,
            concurrent_creates: 64,
            profile: "debug",
        }
    } else {
        Settings {
            quick,
            sizes: vec![100, 1000, 10000, 50000],
            repetitions: 200,
            cold_runs: 10,
            webhook_events: 100,
            concurrent_creates: 800,
            profile: "release",
        }
    };
    let stack = integration_tests::stack().await;
    let args: Vec<String> = std::env::args().collect();
    if let Some(size) = args
        .iter()
        .position(|a| a == "--scale")
        .and_then(|i| args.get(i + 1))
    {
        scale_run(&stack, size.parse().expect("--scale takes a number")).await;
        return;
    }
    if std::env::args().any(|a| a == "--concurrent-creates-only") {
        let burst = concurrent_creates(&stack, &settings).await;
        println!("{}", serde_json::to_string_pretty(&burst).unwrap());
        return;
    }
    if std::env::args().any(|a| a == "--cold-starts-only") {
        let org = seed(&stack, 10, 10).await;
        let cold = cold_starts(&settings, &org.keys[0], org.dossier).await;
        let peer = key_only_against_peer(&settings, &org.keys[1..], org.dossier).await;
        let both = json!({"cold_starts": cold, "key_only_against_peer": peer});
        println!("{}", serde_json::to_string_pretty(&both).unwrap());
        return;
    }
    let mut operations = serde_json::Map::new();
    for size in &settings.sizes {
        operations.insert(
            size.to_string(),
            measure_size(&stack, &settings, *size).await,
        );
    }
    let org = seed(&stack, 10, 10).await;
    let cold = cold_starts(&settings, &org.keys[0], org.dossier).await;
    let peer = key_only_against_peer(&settings, &org.keys[1..], org.dossier).await;
    let burst = concurrent_creates(&stack, &settings).await;
    let hooks = webhook_latency(&stack, &settings).await;
    let mut report = json!({
        "machine": machine(),
        "quick": quick,
        "profile": settings.profile,
        "operations": operations,
        "cold_starts": cold,
        "key_only_against_peer": peer,
        "concurrent_creates": burst,
        "bootstrap_sizes": binary_sizes(),
        "webhook_latency": hooks,
    });
    report["targets"] = targets(&report);
    let dir = root().join("bench");
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report).unwrap() + "\n",
    )
    .unwrap();
    std::fs::write(dir.join("REPORT.md"), markdown(&report, &settings)).unwrap();
    println!("{}", markdown(&report, &settings));
}
