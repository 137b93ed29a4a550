//! The two application secrets, each read from Secrets Manager when first needed (or at a
//! container's init) and again every [`SECRET_MAX_AGE`], so that every function can read
//! only the material it needs:
//!
//! - the **API-key secret** (`API_KEY_SECRET_ID`) gives the pepper API keys made before
//!   keys were hashed with SHA-256 alone are hashed with: the API functions read it only
//!   to verify such a key at its first use (see `web::auth`);
//! - the **webhook secret** (`WEBHOOK_SECRET_ID`) gives the master key every endpoint's
//!   signing secret derives from: `delivery` signs with it, `leadgrid-admin` shows secrets.
//!
//! CloudFormation generates each as `{"root_key": "<64 characters>"}`; the material is
//! HMAC-SHA256 of that root under a label of its own. The API-key secret may instead
//! hold the pepper itself (`{"api_key_pepper": "<64 hex digits>"}`), which is how
//! `leadgrid-admin secrets carry-over` moves a stack from the single secret it used to
//! have without invalidating its keys: the pepper reveals nothing of the webhook key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

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

/// How long a container serves a secret's value before reading it again. A rotated value
/// reaches every running container within this time, without a deploy (which would replace
/// no container when nothing in the stack changed).
pub const SECRET_MAX_AGE: Duration = Duration::from_secs(300);
/// The longest init waits for a secret: Lambda's init phase has 10 s in all.
const INIT_WAIT: Duration = Duration::from_secs(2);
/// After a failed refresh, the stale value is served this long before the next try.
const RETRY_AFTER_FAILED_REFRESH: Duration = Duration::from_secs(30);

/// One secret's material, read at init ([`SecretSource::load`]) or on first use, then served
/// from memory; once it is [`SECRET_MAX_AGE`] old, a request that finds it so starts a read
/// in the background and is served the value it has meanwhile.
pub struct SecretSource<T> {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    max_age: Duration,
    cached: Arc<RwLock<Option<Cached<T>>>>,
    first_read: Arc<tokio::sync::Mutex<()>>,
    refreshing: Arc<AtomicBool>,
}

struct Cached<T> {
    value: Arc<T>,
    fresh_until: Instant,
}

impl<T> Clone for SecretSource<T> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            secret_id: self.secret_id.clone(),
            max_age: self.max_age,
            cached: self.cached.clone(),
            first_read: self.first_read.clone(),
            refreshing: self.refreshing.clone(),
        }
    }
}

impl<T: SecretMaterial> SecretSource<T> {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            max_age: SECRET_MAX_AGE,
            cached: Arc::new(RwLock::new(None)),
            first_read: Arc::new(tokio::sync::Mutex::new(())),
            refreshing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The same source, refreshed after `max_age` instead of [`SECRET_MAX_AGE`].
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Reads the secret now, during a container's init, so that no request waits for it.
    /// A failure, or a read slower than [`INIT_WAIT`], is logged and left to the first
    /// request, which reads it again.
    pub async fn load(&self) {
        match tokio::time::timeout(INIT_WAIT, self.get()).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = ?err, "reading a secret at init failed; the first request retries")
            }
            Err(_) => tracing::warn!(
                "reading a secret at init took over 2 s; the first request waits for it"
            ),
        }
    }

    pub async fn get(&self) -> Result<Arc<T>, ApiError> {
        if let Some(value) = self.current() {
            return Ok(value);
        }
        // One read for all the requests that find nothing yet.
        let _reading = self.first_read.lock().await;
        if let Some(value) = self.current() {
            return Ok(value);
        }
        let value = self.read().await?;
        self.store(value.clone(), self.max_age);
        Ok(value)
    }

    /// The value held, if any; a stale one starts its refresh.
    fn current(&self) -> Option<Arc<T>> {
        let cached = self.cached.read().unwrap_or_else(|e| e.into_inner());
        let cached = cached.as_ref()?;
        if Instant::now() >= cached.fresh_until && !self.refreshing.swap(true, Ordering::AcqRel) {
            let source = self.clone();
            tokio::spawn(async move { source.refresh().await });
        }
        Some(cached.value.clone())
    }

    async fn refresh(&self) {
        // Cleared however the refresh ends, a panic included: else no refresh would start
        // again in this container.
        struct Done(Arc<AtomicBool>);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _done = Done(self.refreshing.clone());
        match self.read().await {
            Ok(value) => self.store(value, self.max_age),
            Err(err) => {
                tracing::warn!(error = ?err, "refreshing a secret failed; serving the value read before");
                let held = self
                    .cached
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .map(|c| c.value.clone());
                if let Some(value) = held {
                    self.store(value, RETRY_AFTER_FAILED_REFRESH.min(self.max_age));
                }
            }
        }
    }

    fn store(&self, value: Arc<T>, fresh_for: Duration) {
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Some(Cached {
            value,
            fresh_until: Instant::now() + fresh_for,
        });
    }

    async fn read(&self) -> Result<Arc<T>, ApiError> {
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
