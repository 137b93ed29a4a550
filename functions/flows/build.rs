//! The public documents this function serves, built from the repository so they cannot drift
//! from it: `openapi.yaml` as JSON (`GET /api/v1/openapi.json`), and Redoc's standalone
//! bundle from `node_modules` (`GET /api/v1/docs`), pinned by `package-lock.json`.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set"));

    let source = root.join("openapi.yaml");
    println!("cargo:rerun-if-changed={}", source.display());
    let yaml = std::fs::read_to_string(&source).expect("openapi.yaml is readable");
    let document: serde_json::Value =
        serde_yaml_ng::from_str(&yaml).expect("openapi.yaml is valid YAML");
    std::fs::write(
        out.join("openapi.json"),
        serde_json::to_string(&document).expect("JSON"),
    )
    .expect("write openapi.json");

    let renderer = root.join("node_modules/redoc/bundles/redoc.standalone.js");
    println!("cargo:rerun-if-changed={}", renderer.display());
    if let Err(error) = std::fs::copy(&renderer, out.join("redoc.standalone.js")) {
        panic!(
            "{}: {error}. The API reference page embeds Redoc from node_modules: \
             run `make setup` (npm ci) first.",
            renderer.display()
        );
    }
}
