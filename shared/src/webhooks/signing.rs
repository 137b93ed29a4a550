//! Signing: an endpoint's secret versions and the signature header each delivery carries.
//!
//! A secret is never stored: each secret version keeps only a random salt, and the secret is
//! `whsec_` + base64url(HMAC-SHA256(webhook master key, salt)). The master key is derived
//! from the root key in Secrets Manager, so the table alone reveals no secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::OffsetDateTime;

pub const USER_AGENT: &str = "LeadGrid-Webhooks/1.0";
pub const SIGNATURE_HEADER: &str = "X-LeadGrid-Signature";
pub const EVENT_ID_HEADER: &str = "X-LeadGrid-Event-Id";
pub const EVENT_TYPE_HEADER: &str = "X-LeadGrid-Event-Type";
/// The most secrets a delivery is signed with: the current one and, during a rotation's
/// grace window, the one it replaced.
pub const MAX_SIGNING_SECRETS: usize = 2;

/// One version of an endpoint's secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecretVersion {
    /// Hex of 32 random bytes; the secret is derived from it and the master key.
    pub salt: String,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When a rotated-out secret stops being used; `None` for the current one.
    #[serde(with = "crate::clock::rfc3339::option", default)]
    pub expires_at: Option<OffsetDateTime>,
}

impl SecretVersion {
    pub fn generate(now: OffsetDateTime) -> Self {
        let mut salt = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Self {
            salt: hex::encode(salt),
            created_at: now,
            expires_at: None,
        }
    }

    /// Names this version without revealing anything: a digest of its salt.
    pub fn digest(&self) -> String {
        hex::encode(<Sha256 as sha2::Digest>::digest(self.salt.as_bytes()))
    }

    pub fn secret(&self, master_key: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(master_key).expect("HMAC accepts keys of any length");
        mac.update(b"leadgrid/webhook-secret/v1:");
        mac.update(self.salt.as_bytes());
        format!(
            "whsec_{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` for each secret, in order.
/// The spec's verifier keeps the last `v1`, so the oldest secret goes last: receivers that
/// have not switched to the new secret yet keep verifying.
pub fn signature_header(secrets: &[String], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_put_the_current_secret_first_and_the_old_one_last() {
        let header = signature_header(&["whsec_new".into(), "whsec_old".into()], 1713178230, b"{}");
        let parts: Vec<&str> = header.split(',').collect();
        assert_eq!(parts[0], "t=1713178230");
        assert_eq!(parts.len(), 3);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_old").unwrap();
        mac.update(b"1713178230.{}");
        assert_eq!(
            parts[2],
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        );
    }

    #[test]
    fn secrets_come_from_the_master_key_and_a_random_salt() {
        let now = crate::clock::now();
        let a = SecretVersion::generate(now);
        let b = SecretVersion::generate(now);
        assert!(a.secret(b"master").starts_with("whsec_"));
        assert!(a.secret(b"master").len() >= "whsec_".len() + 32);
        assert_ne!(a.secret(b"master"), b.secret(b"master"));
        assert_ne!(a.secret(b"master"), a.secret(b"other master"));
        assert_eq!(a.secret(b"master"), a.secret(b"master"));
    }
}
