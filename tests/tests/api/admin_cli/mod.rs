//! `leadgrid-admin` end to end: the built binary against the local stack.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

mod data_maintenance;
mod env_files;
mod orgs_and_keys;
mod webhook_commands;

fn admin_bin() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/leadgrid-admin");
    assert!(
        path.is_file(),
        "build it first: cargo build -p leadgrid-tools --bins"
    );
    path
}

fn admin(args: &[&str]) -> Value {
    let out = Command::new(admin_bin())
        .args(args)
        .output()
        .expect("leadgrid-admin runs");
    assert!(
        out.status.success(),
        "leadgrid-admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    assert_eq!(
        text.trim().lines().count(),
        1,
        "one JSON object per command: {text}"
    );
    serde_json::from_str(&text).expect("stdout is JSON")
}

fn admin_fails(args: &[&str]) -> String {
    let out = Command::new(admin_bin())
        .args(args)
        .output()
        .expect("leadgrid-admin runs");
    assert!(!out.status.success(), "leadgrid-admin {args:?} should fail");
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).to_string()
}
