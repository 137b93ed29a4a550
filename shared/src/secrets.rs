//! The two application secrets, each read from Secrets Manager once per container, so that
//! every function can read only the material it needs:
//!
//! - the **API-key secret** (`API_KEY_SECRET_ID`) gives the pepper API keys are hashed
//!   with: the API functions verify keys with it, `leadgrid-admin` makes them;
//! - the **webhook secret** (`WEBHOOK_SECRET_ID`) gives the master key every endpoint's
//!   signing secret derives from: `delivery` signs with it, `leadgrid-admin` shows secrets.
//!
//! CloudFormation generates each as `{"root_key": "<64 characters>"}`; the material is
//! HMAC-SHA256 of that root under a label of its own. The API-key secret may instead
//! hold the pepper itself (`{"api_key_pepper": "<64 hex digits>"}`), which is how
//! `leadgrid-admin secrets carry-over` moves a stack from the single secret it used to
//! have without invalidating its keys: the pepper reveals nothing of the webhook key.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::ApiError;

pub const ROOT_KEY_FIELD: &str = "root_key";
pub const API_KEY_PEPPER_FIELD: &str = "api_key_pepper";
const API_KEY_PEPPER_LABEL: &[u8] = b"leadgrid/api-key-pepper/v1";
const WEBHOOK_MASTER_KEY_LABEL: &[u8] = b"leadgrid/webhook-master-key/v1";

/// Material read from one secret's JSON string.
pub trait SecretMaterial: Sized + Send + Sync + 'static {
    fn from_secret_string(raw: &str) -> Result<Self, String>;
}

/// The pepper API keys are hashed with.
pub struct KeyPepper([u8; 32]);

/// The key every webhook endpoint's signing secrets derive from.
pub struct WebhookMasterKey([u8; 32]);

impl KeyPepper {
    pub fn from_root(root: &[u8]) -> Self {
        Self(derive(root, API_KEY_PEPPER_LABEL))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The secret string that holds this pepper itself.
    pub fn to_secret_string(&self) -> String {
        serde_json::json!({ API_KEY_PEPPER_FIELD: hex::encode(self.0) }).to_string()
    }
}

impl WebhookMasterKey {
    pub fn from_root(root: &[u8]) -> Self {
        Self(derive(root, WEBHOOK_MASTER_KEY_LABEL))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl SecretMaterial for KeyPepper {
    fn from_secret_string(raw: &str) -> Result<Self, String> {
        let fields = object(raw)?;
        if let Some(pepper) = fields.get(API_KEY_PEPPER_FIELD) {
            let bytes = pepper
                .as_str()
                .and_then(|hex| hex::decode(hex).ok())
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| {
                    format!("the secret's {API_KEY_PEPPER_FIELD} is not 64 hex digits")
                })?;
            return Ok(Self(bytes));
        }
        root(&fields).map(Self::from_root)
    }
}

impl SecretMaterial for WebhookMasterKey {
    fn from_secret_string(raw: &str) -> Result<Self, String> {
        root(&object(raw)?).map(Self::from_root)
    }
}

fn object(raw: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    serde_json::from_str(raw).map_err(|_| "secret is not a JSON object".to_string())
}

fn root(fields: &serde_json::Map<String, serde_json::Value>) -> Result<&[u8], String> {
    fields
        .get(ROOT_KEY_FIELD)
        .and_then(|v| v.as_str())
        .filter(|v| v.len() >= 32)
        .map(str::as_bytes)
        .ok_or_else(|| format!("secret lacks a {ROOT_KEY_FIELD} of at least 32 characters"))
}

impl std::fmt::Debug for KeyPepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPepper(<redacted>)")
    }
}

impl std::fmt::Debug for WebhookMasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookMasterKey(<redacted>)")
    }
}

fn derive(root: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(root).expect("HMAC accepts keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// Fetches one secret once (on first use, or ahead of it with [`SecretSource::prefetch`]),
/// then serves its material from memory for the container's life. Init does not wait for
/// it.
pub struct SecretSource<T> {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    cell: Arc<OnceCell<Arc<T>>>,
}

impl<T> Clone for SecretSource<T> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            secret_id: self.secret_id.clone(),
            cell: self.cell.clone(),
        }
    }
}

impl<T: SecretMaterial> SecretSource<T> {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            cell: Arc::new(OnceCell::new()),
        }
    }

    /// Starts reading the secret in the background, so that a container's first request
    /// finds it read or on its way rather than starting the read itself. A failed read is
    /// retried by the first request.
    pub fn prefetch(&self) {
        let source = self.clone();
        tokio::spawn(async move {
            if let Err(err) = source.get().await {
                tracing::warn!(error = ?err, "prefetching a secret failed; the first request retries");
            }
        });
    }

    pub async fn get(&self) -> Result<Arc<T>, ApiError> {
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
                            "reading secret {}: {}",
                            self.secret_id,
                            aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                        ))
                    })?;
                let raw = out
                    .secret_string()
                    .ok_or_else(|| ApiError::internal("secret has no string value"))?;
                T::from_secret_string(raw)
                    .map(Arc::new)
                    .map_err(|e| ApiError::internal(format!("secret {}: {e}", self.secret_id)))
            })
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = r#"{"root_key":"0123456789abcdef0123456789abcdef"}"#;

    #[test]
    fn each_secret_derives_its_own_material_from_its_root() {
        let pepper = KeyPepper::from_secret_string(ROOT).unwrap();
        let master = WebhookMasterKey::from_secret_string(ROOT).unwrap();
        assert_eq!(
            pepper.bytes(),
            KeyPepper::from_root(b"0123456789abcdef0123456789abcdef").bytes()
        );
        assert_ne!(pepper.bytes(), master.bytes());
    }

    /// What `secrets carry-over` writes gives the same pepper as the root it came from.
    #[test]
    fn a_carried_over_pepper_verifies_the_same_keys() {
        let from_root = KeyPepper::from_secret_string(ROOT).unwrap();
        let carried = KeyPepper::from_secret_string(&from_root.to_secret_string()).unwrap();
        assert_eq!(carried.bytes(), from_root.bytes());
        assert!(WebhookMasterKey::from_secret_string(&from_root.to_secret_string()).is_err());
    }

    #[test]
    fn rejects_short_missing_or_malformed_material() {
        assert!(KeyPepper::from_secret_string(r#"{"root_key":"short"}"#).is_err());
        assert!(KeyPepper::from_secret_string(r#"{"api_key_pepper":"abcd"}"#).is_err());
        assert!(WebhookMasterKey::from_secret_string("not json").is_err());
        assert!(format!("{:?}", KeyPepper::from_root(b"x")).contains("redacted"));
        assert!(format!("{:?}", WebhookMasterKey::from_root(b"x")).contains("redacted"));
    }
}
