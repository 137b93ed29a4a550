//! Converts the repository's `openapi.yaml` to the JSON this function serves at
//! `GET /api/v1/openapi.json`, so the served document is always the one in the repository.

fn main() {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.yaml");
    println!("cargo:rerun-if-changed={}", source.display());
    let yaml = std::fs::read_to_string(&source).expect("openapi.yaml is readable");
    let document: serde_json::Value =
        serde_yaml_ng::from_str(&yaml).expect("openapi.yaml is valid YAML");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set"))
        .join("openapi.json");
    std::fs::write(out, serde_json::to_string(&document).expect("JSON"))
        .expect("write openapi.json");
}
