//! Property-based fuzzing of every operation with schemathesis.

use std::collections::BTreeSet;

use integration_tests::growth_org;
use serde_json::Value;
use shared::web::auth::Scope;

use super::operations;

/// Enough keys that none nears the 600-per-minute limit: the run sends up to about 8,000
/// requests a minute, some 125 per key.
const CONTRACT_KEYS: usize = 64;

/// Bounded to 15 examples per operation and 120 s, through API Gateway's events and the
/// functions' Lambda entry points ([`integration_tests::serve_api`]). The hooks in
/// `tests/contract/schemathesis_hooks.py` generate raw PDF bodies, spread requests over
/// [`CONTRACT_KEYS`] keys and log every response. Its two standing warnings are expected:
/// `GET /dossiers/{id}/cv` and `POST …/cv/complete` mostly answer 404 because generated
/// dossiers have no CV and generated upload ids name no upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failures() {
    let org = growth_org().await;
    let mut keys = vec![org.key.clone()];
    for _ in 1..CONTRACT_KEYS {
        keys.push(org.key_with(&Scope::ALL).await);
    }
    let base = integration_tests::serve_api().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let report = std::env::temp_dir().join(format!("schemathesis-{}", org.id));
    std::fs::create_dir_all(&report).unwrap();
    let log = report.join("responses.jsonl");
    let out = tokio::process::Command::new(root.join(".venv/bin/schemathesis"))
        .current_dir(&report)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env(
            "SCHEMATHESIS_HOOKS",
            root.join("tests/contract/schemathesis_hooks.py"),
        )
        .env("LEADGRID_CONTRACT_KEYS", keys.join(","))
        .env("LEADGRID_CONTRACT_LOG", &log)
        .args(["run", &format!("{base}/openapi.json"), "--url", &base])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", "15", "--max-time", "120", "--seed", "20261126"])
        .args(["--max-redirects", "0", "--request-timeout", "20"])
        .args(["--no-color", "--generation-database", "none"])
        .arg("--report-dir")
        .arg(&report)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run schemathesis (installed by `make setup`)");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        out.status.success(),
        "schemathesis failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = text
        .lines()
        .rev()
        .find(|line| line.contains(" generated"))
        .unwrap_or_else(|| panic!("no summary line in:\n{text}"));
    assert!(!summary.contains("errored"), "{summary}");
    assert!(!summary.contains("skipped"), "{summary}");
    let count = |label: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(|rest| rest.trim().to_string())
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{text}"))
    };
    let selected = count("Selected:");
    let (selected, total) = selected.split_once('/').unwrap_or((&selected, ""));
    assert_eq!(
        (selected, total),
        (count("Tested:").as_str(), selected),
        "every operation is selected and tested"
    );
    assert!(!text.contains("Rate limited"), "the run waited on a 429");

    let responses: Vec<Value> = std::fs::read_to_string(&log)
        .expect("the hooks logged responses")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let statuses = |operation: &str| -> BTreeSet<u64> {
        responses
            .iter()
            .filter(|r| r["operation"] == operation)
            .map(|r| r["status"].as_u64().unwrap())
            .collect()
    };
    let tested: BTreeSet<String> = responses
        .iter()
        .map(|r| r["operation"].as_str().unwrap().to_string())
        .collect();
    let documented: BTreeSet<String> = operations()
        .iter()
        .map(|op| format!("{} {}", op.method, op.template))
        .collect();
    assert_eq!(
        documented.difference(&tested).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "operations schemathesis never called"
    );
    // The key's limit never answers; the limits on test pings (per endpoint) and on
    // recoveries (per organization) may, since the stateful phase calls them again and again.
    let limited: Vec<&Value> = responses.iter().filter(|r| r["status"] == 429).collect();
    let own_limit = |r: &&Value| {
        let message = r["message"].as_str().unwrap_or_default();
        match r["operation"].as_str() {
            Some("POST /webhook_endpoints/{id}/test") => {
                message.starts_with("At most 5 test pings a minute per endpoint.")
            }
            Some("POST /webhook_endpoints/{id}/recover") => {
                message.starts_with("At most 3 recoveries a minute per organization.")
            }
            _ => false,
        }
    };
    assert!(
        limited.iter().all(own_limit),
        "no request may be rate limited but by the test-ping and recovery limits: {limited:?}"
    );
    let pdf_bodies = |magic: bool| {
        responses
            .iter()
            .filter(|r| {
                r["operation"] == "POST /dossiers/{id}/cv"
                    && r["media_type"] == "application/pdf"
                    && r["raw_bytes"] == true
                    && r["pdf_magic"] == magic
            })
            .count()
    };
    let (arbitrary, pdf_like) = (pdf_bodies(false), pdf_bodies(true));
    let report = format!(
        "schemathesis: {}; operations {selected}/{total} tested; {} responses over {CONTRACT_KEYS} keys, none limited by a key's rate, {} by the test-ping and recovery limits; raw PDF bodies: {arbitrary} arbitrary, {pdf_like} opening with %PDF-; POST /dossiers/{{id}}/cv answered {:?}\n",
        summary.trim(),
        responses.len(),
        limited.len(),
        statuses("POST /dossiers/{id}/cv"),
    );
    print!("{report}");
    // `make test` prints this after the run, where a passing test's output is hidden.
    std::fs::write(root.join("target/schemathesis-summary.txt"), &report).unwrap();
    assert!(arbitrary > 0 && pdf_like > 0);
}
