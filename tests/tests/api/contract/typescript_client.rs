//! A TypeScript client generated from the served document, run against the API.

use integration_tests::growth_org;
use serde_json::Value;

/// A TypeScript client generated from the document the API serves (openapi-typescript),
/// type-checked with `tsc --noEmit` under strict settings, then run with openapi-fetch
/// against the API: create with an Idempotency-Key, get, PATCH with If-Match (and a stale
/// one refused), a 400 naming its field, a contact, a link, a note, a multipart create with
/// a CV, and cursor paging. `tests/typescript/round_trip.ts` also holds type-level checks
/// that fail `tsc` when the document loses a required field, a declared header or a field
/// of a form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_typescript_client_round_trips() {
    let org = growth_org().await;
    let base = integration_tests::serve_api().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Inside the repository, so that Node finds node_modules/ by walking up.
    let dir = root.join(format!("target/typescript-client/{}", org.id));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["round_trip.ts", "tsconfig.json", "package.json"] {
        std::fs::copy(root.join("tests/typescript").join(file), dir.join(file)).unwrap();
    }
    let bin = |name: &str| root.join("node_modules/.bin").join(name);
    let run = |program: std::path::PathBuf, args: Vec<String>| async move {
        let out = tokio::process::Command::new(&program)
            .args(&args)
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output()
            .await
            .unwrap_or_else(|err| {
                panic!("{} ({err}); `make setup` installs it", program.display())
            });
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{} {args:?}:\n{text}",
            program.display()
        );
        text
    };
    let schema = dir.join("schema.d.ts");
    run(
        bin("openapi-typescript"),
        vec![
            format!("{base}/openapi.json"),
            "-o".into(),
            schema.display().to_string(),
        ],
    )
    .await;
    // Every operation's request samples: the TypeScript ones are type-checked with the
    // round trip (against the same generated types, as `leadgrid.d.ts`, the name they
    // import), the Python ones compiled, the shell ones parsed.
    std::fs::copy(&schema, dir.join("leadgrid.d.ts")).unwrap();
    let document: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut samples = 0;
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            let by_lang: Vec<(&str, &str)> = operation["x-codeSamples"]
                .as_array()
                .unwrap_or_else(|| panic!("{id} has request samples"))
                .iter()
                .map(|s| (s["lang"].as_str().unwrap(), s["source"].as_str().unwrap()))
                .collect();
            let langs: Vec<&str> = by_lang.iter().map(|(lang, _)| *lang).collect();
            assert_eq!(langs, ["Shell", "TypeScript", "Python"], "{id}");
            for (lang, source) in by_lang {
                let file = match lang {
                    "Shell" => format!("sample_{id}.sh"),
                    "TypeScript" => format!("sample_{id}.ts"),
                    _ => format!("sample_{id}.py"),
                };
                std::fs::write(dir.join(file), source).unwrap();
            }
            samples += 1;
        }
    }
    assert!(samples >= 30, "{samples} operations with samples");
    run(
        bin("tsc"),
        vec!["-p".into(), dir.join("tsconfig.json").display().to_string()],
    )
    .await;
    let python = root.join(".venv/bin/python");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("py") => {
                run(
                    python.clone(),
                    vec!["-m".into(), "py_compile".into(), path.display().to_string()],
                )
                .await;
            }
            Some("sh") => {
                run("bash".into(), vec!["-n".into(), path.display().to_string()]).await;
            }
            _ => {}
        }
    }
    // Some samples as they are, against the API: what a reader pastes works.
    for id in [
        "listFlows",
        "createContact",
        "createDossier",
        "listDossiers",
    ] {
        let out = tokio::process::Command::new(&python)
            .arg(dir.join(format!("sample_{id}.py")))
            .env("LEADGRID_API", &base)
            .env("LEADGRID_KEY", &org.key)
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && (text.starts_with("200 ") || text.starts_with("201 ")),
            "the Python sample of {id}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(
        bin("tsx"),
        vec![
            dir.join("round_trip.ts").display().to_string(),
            base.clone(),
            org.key.clone(),
        ],
    )
    .await;
    let summary: Value = serde_json::from_str(out.trim().lines().last().unwrap())
        .unwrap_or_else(|_| panic!("the round trip's last line is its summary:\n{out}"));
    assert!(summary["pages"].as_u64().unwrap() >= 2, "{summary}");
    std::fs::remove_dir_all(&dir).ok();
}
