//! The application secret, read from Secrets Manager once per container.
//!
//! The secret holds one random `root_key` (CloudFormation generates it). The API-key pepper
//! and the webhook master key are derived from it with HMAC-SHA256 under distinct labels, so
//! one generated value serves both purposes without either revealing the other.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::ApiError;

pub const ROOT_KEY_FIELD: &str = "root_key";

pub struct AppSecrets {
    key_pepper: [u8; 32],
    webhook_master_key: [u8; 32],
}

impl AppSecrets {
    pub fn from_root(root: &[u8]) -> Self {
        Self {
            key_pepper: derive(root, b"leadgrid/api-key-pepper/v1"),
            webhook_master_key: derive(root, b"leadgrid/webhook-master-key/v1"),
        }
    }

    /// Parses the secret's JSON string, `{"root_key": "..."}`.
    pub fn from_secret_string(raw: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(raw).map_err(|_| "secret is not a JSON object".to_string())?;
        let root = value
            .get(ROOT_KEY_FIELD)
            .and_then(|v| v.as_str())
            .filter(|v| v.len() >= 32)
            .ok_or_else(|| format!("secret lacks a {ROOT_KEY_FIELD} of at least 32 characters"))?;
        Ok(Self::from_root(root.as_bytes()))
    }

    pub fn key_pepper(&self) -> &[u8; 32] {
        &self.key_pepper
    }

    pub fn webhook_master_key(&self) -> &[u8; 32] {
        &self.webhook_master_key
    }
}

impl std::fmt::Debug for AppSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecrets(<redacted>)")
    }
}

fn derive(root: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(root).expect("HMAC accepts keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// Fetches the secret once (on first use, or ahead of it with [`SecretSource::prefetch`]),
/// then serves it from memory for the container's life. Init does not wait for it.
#[derive(Clone)]
pub struct SecretSource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    cell: Arc<OnceCell<Arc<AppSecrets>>>,
}

impl SecretSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            cell: Arc::new(OnceCell::new()),
        }
    }

    /// Starts reading the secret in the background, so that a container's first request,
    /// which needs it to check the API key, finds it read or on its way rather than
    /// starting the read itself. A failed read is retried by the first request.
    pub fn prefetch(&self) {
        let source = self.clone();
        tokio::spawn(async move {
            if let Err(err) = source.get().await {
                tracing::warn!(error = ?err, "prefetching the secret failed; the first request retries");
            }
        });
    }

    pub async fn get(&self) -> Result<Arc<AppSecrets>, ApiError> {
        self.cell
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .get_secret_value()
                    .secret_id(&self.secret_id)
                    .send()
                    .await
                    .map_err(|e| {
                        ApiError::internal(format!(
                            "reading secret: {}",
                            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                        ))
                    })?;
                let raw = out
                    .secret_string()
                    .ok_or_else(|| ApiError::internal("secret has no string value"))?;
                AppSecrets::from_secret_string(raw)
                    .map(Arc::new)
                    .map_err(ApiError::internal)
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_and_are_stable() {
        let a =
            AppSecrets::from_secret_string(r#"{"root_key":"0123456789abcdef0123456789abcdef"}"#)
                .unwrap();
        let b = AppSecrets::from_root(b"0123456789abcdef0123456789abcdef");
        assert_eq!(a.key_pepper(), b.key_pepper());
        assert_ne!(a.key_pepper(), a.webhook_master_key());
    }

    #[test]
    fn rejects_short_or_missing_root() {
        assert!(AppSecrets::from_secret_string(r#"{"root_key":"short"}"#).is_err());
        assert!(AppSecrets::from_secret_string("not json").is_err());
        assert!(format!("{:?}", AppSecrets::from_root(b"x")).contains("redacted"));
    }
}
