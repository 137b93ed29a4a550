//! Cold starts: each function binary spawned under a local Lambda Runtime API, on demand
//! and initialized ahead of its first event, against `bare-peer` (bench/peer).

use std::path::Path;
use std::time::{Duration, Instant};

use integration_tests::runtime_api::Emulator;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::measure::median;
use crate::{api_functions, functions, root, Settings};

fn api_event(function: &str, key: Option<&str>, dossier: Uuid) -> Value {
    let text =
        std::fs::read_to_string(root().join(format!("events/api-{function}-list.json"))).unwrap();
    let sample_dossier = "01a217e8-2b69-729d-a2db-7e9aa4dc2465";
    let mut event: Value =
        serde_json::from_str(&text.replace(sample_dossier, &dossier.to_string())).unwrap();
    match key {
        Some(key) => event["headers"]["authorization"] = json!(format!("Bearer {key}")),
        None => {
            event["headers"]
                .as_object_mut()
                .unwrap()
                .remove("authorization");
        }
    }
    event
}

/// An authenticated request that needs nothing but its key: a `GET` of a path the function
/// does not serve, answered 404 once the key is verified and counted (one `UpdateItem`).
fn key_only_event(function: &str, key: &str, dossier: Uuid) -> Value {
    let mut event = api_event(function, Some(key), dossier);
    let path = "/api/v1/key-only-probe";
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    event["routeKey"] = json!("$default");
    event["requestContext"]["http"]["path"] = json!(path);
    event
        .as_object_mut()
        .unwrap()
        .remove("queryStringParameters");
    event.as_object_mut().unwrap().remove("pathParameters");
    event
}

fn function_event(function: &str, real: bool, key: &str, dossier: Uuid) -> Value {
    match (function, real) {
        ("fanout" | "delivery", false) => json!({"Records": []}),
        ("fanout", true) => serde_json::from_str(
            &std::fs::read_to_string(root().join("events/dynamodb-stream-outbox.json")).unwrap(),
        )
        .unwrap(),
        ("delivery", true) => serde_json::from_str(
            &std::fs::read_to_string(root().join("events/sqs-delivery-batch.json")).unwrap(),
        )
        .unwrap(),
        (_, false) => api_event(function, None, dossier),
        (_, true) => api_event(function, Some(key), dossier),
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Variables the local stack sets for the functions, as template.yaml does on AWS.
fn is_function_setting(name: &str) -> bool {
    (name.starts_with("AWS_") && name != "AWS_CA_BUNDLE")
        || name.starts_with("EVENTS_")
        || name.starts_with("SLOW_DELIVERIES_")
        || name.starts_with("WEBHOOK_")
        || matches!(
            name,
            "TABLE_NAME" | "CV_BUCKET" | "API_KEY_SECRET_ID" | "WEBHOOK_SECRET_ID"
        )
}

/// The CA bundle Lambda's OS keeps its roots in has each certificate once. This machine's
/// Debian layout adds a hashed directory with a second copy of each, which the SDK would
/// read as well when no `SSL_CERT_*` variable narrows it.
const CA_BUNDLES: [&str; 2] = [
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
];

/// Which environment a function process starts with.
#[derive(Clone, Copy, PartialEq)]
enum Environment {
    /// What Lambda gives a function: its settings and the runtime's variables, none of
    /// this shell's, and one CA bundle.
    Lambda,
    /// The same, in a sandbox of provisioned concurrency, which Lambda always initializes
    /// ahead of requests.
    Provisioned,
    /// This shell's whole environment, as `cargo lambda watch` would pass it on.
    Machine,
}

fn spawn_function(
    binary: &Path,
    function: &str,
    runtime_api: &str,
    environment: Environment,
) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(binary);
    if environment != Environment::Machine {
        command
            .env_clear()
            .envs(std::env::vars().filter(|(name, _)| is_function_setting(name)))
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env(
                "AWS_LAMBDA_INITIALIZATION_TYPE",
                match environment {
                    Environment::Provisioned => "provisioned-concurrency",
                    _ => "on-demand",
                },
            );
        if let Some(bundle) = CA_BUNDLES.iter().find(|p| Path::new(p).exists()) {
            command.env("SSL_CERT_FILE", bundle);
        }
    }
    command
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()))
}

/// One cold start: the process is spawned with `event` already queued.
struct ColdStart {
    emulator: Emulator,
    child: tokio::process::Child,
    init_ms: f64,
    cold_ms: f64,
    status: String,
}

async fn cold_start(
    binary: &Path,
    function: &str,
    event: &Value,
    environment: Environment,
) -> ColdStart {
    let mut emulator = Emulator::start().await;
    emulator.send(event.clone());
    let spawned = Instant::now();
    let child = spawn_function(binary, function, &emulator.address, environment);
    let Some((answered, response)) = emulator.response().await else {
        panic!(
            "{function} gave no response; runtime errors: {:?}",
            emulator.failures()
        );
    };
    let init_ms = emulator
        .first_poll()
        .map(|t| t.duration_since(spawned).as_secs_f64() * 1000.0)
        .unwrap_or(f64::NAN);
    ColdStart {
        init_ms,
        cold_ms: answered.duration_since(spawned).as_secs_f64() * 1000.0,
        status: response
            .get("statusCode")
            .map(|s| s.to_string())
            .unwrap_or_else(|| "batch".into()),
        emulator,
        child,
    }
}

/// A sandbox of provisioned concurrency, initialized ahead of a request (its init is not
/// seen by the caller): from the event's arrival, after the process's first poll of
/// `/next`, to its response.
async fn first_response_after_init(binary: &Path, function: &str, event: &Value) -> f64 {
    let mut emulator = Emulator::start().await;
    let mut child = spawn_function(
        binary,
        function,
        &emulator.address,
        Environment::Provisioned,
    );
    let polled = Instant::now() + Duration::from_secs(30);
    while emulator.first_poll().is_none() {
        assert!(Instant::now() < polled, "{function} never polled /next");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let sent = Instant::now();
    emulator.send(event.clone());
    let (answered, _) = emulator.response().await.expect("a response");
    child.kill().await.ok();
    answered.duration_since(sent).as_secs_f64() * 1000.0
}

/// Cold starts (process start to first response; process start to the first poll of
/// `/next`), warm latency of the same request in the same process, and peak RSS, in
/// Lambda's environment; and, for comparison, init in this machine's environment.
pub(super) async fn cold_starts(settings: &Settings, key: &str, dossier: Uuid) -> Value {
    let mut out = serde_json::Map::new();
    for function in functions() {
        let binary = root().join("target").join(settings.profile).join(function);
        let mut per_kind = serde_json::Map::new();
        for real in [false, true] {
            let event = function_event(function, real, key, dossier);
            let (mut inits, mut colds, mut warms) = (Vec::new(), Vec::new(), Vec::new());
            let mut peak = None;
            let mut statuses = std::collections::BTreeSet::new();
            for run in 0..settings.cold_runs {
                let ColdStart {
                    mut emulator,
                    mut child,
                    init_ms,
                    cold_ms,
                    status,
                } = cold_start(&binary, function, &event, Environment::Lambda).await;
                inits.push(init_ms);
                colds.push(cold_ms);
                statuses.insert(status);
                if run == 0 {
                    (warms, peak) =
                        warm_latencies_and_peak_rss(&mut emulator, &child, &event).await;
                }
                child.kill().await.ok();
            }
            let machine_inits = if real {
                Vec::new()
            } else {
                inits_in_machine_environment(settings, &binary, function, &event).await
            };
            let mut after_init = Vec::new();
            if real && api_functions().contains(&function) {
                for _ in 0..settings.cold_runs {
                    after_init.push(first_response_after_init(&binary, function, &event).await);
                }
            }
            let cold_p50 = median(colds.iter().copied());
            let warm_p50 = median(warms.iter().copied());
            let mut figures = json!({
                "runs": colds.len(),
                "init_to_first_poll_ms_p50": median(inits.iter().copied()),
                "cold_first_response_ms_p50": cold_p50,
                "warm_ms_p50": warm_p50,
                "cold_over_warm": if warm_p50 > 0.0 { cold_p50 / warm_p50 } else { 0.0 },
                "peak_rss_mib_after_50": peak.map(|k| k as f64 / 1024.0),
                "responses": statuses,
            });
            if !after_init.is_empty() {
                figures["first_response_after_init_ms_p50"] =
                    json!(median(after_init.iter().copied()));
            }
            if !machine_inits.is_empty() {
                figures["init_in_machine_environment_ms_p50"] =
                    json!(median(machine_inits.iter().copied()));
            }
            per_kind.insert(if real { "real" } else { "trivial" }.into(), figures);
            eprintln!(
                "[bench] cold start {function} ({}): {cold_p50:.1} ms, warm {warm_p50:.2} ms",
                if real { "real" } else { "trivial" }
            );
        }
        out.insert(function.into(), Value::Object(per_kind));
    }
    Value::Object(out)
}

/// Warm latencies of 20 requests in a started function process, then its peak RSS after
/// 50 more sent at once.
async fn warm_latencies_and_peak_rss(
    emulator: &mut Emulator,
    child: &tokio::process::Child,
    event: &Value,
) -> (Vec<f64>, Option<u64>) {
    let mut warms = Vec::new();
    for _ in 0..20 {
        let sent = Instant::now();
        emulator.send(event.clone());
        let (answered, _) = emulator.response().await.expect("warm response");
        warms.push(answered.duration_since(sent).as_secs_f64() * 1000.0);
    }
    for _ in 0..50 {
        emulator.send(event.clone());
    }
    for _ in 0..50 {
        emulator.response().await.expect("response under load");
    }
    (warms, child.id().and_then(peak_rss_kib))
}

/// Init of `settings.cold_runs` cold starts in this machine's whole environment.
async fn inits_in_machine_environment(
    settings: &Settings,
    binary: &Path,
    function: &str,
    event: &Value,
) -> Vec<f64> {
    let mut inits = Vec::new();
    for _ in 0..settings.cold_runs {
        let mut run = cold_start(binary, function, event, Environment::Machine).await;
        inits.push(run.init_ms);
        run.child.kill().await.ok();
    }
    inits
}

/// The first authenticated response of a request that needs only its key, in each API
/// function, against the yardstick `bare-peer` (bench/peer): a Rust Lambda that answers an
/// HTTP API request with one DynamoDB `GetItem` and nothing else, started the same way.
/// Peer and function runs alternate, so that both meet the machine in the same state: on a
/// shared machine the same binary's cold start drifts by 2× over minutes.
/// Each function gets its own key from `keys`, so that no run nears a key's rate limit.
pub(super) async fn key_only_against_peer(
    settings: &Settings,
    keys: &[String],
    dossier: Uuid,
) -> Value {
    let peer = root()
        .join("target")
        .join(settings.profile)
        .join("bare-peer");
    let peer_event = api_event("flows", None, dossier);
    // More runs than for the other cold starts: this is a ratio of two small medians.
    let runs = settings.cold_runs * 3;
    let mut out = serde_json::Map::new();
    for (function, key) in api_functions().into_iter().zip(keys) {
        let binary = root().join("target").join(settings.profile).join(function);
        let event = key_only_event(function, key, dossier);
        let [mut ours, mut theirs, mut ours_ahead, mut theirs_ahead, mut our_inits, mut their_inits] =
            [(); 6].map(|_| Vec::new());
        for _ in 0..runs {
            let mut run = cold_start(&peer, "bare-peer", &peer_event, Environment::Lambda).await;
            assert_eq!(run.status, "200", "the peer answers 200");
            theirs.push(run.cold_ms);
            their_inits.push(run.init_ms);
            run.child.kill().await.ok();
            let mut run = cold_start(&binary, function, &event, Environment::Lambda).await;
            assert_eq!(run.status, "404", "{function}: the key-only probe");
            ours.push(run.cold_ms);
            our_inits.push(run.init_ms);
            run.child.kill().await.ok();
            theirs_ahead.push(first_response_after_init(&peer, "bare-peer", &peer_event).await);
            ours_ahead.push(first_response_after_init(&binary, function, &event).await);
        }
        let [ours, theirs, ours_ahead, theirs_ahead, our_init, their_init] = [
            ours,
            theirs,
            ours_ahead,
            theirs_ahead,
            our_inits,
            their_inits,
        ]
        .map(|runs| median(runs.into_iter()));
        eprintln!(
            "[bench] key-only {function}: {ours:.1} ms on demand (peer {theirs:.1}), {ours_ahead:.1} ms initialized ahead (peer {theirs_ahead:.1})"
        );
        out.insert(
            function.into(),
            json!({
                "runs": runs,
                "on_demand_ms_p50": ours,
                "on_demand_init_ms_p50": our_init,
                "peer_on_demand_init_ms_p50": their_init,
                "peer_on_demand_ms_p50": theirs,
                "on_demand_over_peer": ours / theirs,
                "initialized_ahead_ms_p50": ours_ahead,
                "peer_initialized_ahead_ms_p50": theirs_ahead,
                "initialized_ahead_over_peer": ours_ahead / theirs_ahead,
            }),
        );
    }
    Value::Object(out)
}
