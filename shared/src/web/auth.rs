//! API keys: generation, hashing, scopes, and authentication with rate counting in one
//! DynamoDB round trip.
//!
//! A key is `lg_live_` followed by the URL-safe base64 of 64 bytes: the organization id (16),
//! the key id (16) and 32 random bytes. The ids let us address the key's item directly; the
//! random part is the secret. Only `sha256:` and the hex SHA-256 of the key is stored.
//!
//! 256 random bits cannot be guessed, so hashing them with a secret pepper would add
//! nothing but a Secrets Manager read before a new container's first request. Keys made
//! before were stored as HMAC-SHA256(pepper, key) in `key_hash`; at a key's first verified
//! use, the only time the pepper is read, its SHA-256 is added beside it (`key_sha256`).
//! The HMAC stays, so the version before this one still verifies every key it made, during
//! a deploy and after a rollback.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::orgs::Plan;
use crate::secrets::{KeyPepper, SecretSource};
use crate::table::keys::{api_key_sk, org_pk};
use crate::table::store::{from_item, n, s, Db, Expression};
use crate::web::ratelimit::{window_start, RateStatus};
use crate::ApiError;

pub const KEY_PREFIX: &str = "lg_live_";
const RAW_KEY_LEN: usize = 64;

crate::wire_enum! {
    pub enum Scope {
        DossiersRead = "dossiers:read",
        DossiersWrite = "dossiers:write",
        ContactsRead = "contacts:read",
        ContactsWrite = "contacts:write",
        FlowsRead = "flows:read",
        NotesRead = "notes:read",
        NotesWrite = "notes:write",
        WebhooksManage = "webhooks:manage",
    }
}

impl Scope {
    /// The scope that reads the resource an event of `kind` is about: a key sees the
    /// events of what it may read.
    pub fn reading(kind: crate::domain::outbox::EventType) -> Scope {
        use crate::domain::outbox::EventType;
        match kind {
            EventType::DossierCreated
            | EventType::DossierUpdated
            | EventType::DossierStageChanged
            | EventType::DossierDeleted => Scope::DossiersRead,
            EventType::NoteCreated => Scope::NotesRead,
            EventType::ContactCreated | EventType::ContactUpdated | EventType::ContactDeleted => {
                Scope::ContactsRead
            }
        }
    }
}

/// The stored API key. `key_hash` is the only trace of the secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub org_id: Uuid,
    pub key_hash: String,
    /// The SHA-256 of a key whose `key_hash` is its HMAC under the pepper, added at its
    /// first verified use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    pub scopes: Vec<Scope>,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    // Absent rather than NULL, so that `if_not_exists(revoked_at, …)` sees it as missing.
    #[serde(
        default,
        with = "crate::clock::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "crate::clock::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub rl_window: u64,
    #[serde(default)]
    pub rl_count: u64,
    /// The organization's plan, kept in step with it by every plan change, so that the
    /// write that verifies and counts a key also answers the plan check. Absent on keys
    /// made before it was kept here: those read the organization's item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// What the key is for, as the operator named it (`key create --name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

pub struct NewKey {
    pub id: Uuid,
    /// The full `lg_live_…` secret: shown once, never stored.
    pub plaintext: String,
    pub hash: String,
}

pub fn generate_key(org: Uuid) -> NewKey {
    let id = crate::ids::new_id();
    let mut raw = [0u8; RAW_KEY_LEN];
    raw[..16].copy_from_slice(org.as_bytes());
    raw[16..32].copy_from_slice(id.as_bytes());
    rand::rngs::OsRng.fill_bytes(&mut raw[32..]);
    let plaintext = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let hash = hash_key(&plaintext);
    NewKey {
        id,
        plaintext,
        hash,
    }
}

const HASH_PREFIX: &str = "sha256:";

pub fn hash_key(key: &str) -> String {
    use sha2::Digest;
    format!(
        "{HASH_PREFIX}{}",
        hex::encode(Sha256::digest(key.as_bytes()))
    )
}

/// How keys made before [`hash_key`] were stored.
pub fn legacy_hash_key(pepper: &[u8], key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(pepper).expect("HMAC accepts keys of any length");
    mac.update(key.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The organization and key ids a well-formed key names.
pub fn parse_key(key: &str) -> Option<(Uuid, Uuid)> {
    let encoded = key.strip_prefix(KEY_PREFIX)?;
    let raw = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    if raw.len() != RAW_KEY_LEN {
        return None;
    }
    let org = Uuid::from_slice(&raw[..16]).ok()?;
    let id = Uuid::from_slice(&raw[16..32]).ok()?;
    Some((org, id))
}

/// The bearer token of an `Authorization` header value.
pub fn bearer_token(header: Option<&str>) -> Result<&str, ApiError> {
    let header = header.ok_or_else(|| {
        ApiError::Unauthorized(
            "Missing Authorization header. Send `Authorization: Bearer lg_live_…`.".into(),
        )
    })?;
    let (scheme, token) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized(
            "Authorization scheme must be Bearer.".into(),
        ));
    }
    let token = token.trim();
    if !token.starts_with(KEY_PREFIX) {
        return Err(malformed());
    }
    Ok(token)
}

fn malformed() -> ApiError {
    ApiError::Unauthorized("Malformed API key. Keys look like `lg_live_…`.".into())
}

fn invalid() -> ApiError {
    ApiError::Unauthorized("Invalid API key.".into())
}

/// Who is calling, and where they stand against the rate limit.
#[derive(Clone, Debug)]
pub struct Principal {
    pub org_id: Uuid,
    pub key_id: Uuid,
    pub scopes: Vec<Scope>,
    pub rate: RateStatus,
    /// The plan the key's item carries, if it does.
    pub plan: Option<Plan>,
}

impl Principal {
    pub fn require(&self, needed: &[Scope]) -> Result<(), ApiError> {
        let missing: Vec<&str> = needed
            .iter()
            .filter(|scope| !self.scopes.contains(scope))
            .map(|scope| scope.as_str())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "This API key lacks the required scope: {}.",
                missing.join(", ")
            )))
        }
    }
}

/// `ADD rl_count :one` for the window `window`.
fn count_one(window: u64) -> Expression<'static> {
    Expression {
        text: "ADD rl_count :one",
        values: vec![(":one", n(1)), (":window", n(window))],
        ..Default::default()
    }
}

/// How often counting may lose a race with other containers before the request gives up
/// with a retryable 500: each loss means another request moved the window on, so a few
/// attempts always suffice in practice.
const MAX_COUNT_ATTEMPTS: u32 = 4;

/// Either hash verifies: `key_hash` for keys made since keys were hashed with SHA-256 alone,
/// `key_sha256` for the older keys once first used. Written out whole in both conditions,
/// so that the hot path builds no string.
macro_rules! hash_matches {
    () => {
        "(key_hash = :hash OR key_sha256 = :hash)"
    };
}
/// The count goes into the window the request names.
const COUNT_IF: &str = concat!(hash_matches!(), " AND rl_window = :window");
/// The first request of a window starts it afresh.
const RESTART_IF: &str = concat!(
    hash_matches!(),
    " AND (attribute_not_exists(rl_window) OR rl_window < :window)"
);

/// Verifies the key and counts the request against its window, in one `UpdateItem` on the
/// hot path. A second round trip happens only on the first request of a new window, and
/// once for each key made before keys were hashed with SHA-256 alone.
pub async fn authenticate(
    db: &Db,
    legacy_pepper: &SecretSource<KeyPepper>,
    token: &str,
    now: OffsetDateTime,
) -> Result<Principal, ApiError> {
    let (org, key_id) = parse_key(token).ok_or_else(malformed)?;
    let hash = hash_key(token);
    let epoch = now.unix_timestamp().max(0) as u64;
    // The window this request counts in: the one its clock names, or a newer one another
    // container (whose clock is ahead, or whose request came a moment later) has started.
    // Counting into the newer window rather than failing keeps a valid key from ever
    // getting a 401 at a minute's boundary.
    let mut window = window_start(epoch);
    let (pk, sk) = (org_pk(org), api_key_sk(key_id));

    for _ in 0..MAX_COUNT_ATTEMPTS {
        let mut increment = count_one(window);
        increment.values.push((":hash", s(&hash)));
        let old = match db.update_if(&pk, &sk, &increment, Some(COUNT_IF)).await? {
            Ok(item) => return principal(org, key_id, from_item(item)?, epoch, now),
            Err(old) => old,
        };
        let Some(old) = old else {
            return Err(invalid());
        };
        let old: ApiKeyRecord = from_item(old)?;
        if old.key_hash != hash && old.key_sha256.as_ref() != Some(&hash) {
            if old.key_hash.starts_with(HASH_PREFIX) || old.key_sha256.is_some() {
                return Err(invalid());
            }
            let pepper = legacy_pepper.get().await?;
            if legacy_hash_key(pepper.bytes(), token) != old.key_hash {
                return Err(invalid());
            }
            usable(&old, now)?;
            add_sha256(db, &old.key_hash, &hash, (&pk, &sk)).await?;
            continue;
        }
        if old.rl_window > window {
            window = old.rl_window;
            continue;
        }
        // First request of a new window: start the count afresh, unless another request
        // already did, in which case counting again lands in the fresh window.
        let restart = Expression {
            text: "SET rl_window = :window, rl_count = :one",
            values: vec![(":one", n(1)), (":hash", s(&hash)), (":window", n(window))],
            ..Default::default()
        };
        if let Ok(item) = db.update_if(&pk, &sk, &restart, Some(RESTART_IF)).await? {
            return principal(org, key_id, from_item(item)?, epoch, now);
        }
    }
    Err(ApiError::internal(
        "authenticate: the rate window kept moving while counting",
    ))
}

/// Adds the SHA-256 `hash` to a key that its pepper hash `legacy` verified; the next count
/// then finds it. A concurrent request may have added it first, which counts as done.
async fn add_sha256(
    db: &Db,
    legacy: &str,
    hash: &str,
    (pk, sk): (&str, &str),
) -> Result<(), ApiError> {
    let add = Expression {
        text: "SET key_sha256 = :hash",
        values: vec![(":hash", s(hash)), (":legacy", s(legacy))],
        ..Default::default()
    };
    let condition =
        "key_hash = :legacy AND (attribute_not_exists(key_sha256) OR key_sha256 = :hash)";
    match db.update_if(pk, sk, &add, Some(condition)).await? {
        Ok(_) => Ok(()),
        Err(_) => Err(invalid()),
    }
}

/// Refuses a revoked or expired key.
fn usable(record: &ApiKeyRecord, now: OffsetDateTime) -> Result<(), ApiError> {
    if record.revoked_at.is_some() {
        return Err(ApiError::Unauthorized(
            "This API key has been revoked.".into(),
        ));
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::Unauthorized("This API key has expired.".into()));
    }
    Ok(())
}

/// The caller a verified and counted key names, unless it is revoked or expired.
fn principal(
    org: Uuid,
    key_id: Uuid,
    record: ApiKeyRecord,
    epoch: u64,
    now: OffsetDateTime,
) -> Result<Principal, ApiError> {
    usable(&record, now)?;
    Ok(Principal {
        org_id: org,
        key_id,
        scopes: record.scopes,
        rate: RateStatus::after(record.rl_count, record.rl_window, epoch),
        plan: record.plan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_to_their_ids() {
        let org = Uuid::now_v7();
        let key = generate_key(org);
        assert!(key.plaintext.starts_with(KEY_PREFIX));
        assert_eq!(parse_key(&key.plaintext), Some((org, key.id)));
        assert_eq!(key.hash, hash_key(&key.plaintext));
        assert!(key.hash.starts_with(HASH_PREFIX));
        assert_ne!(key.hash, legacy_hash_key(b"pepper", &key.plaintext));
        assert!(!key.hash.contains(&key.plaintext[8..]));
    }

    #[test]
    fn keys_carry_32_random_bytes() {
        let org = Uuid::now_v7();
        let a = generate_key(org);
        let b = generate_key(org);
        assert_ne!(a.plaintext[8 + 43..], b.plaintext[8 + 43..]);
        assert_eq!(a.plaintext.len(), 8 + 86);
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        assert_eq!(parse_key("lg_live_"), None);
        assert_eq!(parse_key("lg_live_abc"), None);
        assert_eq!(parse_key("sk_live_AAAA"), None);
        assert_eq!(parse_key(&format!("lg_live_{}", "A".repeat(300))), None);
    }

    #[test]
    fn bearer_header_rules() {
        assert!(matches!(bearer_token(None), Err(ApiError::Unauthorized(_))));
        assert!(bearer_token(Some("Basic abc")).is_err());
        assert!(bearer_token(Some("Bearer")).is_err());
        assert!(bearer_token(Some("Bearer sk_live_x")).is_err());
        assert_eq!(bearer_token(Some("bearer lg_live_x")).unwrap(), "lg_live_x");
    }

    #[test]
    fn scopes_round_trip_and_missing_ones_are_named() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        let p = Principal {
            org_id: Uuid::nil(),
            key_id: Uuid::nil(),
            scopes: vec![Scope::DossiersWrite],
            rate: RateStatus::after(1, 0, 0),
            plan: None,
        };
        assert!(p.require(&[Scope::DossiersWrite]).is_ok());
        let err = p
            .require(&[Scope::DossiersWrite, Scope::ContactsWrite])
            .unwrap_err();
        assert!(err.to_string().contains("contacts:write"));
    }
}
