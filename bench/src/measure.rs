//! Measuring: the operations at one organization size, concurrent creates, webhook
//! latency, and the statistics they are summarized by.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use integration_tests::{Call, Stack};
use serde_json::{json, Value};

use crate::meter::{Meter, Tally};
use crate::operations::{cursor_to_page_20, operations, Prepare, Routers, Starts};
use crate::report::{machine, operations_table};
use crate::seed::MOST_DOSSIERS;
use crate::seed::{pdf, seed, Org};
use crate::{root, Settings};

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

pub(crate) fn median(values: impl Iterator<Item = f64>) -> f64 {
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

/// The operations at an organization of `size` contacts and as many dossiers, at most
/// [`MOST_DOSSIERS`].
pub(crate) async fn measure_size(stack: &Stack, settings: &Settings, size: usize) -> Value {
    let dossiers = size.min(MOST_DOSSIERS);
    eprintln!("[bench] seeding {dossiers} dossiers and {size} contacts");
    let started = Instant::now();
    let org = seed(stack, dossiers, size).await;
    eprintln!("[bench] seeded in {:.1} s", started.elapsed().as_secs_f64());
    let meter = Meter::default();
    let routers = Routers::new(stack, &meter);
    // A CV to download, and the cursor that starts page 20.
    integration_tests::post(&format!("/api/v1/dossiers/{}/cv", org.dossier))
        .key(&org.keys[0])
        .raw("application/pdf", pdf(1000))
        .send(&routers.plain_dossiers)
        .await;
    let starts = starts(&org, &routers).await;
    let mut results = serde_json::Map::new();
    let ops = operations(&org, &routers, stack, &starts);
    // Warm every container: the secret and the plan are read once per container.
    for router in routers.metered.values() {
        Call::get("/api/v1/flows")
            .key(&org.keys[0])
            .send(router)
            .await;
    }
    for (name, function, prepare) in &ops {
        let router = &routers.metered[function];
        let repetitions = repetitions(settings, size, name);
        let samples = sample(&org, router, &meter, prepare, repetitions).await;
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

/// Page 20's cursors of the paged listings, and the newest event.
async fn starts(org: &crate::seed::Org, routers: &Routers) -> Starts {
    let key = &org.keys[0];
    let events = integration_tests::events_router().await;
    let newest = Call::get("/api/v1/events?per_page=1")
        .key(key)
        .send(&events)
        .await;
    Starts {
        dossiers_cursor20: cursor_to_page_20("/api/v1/dossiers", key, &routers.plain_dossiers)
            .await,
        attempts_cursor20: cursor_to_page_20(
            &format!("/api/v1/webhook_endpoints/{}/attempts", org.endpoint),
            key,
            &integration_tests::webhook_endpoints_router().await,
        )
        .await,
        events_cursor20: cursor_to_page_20("/api/v1/events", key, &events).await,
        event: newest.body["data"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// How often the operation `name` is measured at an organization of `size` contacts.
fn repetitions(settings: &Settings, size: usize, name: &str) -> usize {
    // Operations that read in proportion to what they skip (offset page 20) would take
    // many minutes at 200 repetitions of 10,000.
    let scans = name.ends_with("page 20");
    match size {
        _ if !scans || size <= 100 => settings.repetitions,
        1000 => settings.repetitions.min(50),
        _ => settings.repetitions.min(20),
    }
}

/// `repetitions` requests of one operation, each with what it cost.
async fn sample<'a>(
    org: &'a Org,
    router: &Router,
    meter: &Meter,
    prepare: &Prepare<'a>,
    repetitions: usize,
) -> Vec<Sample> {
    // Every key's first request of a minute starts its rate-limit window (one more
    // call): start them all before measuring, as a steady stream of requests would.
    for key in &org.keys {
        Call::get("/api/v1/flows").key(key).send(router).await;
    }
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
    samples
}

/// Concurrent `POST /dossiers` in one organization, each client with its own key: how many
/// a second commit, and whether any failed. Every create adds to the organization's
/// counters in its transaction; split over shards, concurrent creates seldom conflict.
pub(crate) async fn concurrent_creates(stack: &Stack, settings: &Settings) -> Value {
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

pub(crate) async fn webhook_latency(stack: &Stack, settings: &Settings) -> Value {
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

/// `--scale N`: the operations at one organization of N contacts (and N dossiers, at most
/// [`MOST_DOSSIERS`]), 20 repetitions each, into `bench/REPORT-scale-N.md` and
/// `bench/report-scale-N.json`, beside the main report.
pub(crate) async fn scale_run(stack: &Stack, size: usize) {
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
