//! Verifies LeadGrid's `X-LeadGrid-Signature` header in Rust.
//! Cargo.toml: hmac = "0.12", sha2 = "0.10", hex = "0.4".

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// True when `header` (`t=<unix seconds>,v1=<hex>[,v1=<hex>]`) holds a signature of the raw
/// request `body` made with `secret`, at a time within `tolerance_seconds` of now. During a
/// secret rotation the header carries one `v1` per secret: any may match.
pub fn verify_leadgrid_signature(
    header: &str,
    body: &[u8],
    secret: &str,
    tolerance_seconds: u64,
) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => timestamp = Some(value),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    let Ok(signed_at) = t.parse::<u64>() else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    if now.abs_diff(signed_at) > tolerance_seconds {
        return false;
    }
    signatures.into_iter().any(|signature| {
        let Ok(signature) = hex::decode(signature) else {
            return false;
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
        mac.update(t.as_bytes());
        mac.update(b".");
        mac.update(body);
        // Compares in constant time.
        mac.verify_slice(&signature).is_ok()
    })
}
