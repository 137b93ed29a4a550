//! The API operations measured, in the order the report lists them, and the routers that
//! serve them.

use std::collections::BTreeMap;
use std::future::Future;

use axum::Router;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use integration_tests::{Call, Stack};
use serde_json::json;
use shared::web::Core;
use uuid::Uuid;

use crate::meter::{CallMeter, DynamoMeter, Meter, Service};
use crate::seed::{multipart, pdf, Org};

pub(crate) const ATTEMPTS_PAGE_1: &str = "GET /webhook_endpoints/{id}/attempts page 1";
pub(crate) const ATTEMPTS_PAGE_20: &str = "GET /webhook_endpoints/{id}/attempts page 20 by cursor";
pub(crate) const ATTEMPTS_OF_EVENT: &str = "GET /webhook_endpoints/{id}/attempts of one event";
pub(crate) const EVENTS_PAGE_1: &str = "GET /events page 1";
pub(crate) const EVENTS_PAGE_20: &str = "GET /events page 20 by cursor";
pub(crate) const EVENTS_OF_TWO_TYPES: &str = "GET /events of two types page 1";
pub(crate) const ONE_EVENT: &str = "GET /events/{id}";

/// Where the paged listings start: page 20's cursors, and an event to read.
pub(crate) struct Starts {
    pub(crate) dossiers_cursor20: String,
    pub(crate) attempts_cursor20: String,
    pub(crate) events_cursor20: String,
    pub(crate) event: String,
}

pub(crate) type Prepare<'a> = Box<dyn Fn(usize, &'a str) -> BoxFuture<'a, Call> + 'a>;

/// An operation's name, the function that serves it, and how to prepare its request.
pub(crate) type Operation<'a> = (&'static str, &'static str, Prepare<'a>);

/// An operation whose request `prepare` builds from the repetition number and a key.
fn operation<'a, Request>(
    name: &'static str,
    function: &'static str,
    prepare: impl Fn(usize, &'a str) -> Request + 'a,
) -> Operation<'a>
where
    Request: Future<Output = Call> + Send + 'a,
{
    (
        name,
        function,
        Box::new(move |i: usize, key: &'a str| prepare(i, key).boxed()),
    )
}

/// The operations measured, each as a function of the repetition number and a key.
pub(crate) fn operations<'a>(
    org: &'a Org,
    routers: &'a Routers,
    stack: &'a Stack,
    starts: &'a Starts,
) -> Vec<Operation<'a>> {
    let mut ops = vec![operation(
        "auth + rate limit (unknown route)",
        "flows",
        |_i, key| async move { Call::get("/api/v1/nope").key(key) },
    )];
    ops.extend(dossier_reads(org, &starts.dossiers_cursor20));
    ops.extend(dossier_writes(org, routers));
    ops.extend(cv_operations(org, routers));
    ops.extend(contact_reads(org));
    ops.extend(contact_writes(org, routers));
    ops.extend(dossier_contact_operations(org, routers));
    ops.extend(note_and_flow_operations(org, stack));
    ops.extend(attempt_log_operations(org, &starts.attempts_cursor20));
    ops.extend(event_operations(starts));
    ops
}

fn dossier_reads<'a>(org: &'a Org, cursor20: &'a str) -> Vec<Operation<'a>> {
    let d = org.dossier;
    vec![
        operation("GET one dossier", "dossiers", move |_i, key| async move {
            Call::get(&format!("/api/v1/dossiers/{d}")).key(key)
        }),
        operation("GET /dossiers page 1", "dossiers", |_i, key| async move {
            Call::get("/api/v1/dossiers").key(key)
        }),
        operation(
            "GET /dossiers page 1, type+status",
            "dossiers",
            |_i, key| async move { Call::get("/api/v1/dossiers?type=sales&status=active").key(key) },
        ),
        operation("GET /dossiers page 20", "dossiers", |_i, key| async move {
            Call::get("/api/v1/dossiers?page=20").key(key)
        }),
        operation(
            "GET /dossiers page 20 by cursor",
            "dossiers",
            move |_i, key| async move {
                Call::get(&format!("/api/v1/dossiers?cursor={cursor20}")).key(key)
            },
        ),
    ]
}

fn dossier_writes<'a>(org: &'a Org, routers: &'a Routers) -> Vec<Operation<'a>> {
    let d = org.dossier;
    let stages = &org.flow_stages;
    vec![
        operation("POST /dossiers (JSON)", "dossiers", |i, key| async move {
            integration_tests::post("/api/v1/dossiers").key(key).json(&json!({"type": "sales", "name": format!("Bench {i}"), "deal_size": 1000, "deal_currency": "EUR"}))
        }),
        operation(
            "POST /dossiers (JSON, new contact)",
            "dossiers",
            |i, key| async move {
                integration_tests::post("/api/v1/dossiers").key(key).json(&json!({"type": "candidate", "name": format!("Bench {i}"), "email": format!("new{i}-{}@bench.example", Uuid::now_v7().simple())}))
            },
        ),
        operation(
            "POST /dossiers (multipart, 1 MB CV)",
            "dossiers",
            |i, key| async move {
                let (content_type, body) = multipart(
                    &[("type", "candidate"), ("name", &format!("CV {i}"))],
                    &pdf(1_000_000),
                );
                integration_tests::post("/api/v1/dossiers")
                    .key(key)
                    .raw(&content_type, body)
            },
        ),
        operation(
            "PATCH /dossiers/{id} stage move",
            "dossiers",
            move |i, key| async move {
                integration_tests::patch(&format!("/api/v1/dossiers/{d}"))
                    .key(key)
                    .json(&json!({"current_stage_id": stages[i % 2]}))
            },
        ),
        operation(
            "DELETE /dossiers/{id} (archive)",
            "dossiers",
            move |_i, key| async move {
                let fresh = integration_tests::post("/api/v1/dossiers")
                    .key(key)
                    .json(&json!({"type": "sales", "name": "To archive"}))
                    .send(&routers.plain_dossiers)
                    .await;
                let id = fresh.body["data"]["id"].as_str().unwrap().to_string();
                integration_tests::delete(&format!("/api/v1/dossiers/{id}")).key(key)
            },
        ),
    ]
}

fn cv_operations<'a>(org: &'a Org, routers: &'a Routers) -> Vec<Operation<'a>> {
    let d = org.dossier;
    vec![
        operation(
            "POST /dossiers/{id}/cv (raw 1 MB)",
            "dossiers",
            move |_i, key| async move {
                integration_tests::post(&format!("/api/v1/dossiers/{d}/cv"))
                    .key(key)
                    .raw("application/pdf", pdf(1_000_000))
            },
        ),
        operation(
            "GET /dossiers/{id}/cv",
            "dossiers",
            move |_i, key| async move { Call::get(&format!("/api/v1/dossiers/{d}/cv")).key(key) },
        ),
        operation(
            "POST /dossiers/{id}/cv/upload",
            "dossiers",
            move |_i, key| async move {
                integration_tests::post(&format!("/api/v1/dossiers/{d}/cv/upload"))
                    .key(key)
                    .json(&json!({"size": 100_000}))
            },
        ),
        operation(
            "POST /dossiers/{id}/cv/complete",
            "dossiers",
            move |_i, key| async move {
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
            },
        ),
    ]
}

fn contact_reads(org: &Org) -> Vec<Operation<'_>> {
    let listing = |name: &'static str, url: &'static str| {
        operation(name, "contacts", move |_i, key| async move {
            Call::get(url).key(key)
        })
    };
    vec![
        listing("GET /contacts page 1", "/api/v1/contacts"),
        listing(
            "GET /contacts kind=candidate&kind=client",
            "/api/v1/contacts?kind=candidate&kind=client",
        ),
        listing(
            "GET /contacts pool=in_pool page 1",
            "/api/v1/contacts?pool=in_pool",
        ),
        listing(
            "GET /contacts pool=expired page 1",
            "/api/v1/contacts?pool=expired",
        ),
        listing(
            "GET /contacts search, 10 matches",
            "/api/v1/contacts?search=quartermaster",
        ),
        listing(
            "GET /contacts search, two words",
            "/api/v1/contacts?search=contact%20quartermaster",
        ),
        listing(
            "GET /contacts search and kind",
            "/api/v1/contacts?search=quartermaster&kind=candidate",
        ),
        operation("GET one contact", "contacts", move |i, key| async move {
            Call::get(&format!(
                "/api/v1/contacts/{}",
                org.contacts[i % org.contacts.len()]
            ))
            .key(key)
        }),
    ]
}

fn contact_writes<'a>(org: &'a Org, routers: &'a Routers) -> Vec<Operation<'a>> {
    vec![
        operation("POST /contacts", "contacts", |_i, key| async move {
            integration_tests::post("/api/v1/contacts").key(key).json(&json!({"full_name": "New", "email": format!("{}@bench.example", Uuid::now_v7().simple()), "kind": ["client"]}))
        }),
        operation(
            "PATCH /contacts/{id}",
            "contacts",
            move |i, key| async move {
                integration_tests::patch(&format!(
                    "/api/v1/contacts/{}",
                    org.contacts[i % org.contacts.len()]
                ))
                .key(key)
                .json(&json!({"city": format!("City {i}")}))
            },
        ),
        operation(
            "PATCH /contacts/{id} (rename)",
            "contacts",
            move |i, key| async move {
                integration_tests::patch(&format!(
                    "/api/v1/contacts/{}",
                    org.contacts[(i + 10) % org.contacts.len()]
                ))
                .key(key)
                .json(&json!({"full_name": format!("Renamed Contact {i}")}))
            },
        ),
        operation(
            "DELETE /contacts/{id}",
            "contacts",
            move |_i, key| async move {
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
            },
        ),
    ]
}

fn dossier_contact_operations<'a>(org: &'a Org, routers: &'a Routers) -> Vec<Operation<'a>> {
    let d = org.dossier;
    vec![
        operation(
            "GET /dossiers/{id}/contacts",
            "contacts",
            move |_i, key| async move { Call::get(&format!("/api/v1/dossiers/{d}/contacts")).key(key) },
        ),
        operation(
            "POST /dossiers/{id}/contacts is_primary",
            "contacts",
            move |i, key| async move {
                integration_tests::post(&format!("/api/v1/dossiers/{d}/contacts")).key(key).json(&json!({"contact_id": org.contacts[i % org.contacts.len()], "role_on_dossier": "champion", "is_primary": true}))
            },
        ),
        operation(
            "DELETE /dossiers/{id}/contacts/{contact_id}",
            "contacts",
            move |i, key| async move {
                let contact = org.contacts[(i + org.contacts.len() / 2) % org.contacts.len()];
                integration_tests::post(&format!("/api/v1/dossiers/{d}/contacts"))
                    .key(key)
                    .json(&json!({"contact_id": contact, "role_on_dossier": "other"}))
                    .send(&routers.plain_contacts)
                    .await;
                integration_tests::delete(&format!("/api/v1/dossiers/{d}/contacts/{contact}"))
                    .key(key)
            },
        ),
    ]
}

fn note_and_flow_operations<'a>(org: &'a Org, stack: &'a Stack) -> Vec<Operation<'a>> {
    let d = org.dossier;
    vec![
        operation(
            "GET /dossiers/{id}/notes",
            "notes",
            move |_i, key| async move { Call::get(&format!("/api/v1/dossiers/{d}/notes")).key(key) },
        ),
        operation(
            "POST /dossiers/{id}/notes",
            "notes",
            move |i, key| async move {
                integration_tests::post(&format!("/api/v1/dossiers/{d}/notes"))
                    .key(key)
                    .json(&json!({"content": format!("Note {i}")}))
            },
        ),
        operation("GET /flows", "flows", |_i, key| async move {
            Call::get("/api/v1/flows").key(key)
        }),
        operation(
            "GET /flows/{id}/stages",
            "flows",
            move |_i, key| async move {
                let flow = shared::domain::dossiers::get(&stack.core().db, org.id, d)
                    .await
                    .unwrap()
                    .unwrap()
                    .flow_id;
                Call::get(&format!("/api/v1/flows/{flow}/stages")).key(key)
            },
        ),
    ]
}

fn attempt_log_operations<'a>(org: &'a Org, attempts_cursor20: &'a str) -> Vec<Operation<'a>> {
    let endpoint = org.endpoint;
    let event = &org.attempted_event;
    vec![
        operation(
            ATTEMPTS_PAGE_1,
            "webhook-endpoints",
            move |_i, key| async move {
                Call::get(&format!("/api/v1/webhook_endpoints/{endpoint}/attempts")).key(key)
            },
        ),
        operation(
            ATTEMPTS_PAGE_20,
            "webhook-endpoints",
            move |_i, key| async move {
                Call::get(&format!(
                    "/api/v1/webhook_endpoints/{endpoint}/attempts?cursor={attempts_cursor20}"
                ))
                .key(key)
            },
        ),
        operation(
            ATTEMPTS_OF_EVENT,
            "webhook-endpoints",
            move |_i, key| async move {
                Call::get(&format!(
                    "/api/v1/webhook_endpoints/{endpoint}/attempts?event_id={event}"
                ))
                .key(key)
            },
        ),
    ]
}

fn event_operations(starts: &Starts) -> Vec<Operation<'_>> {
    let (cursor20, event) = (&starts.events_cursor20, &starts.event);
    vec![
        operation(EVENTS_PAGE_1, "events", |_i, key| async move {
            Call::get("/api/v1/events").key(key)
        }),
        operation(EVENTS_PAGE_20, "events", move |_i, key| async move {
            Call::get(&format!("/api/v1/events?cursor={cursor20}")).key(key)
        }),
        operation(EVENTS_OF_TWO_TYPES, "events", |_i, key| async move {
            Call::get("/api/v1/events?type=dossier.created&type=contact.created").key(key)
        }),
        operation(ONE_EVENT, "events", move |_i, key| async move {
            Call::get(&format!("/api/v1/events/{event}")).key(key)
        }),
    ]
}

pub(crate) struct Routers {
    pub(crate) metered: BTreeMap<&'static str, Router>,
    pub(crate) plain_dossiers: Router,
    pub(crate) plain_contacts: Router,
}

impl Routers {
    /// Every API function's router with its AWS calls counted by `meter`, and unmetered
    /// routers for the requests that set an operation up.
    pub(crate) fn new(stack: &Stack, meter: &Meter) -> Self {
        let (core, cvs) = metered(stack, meter);
        Self {
            metered: BTreeMap::from([
                ("dossiers", dossiers::router(core.clone(), cvs)),
                ("contacts", contacts::router(core.clone())),
                ("notes", notes::router(core.clone())),
                ("flows", flows::router(core.clone())),
                ("events", events::router(core.clone())),
                (
                    "webhook-endpoints",
                    webhook_endpoints::router(webhook_endpoints::Endpoints {
                        core: core.clone(),
                        ..stack.webhook_endpoints()
                    }),
                ),
            ]),
            plain_dossiers: dossiers::router(stack.core(), stack.cvs()),
            plain_contacts: contacts::router(stack.core()),
        }
    }
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

/// The cursor that starts page 20 of a listing (25 to a page), or its last page's when it
/// is shorter.
pub(crate) async fn cursor_to_page_20(path: &str, key: &str, router: &Router) -> String {
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
