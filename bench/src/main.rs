//! `make bench`: what each API operation costs (DynamoDB calls and capacity, other AWS
//! calls, warm latency, the overhead over DynamoDB's own time) at four organization sizes,
//! cold starts and memory of every function binary under a local Lambda Runtime API, and
//! webhook latency through the local pollers. Writes `bench/REPORT.md` and
//! `bench/report.json`. Run it through `leadgrid-local test --`, which provides the stack.

mod cold_starts;
mod measure;
mod meter;
mod operations;
mod report;
mod seed;
mod targets;

use std::path::{Path, PathBuf};

use serde_json::json;

use cold_starts::{cold_starts, key_only_against_peer};
use measure::{concurrent_creates, measure_size, scale_run, webhook_latency};
use report::{binary_sizes, machine, markdown};
use seed::seed;
use shared::functions::Function;
use targets::targets;

/// Every function, by name, as the registry lists them.
fn functions() -> Vec<&'static str> {
    Function::ALL.into_iter().map(Function::as_str).collect()
}

/// The functions API Gateway invokes.
fn api_functions() -> Vec<&'static str> {
    Function::api().map(Function::as_str).collect()
}

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
