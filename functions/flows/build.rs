//! `openapi.yaml` as JSON (`GET /api/v1/openapi.json`), built from the repository's document
//! so that the two cannot drift, with request samples added to every operation.

use std::path::Path;

#[path = "build/samples.rs"]
mod samples;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set"));

    let source = root.join("openapi.yaml");
    println!("cargo:rerun-if-changed={}", source.display());
    let yaml = std::fs::read_to_string(&source).expect("openapi.yaml is readable");
    let mut document: serde_json::Value =
        serde_yaml_ng::from_str(&yaml).expect("openapi.yaml is valid YAML");
    println!(
        "cargo:rerun-if-changed={}",
        root.join("functions/flows/build/samples.rs").display()
    );
    samples::add_to(&mut document);
    std::fs::write(
        out.join("openapi.json"),
        serde_json::to_string(&document).expect("JSON"),
    )
    .expect("write openapi.json");
}
