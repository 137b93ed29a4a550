//! The webhook signature verifiers a receiver might run, each fed a request as it arrived:
//! the spec's own Node.js function, the examples in `docs/webhooks/`, and Stripe's library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[path = "../../docs/webhooks/verify.rs"]
mod rust_example;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verifier {
    /// The spec's `verifyLeadGridSignature`, unchanged (`tests/fixtures/spec-verifier.ts`).
    /// It reads one `v1` and no timestamp, so it takes no tolerance.
    Spec,
    /// `docs/webhooks/verify.rs`.
    Rust,
    /// `docs/webhooks/verify.mjs`.
    Node,
    /// `docs/webhooks/verify.py`.
    Python,
    /// Stripe's Python library, `stripe.WebhookSignature.verify_header`, unchanged.
    Stripe,
}

impl Verifier {
    /// The verifiers that handle a rotation's two `v1` signatures and stale timestamps.
    pub const ROTATION_AWARE: [Verifier; 4] = [Self::Rust, Self::Node, Self::Python, Self::Stripe];

    /// Whether this verifier accepts `body` as signed with `secret` in `header`, within
    /// `tolerance_seconds` of now.
    pub fn verifies(self, header: &str, body: &str, secret: &str, tolerance_seconds: u64) -> bool {
        let docs = root().join("docs/webhooks");
        let mut command = match self {
            Self::Rust => {
                return rust_example::verify_leadgrid_signature(
                    header,
                    body.as_bytes(),
                    secret,
                    tolerance_seconds,
                )
            }
            Self::Spec => {
                let mut command = Command::new(root().join("node_modules/.bin/tsx"));
                command.arg(root().join("tests/fixtures/spec-verifier.ts"));
                command
            }
            Self::Node => {
                let mut command = Command::new("node");
                command.args(["--input-type=module", "-e"]).arg(format!(
                    r#"import {{ readFileSync }} from "node:fs";
                    import {{ verifyLeadGridSignature }} from "file://{}";
                    const {{ header, body, secret, tolerance }} = JSON.parse(readFileSync(0, "utf8"));
                    console.log(verifyLeadGridSignature(header, body, secret, tolerance));"#,
                    docs.join("verify.mjs").display()
                ));
                command
            }
            Self::Python => {
                let mut command = Command::new(root().join(".venv/bin/python"));
                command.arg("-c").arg(format!(
                    r#"import json, sys
sys.path.insert(0, {docs:?})
from verify import verify_leadgrid_signature
i = json.load(sys.stdin)
print(str(verify_leadgrid_signature(i["header"], i["body"].encode(), i["secret"], i["tolerance"])).lower())"#,
                ));
                command
            }
            Self::Stripe => {
                let mut command = Command::new(root().join(".venv/bin/python"));
                command.arg("-c").arg(
                    r#"import json, sys, stripe
i = json.load(sys.stdin)
try:
    stripe.WebhookSignature.verify_header(i["body"], i["header"], i["secret"], i["tolerance"])
    print("true")
except stripe.SignatureVerificationError:
    print("false")"#,
                );
                command
            }
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("run the {self:?} verifier (installed by `make setup`): {e}")
            });
        let input = serde_json::json!({
            "header": header, "body": body, "secret": secret, "tolerance": tolerance_seconds,
        });
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().expect("verifier output");
        assert!(
            out.status.success(),
            "the {self:?} verifier failed: {out:?}"
        );
        match String::from_utf8_lossy(&out.stdout).trim() {
            "true" => true,
            "false" => false,
            other => panic!("the {self:?} verifier printed {other:?}"),
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
