//! `openapi.yaml` as JSON (`GET /api/v1/openapi.json`), built from the repository's document
//! so that the two cannot drift.

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
}
