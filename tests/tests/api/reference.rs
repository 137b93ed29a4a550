//! `GET /api/v1/docs`: the API reference page, loaded in headless Chromium as an integrator's
//! browser would load it, with nothing from the internet.

use std::path::{Path, PathBuf};
use std::process::Command;

use integration_tests::serve_api;
use serde_json::Value;

/// A Chromium-family browser: `LEADGRID_CHROMIUM`, or the first found on the PATH or where
/// macOS keeps applications (`make browser` finds one, or installs Debian's with apt).
fn browser() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LEADGRID_CHROMIUM") {
        return Some(path.into());
    }
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.map(|name| dir.join(name)))
        .chain([
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome".into(),
            "/Applications/Chromium.app/Contents/MacOS/Chromium".into(),
        ])
        .find(|candidate| candidate.is_file())
}

/// The browser, or `None` with the reason printed (past the test harness's capture, so
/// that `make test` shows it); under `CI=true` a missing browser fails.
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    use std::io::Write;
    let found = browser();
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: no Chromium-family browser, and CI must render the page: run `make browser` or set LEADGRID_CHROMIUM"
        );
        let note = format!("{test}: skipped, no Chromium-family browser here (install one, or set LEADGRID_CHROMIUM)\n");
        let _ = std::io::stderr().write_all(note.as_bytes());
    }
    found
}

/// The browser with the flags a closed network needs: no background connections, no
/// component updates, a profile of its own.
fn chromium(browser: &Path, profile: &Path) -> Command {
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            // Time enough to fetch the renderer and the document and lay out every operation.
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

fn profile() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("leadgrid-chromium-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_page_is_public_and_keeps_to_its_own_origin() {
    let base = serve_api().await;
    let page = reqwest::get(format!("{base}/docs")).await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |response: &reqwest::Response, name: &str| {
        response.headers()[name].to_str().unwrap().to_string()
    };
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    let policy = header(&page, "content-security-policy");
    assert!(
        policy.starts_with("default-src 'none'; script-src 'self';"),
        "{policy}"
    );
    assert!(page
        .text()
        .await
        .unwrap()
        .contains(r#"<redoc spec-url="openapi.json">"#));

    let renderer = reqwest::get(format!("{base}/docs/redoc.standalone.js"))
        .await
        .unwrap();
    assert_eq!(renderer.status(), 200);
    assert_eq!(
        header(&renderer, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert!(
        renderer.bytes().await.unwrap().len() > 500_000,
        "the whole bundle"
    );

    // `…/docs/`, as people type it, leads to the page (reqwest follows redirects), with no
    // key, by a relative URL that holds under any base path.
    let slashed = reqwest::get(format!("{base}/docs/")).await.unwrap();
    assert_eq!(slashed.status(), 200);
    assert_eq!(slashed.url().as_str(), format!("{base}/docs"));
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/docs/"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(header(&redirect, "location"), "../docs");
}

/// Renders the page in Chromium and finds each operation and webhook of the served document
/// in the DOM Redoc built. Also leaves a screenshot at `target/api-reference.png`
/// (`docs/api-reference.png` is a copy of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_every_operation_and_webhook() {
    let Some(browser) = browser_or_skip("chromium_renders_every_operation_and_webhook") else {
        return;
    };
    let base = serve_api().await;
    let document: Value = serde_json::from_str(flows::OPENAPI_JSON).unwrap();
    let page = format!("{base}/docs");

    let profile = profile();
    let dump = tokio::task::spawn_blocking({
        let page = page.clone();
        let profile = profile.clone();
        let browser = browser.clone();
        move || {
            chromium(&browser, &profile)
                .arg("--dump-dom")
                .arg(page)
                .output()
                .unwrap_or_else(|e| panic!("run {}: {e}", browser.display()))
        }
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&dump.stdout);
    let log = String::from_utf8_lossy(&dump.stderr);
    assert!(dump.status.success(), "chromium failed:\n{log}");
    // Redoc's sidebar credit asks Redocly's CDN for a logo; the policy blocks it and Redoc
    // drops the image. Nothing else may leave the origin or break the policy.
    let blocked: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("Content Security Policy"))
        .filter(|line| !line.contains("'https://cdn.redoc.ly/redoc/logo-mini.svg'"))
        .collect();
    assert!(
        blocked.is_empty(),
        "the page broke its own policy: {blocked:#?}"
    );

    let mut expected = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let operations = item.as_object().unwrap().iter();
        for (method, operation) in operations.filter(|(key, _)| *key != "parameters") {
            expected.push((format!("{} {path}", method.to_uppercase()), operation));
        }
    }
    for (name, item) in document["webhooks"].as_object().unwrap() {
        expected.push((format!("webhook {name}"), &item["post"]));
    }
    assert_eq!(
        document["webhooks"].as_object().unwrap().len(),
        9,
        "the spec's five webhooks, the three contact events and the test ping"
    );
    for (what, operation) in expected {
        let id = operation["operationId"].as_str().unwrap();
        assert!(
            dom.contains(&format!(r#"id="operation/{id}""#)),
            "{what} ({id}) is not on the page"
        );
        let summary = operation["summary"].as_str().unwrap();
        assert!(
            dom.contains(&escape(summary)),
            "{what}: its summary {summary:?} is not on the page"
        );
    }
    for name in document["webhooks"].as_object().unwrap().keys() {
        assert!(dom.contains(name.as_str()), "webhook {name} is not named");
    }
    // Every operation shows its request samples: a tab per language, curl's open.
    let operations = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter(|operation| operation.get("operationId").is_some())
        .count();
    for tab in [">curl<", ">TypeScript<", ">Python<"] {
        let shown = dom.matches(tab).count();
        assert!(
            shown >= operations,
            "sample tabs {tab}: {shown} for {operations}"
        );
    }
    assert!(dom.contains("LEADGRID_KEY"), "a sample's source is shown");

    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/api-reference.png");
    let shot = tokio::task::spawn_blocking({
        let profile = profile.clone();
        move || {
            chromium(&browser, &profile)
                .args(["--hide-scrollbars", "--window-size=1440,900"])
                .arg(format!("--screenshot={}", screenshot.display()))
                .arg(page)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    std::fs::remove_dir_all(profile).ok();
}

/// Text as it appears in the serialized DOM.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The bundle the flows function embeds is vendored (so that a clean clone builds with
/// `sam build` alone), and is the very one `package-lock.json` pins, which `make setup`
/// installs: upgrading Redoc means copying it again.
#[test]
fn the_vendored_renderer_is_the_pinned_one() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |path: &str| std::fs::read(root.join(path)).unwrap();
    for (vendored, pinned) in [
        ("redoc.standalone.js", "bundles/redoc.standalone.js"),
        (
            "redoc.standalone.js.LICENSE.txt",
            "bundles/redoc.standalone.js.LICENSE.txt",
        ),
        ("redoc.LICENSE", "LICENSE"),
    ] {
        assert!(
            read(&format!("functions/flows/assets/{vendored}"))
                == read(&format!("node_modules/redoc/{pinned}")),
            "functions/flows/assets/{vendored} differs from the pinned Redoc's {pinned}: copy it again (assets/README.md)"
        );
    }
    let lock: serde_json::Value = serde_json::from_slice(&read("package-lock.json")).unwrap();
    let pinned = lock["packages"]["node_modules/redoc"]["version"]
        .as_str()
        .unwrap();
    let vendored = String::from_utf8(read("functions/flows/assets/README.md")).unwrap();
    assert!(
        vendored.contains(&format!("Redoc {pinned}'s")),
        "assets/README.md names {pinned}"
    );
}
