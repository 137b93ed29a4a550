//! The report: bench/REPORT.md from report.json's figures, and the machine they were
//! measured on.

use serde_json::{json, Value};

use crate::seed::MOST_DOSSIERS;
use crate::{api_functions, root, Settings};
use shared::functions::Function;

pub(crate) fn binary_sizes() -> Value {
    let mut out = serde_json::Map::new();
    for function in Function::ALL {
        // Where `make package` (`sam build`) puts each function's bootstrap.
        let logical = function.template_id();
        let path = root().join(format!(".aws-sam/build/{logical}/bootstrap"));
        let function = function.as_str();
        if let Ok(meta) = std::fs::metadata(&path) {
            out.insert(
                function.into(),
                json!({"bootstrap_mb": meta.len() as f64 / 1e6}),
            );
        }
    }
    Value::Object(out)
}

pub(crate) fn machine() -> Value {
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

pub(crate) fn markdown(report: &Value, settings: &Settings) -> String {
    let mut md = String::new();
    write_introduction(&mut md, report, settings);
    write_targets(&mut md, report);
    for (size, ops) in report["operations"].as_object().unwrap() {
        md.push_str(&operations_table(size, ops));
    }
    write_cold_starts(&mut md, report);
    write_key_only_against_peer(&mut md, report);
    write_concurrent_writes(&mut md, report);
    write_bootstrap_sizes(&mut md, report);
    write_webhook_latency(&mut md, report);
    md
}

fn write_introduction(md: &mut String, report: &Value, settings: &Settings) {
    md.push_str("# LeadGrid benchmark report\n\n");
    md.push_str(&format!(
        "Measured {} on {} ({} cores), {} builds{}. Reproduce with `make bench` (`make bench QUICK=1` for a smoke run). Figures are medians unless marked p99; latencies are warm requests through the function's router in process against DynamoDB Local and moto, so they show our code's cost plus the local services', not AWS's.\n\n",
        report["machine"]["date"].as_str().unwrap_or_default(),
        report["machine"]["cpu"].as_str().unwrap_or("an unknown CPU"),
        report["machine"]["cores"],
        settings.profile,
        if settings.quick { " (QUICK: one size, few repetitions; not comparable)" } else { "" }
    ));
}

fn write_targets(md: &mut String, report: &Value) {
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
}

fn write_cold_starts(md: &mut String, report: &Value) {
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
}

fn write_key_only_against_peer(md: &mut String, report: &Value) {
    md.push_str("\nThe first authenticated response of a request that needs only its key (`GET` of a path the function does not serve: the key verified, counted and its plan read in one `UpdateItem`, then 404), on demand (process start to response, init included) and in a sandbox of provisioned concurrency, initialized ahead of the request (event to response), each against `bare-peer` (bench/peer): a Rust Lambda with the same SDK configuration that answers any event with one `GetItem`, started the same way, its runs alternating with the function's. An API function opens its DynamoDB connection in init only when initialized ahead (the peer never does); on demand, the difference is the larger binary and router and the key's `UpdateItem` (a write, which DynamoDB Local answers more slowly than a read) against the peer's `GetItem`.\n\n| function | on demand ms | peer ms | ratio | initialized ahead ms | peer ms | ratio |\n|---|---|---|---|---|---|---|\n");
    for function in api_functions() {
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
}

fn write_concurrent_writes(md: &mut String, report: &Value) {
    let burst = &report["concurrent_creates"];
    md.push_str(&format!(
        "\n## Concurrent writes in one organization\n\n{} clients, each with its own key, sent {} `POST /dossiers` back to back through the router in process: {} created, {} failed, {:.0} creates a second against DynamoDB Local on this machine. Every create adds to the organization's dossier counters in its transaction; they are split over 8 items, so concurrent creates seldom cancel each other (DynamoDB does not queue transactions that touch one item). On AWS the bound is the organization's partition key, which DynamoDB serves at up to 1,000 write units a second: at about 20 WCU a JSON create with its index copies (`POST /dossiers (JSON)` above), some 50 creates a second.\n",
        burst["clients"], burst["requests"], burst["created"], burst["failed"],
        burst["per_second"].as_f64().unwrap_or(0.0),
    ));
}

fn write_bootstrap_sizes(md: &mut String, report: &Value) {
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
}

fn write_webhook_latency(md: &mut String, report: &Value) {
    let hooks = &report["webhook_latency"];
    md.push_str(&format!(
        "\n## Webhook latency\n\nFrom the API response of the committing request to the receiver getting the event, through the local stream and queue pollers (the stream poller sleeps 250 ms between polls, the queue poller long-polls): {} events, p50 {:.0} ms, p99 {:.0} ms.\n",
        hooks["events"], hooks["p50_ms"].as_f64().unwrap(), hooks["p99_ms"].as_f64().unwrap()
    ));
}

/// The operations measured at one organization size, as a table.
pub(crate) fn operations_table(size: &str, ops: &Value) -> String {
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
