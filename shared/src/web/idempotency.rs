//! `Idempotency-Key` on writes: the first request with a key claims it with a conditional
//! put, runs, and stores its 2xx response for 24 hours; a repeat with the same method, path
//! and body gets that response back instead of running again.
//!
//! A response that shows a secret once (a webhook endpoint's, on create and rotation) is
//! stored without it: the table, its stream and its backups never hold a secret. A repeat
//! gets the secret derived again, and only while it is still the endpoint's current one.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::table::keys::org_pk;
use crate::table::store::{key, n, s, Db, Expression, Item};
use crate::ApiError;

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a stored response answers repeats.
pub const RETENTION_SECONDS: i64 = 24 * 60 * 60;
/// A claim older than this belongs to a request that died (API Gateway gives up after 30 s),
/// so another request may take it over.
pub const LOCK_SECONDS: i64 = 60;
/// The response headers worth replaying; rate-limit and request-id headers are per request.
const KEPT_HEADERS: [HeaderName; 3] = [
    axum::http::header::CONTENT_TYPE,
    axum::http::header::ETAG,
    axum::http::header::LOCATION,
];

/// An `Idempotency-Key`: 1 to 255 printable ASCII characters. (HTTP has already dropped
/// spaces around it, which the documented pattern says.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The key a request sent, if its method takes one (`POST`, `PATCH`, `DELETE`) and it
    /// sent the header.
    pub fn of(method: &Method, headers: &HeaderMap) -> Option<Result<Self, ApiError>> {
        if !matches!(*method, Method::POST | Method::PATCH | Method::DELETE) {
            return None;
        }
        let value = headers.get(HEADER)?;
        Some(value.to_str().map_err(|_| refused()).and_then(Self::parse))
    }

    pub fn parse(value: &str) -> Result<Self, ApiError> {
        if (1..=255).contains(&value.len()) && value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            Ok(Self(value.to_string()))
        } else {
            Err(refused())
        }
    }
}

fn refused() -> ApiError {
    ApiError::header(
        "Idempotency-Key",
        "must be 1 to 255 printable ASCII characters.",
    )
}

/// What makes two requests "the same": method, path with query, and body. A multipart
/// body's boundary is left out, since clients pick a new one for every attempt: the body is
/// hashed as the list of what lies between its delimiter lines (RFC 2046: CRLF, `--` and
/// the boundary; the first may open the body), each part framed by its length. Two forms
/// hash alike only if their parts are byte for byte the same; the boundary's text inside a
/// part is content, never a delimiter.
pub fn fingerprint(
    method: &Method,
    path_and_query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> String {
    let boundary = content_type
        .filter(|ct| ct.to_ascii_lowercase().starts_with("multipart/"))
        .and_then(|ct| {
            ct.split(';')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(name, _)| name.eq_ignore_ascii_case("boundary"))
                .map(|(_, value)| value.trim_matches('"').as_bytes().to_vec())
        })
        .filter(|b| !b.is_empty());
    let mut hash = Sha256::new();
    hash.update(method.as_str());
    hash.update(b"\n");
    hash.update(path_and_query);
    hash.update(b"\n");
    match boundary {
        None => hash.update(body),
        Some(boundary) => {
            hash.update(b"multipart\n");
            for part in multipart_parts(body, &boundary) {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part);
            }
        }
    }
    hex::encode(hash.finalize())
}

/// `body` split at its delimiter lines. Two-Way search: linear in the body whatever the
/// boundary, where comparing it at every offset would cost body × boundary on a crafted body.
fn multipart_parts<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let delimiter = [b"\r\n--".as_slice(), boundary].concat();
    let opening = &delimiter[2..];
    let mut parts = Vec::new();
    let start = if body.starts_with(opening) {
        parts.push(&body[..0]);
        opening.len()
    } else {
        0
    };
    let mut from = start;
    for at in memchr::memmem::find_iter(&body[start..], &delimiter) {
        let at = start + at;
        parts.push(&body[from..at]);
        from = at + delimiter.len();
    }
    parts.push(&body[from..]);
    parts
}

/// A stored response.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, without the secret `shown` names.
    pub body: Vec<u8>,
    pub shown: Option<ShownSecret>,
}

/// The secret a response shows once, as `data.secret`: which endpoint's, and which version
/// of it (a digest that reveals nothing). A handler attaches it to its response as an
/// extension, so that the response is stored without the secret.
#[derive(Clone, Debug, PartialEq)]
pub struct ShownSecret {
    pub endpoint_id: Uuid,
    pub version: String,
}

/// Derives a shown secret again for a repeat: `None` once that version is no longer the
/// endpoint's current secret, or the endpoint is gone. A function whose responses show
/// secrets adds one to its router as an `Extension`.
pub trait RestoreSecret: Send + Sync {
    fn restore<'a>(
        &'a self,
        org: Uuid,
        shown: &'a ShownSecret,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Option<String>, ApiError>> + Send + 'a>,
    >;
}

/// The body to store for a response that shows `shown`: `data.secret` becomes null.
pub fn without_secret(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(ApiError::internal)?;
    let secret = value
        .get_mut("data")
        .and_then(|data| data.get_mut("secret"))
        .ok_or_else(|| ApiError::internal("a response showing a secret has no data.secret"))?;
    *secret = serde_json::Value::Null;
    serde_json::to_vec(&value).map_err(ApiError::internal)
}

/// A stored body with its secret put back.
pub fn with_secret(body: &[u8], secret: String) -> Result<Vec<u8>, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(body).map_err(ApiError::internal)?;
    value["data"]["secret"] = serde_json::Value::String(secret);
    serde_json::to_vec(&value).map_err(ApiError::internal)
}

pub enum Claim {
    /// This request holds the key and runs; `lock` proves it when completing or releasing.
    Claimed {
        lock: String,
    },
    Replay(Stored),
    InProgress,
    Conflict,
}

/// One key of one API key.
pub struct Slot {
    pk: String,
    sk: String,
}

impl Slot {
    pub fn new(org: Uuid, api_key: Uuid, idempotency_key: &IdempotencyKey) -> Self {
        let digest = hex::encode(Sha256::digest(idempotency_key.0.as_bytes()));
        Self {
            pk: org_pk(org),
            sk: crate::table::keys::idempotency_sk(api_key, &digest),
        }
    }

    /// Claims the key, or reports what holds it: one conditional put. A repeat that found
    /// the key running calls it again to see how the first request ended.
    pub async fn claim(
        &self,
        db: &Db,
        fingerprint: &str,
        now: time::OffsetDateTime,
    ) -> Result<Claim, ApiError> {
        let now = now.unix_timestamp();
        let lock = Uuid::new_v4().to_string();
        let mut item: Item = key(&self.pk, &self.sk);
        item.insert("entity".into(), s("idempotency_key"));
        item.insert("state".into(), s("running"));
        item.insert("fingerprint".into(), s(fingerprint));
        item.insert("lock".into(), s(&lock));
        item.insert("locked_until".into(), n(now + LOCK_SECONDS));
        item.insert(
            crate::table::schema::TTL_ATTRIBUTE.into(),
            n(now + RETENTION_SECONDS),
        );
        let free = Expression {
            text: "attribute_not_exists(PK) OR expires_at_epoch < :now OR (#state = :running AND locked_until < :now)",
            names: &[("#state", "state")],
            values: vec![(":now", n(now)), (":running", s("running"))],
        };
        match db.put_if(item, &free).await? {
            Ok(()) => Ok(Claim::Claimed { lock }),
            Err(held) => Ok(judge(held.unwrap_or_default(), fingerprint)),
        }
    }

    /// How the key stands now, read consistently, for a repeat waiting on the request that
    /// holds it: `None` once the key is free again (released, expired or its lock run
    /// out), when the repeat may claim it.
    pub async fn current(
        &self,
        db: &Db,
        fingerprint: &str,
        now: time::OffsetDateTime,
    ) -> Result<Option<Claim>, ApiError> {
        let now = now.unix_timestamp();
        let Some(item) = db.get_item(&self.pk, &self.sk).await? else {
            return Ok(None);
        };
        let number = |name: &str| match item.get(name) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
            _ => None,
        };
        let running = matches!(item.get("state"), Some(AttributeValue::S(v)) if v == "running");
        let expired = number(crate::table::schema::TTL_ATTRIBUTE).is_some_and(|at| at < now);
        let abandoned = running && number("locked_until").is_some_and(|at| at < now);
        if expired || abandoned {
            return Ok(None);
        }
        Ok(Some(judge(item, fingerprint)))
    }

    /// Stores the response of the request that holds `lock`.
    pub async fn complete(&self, db: &Db, lock: &str, response: &Stored) -> Result<(), ApiError> {
        let headers: std::collections::HashMap<String, AttributeValue> = response
            .headers
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), s(value.to_str().ok()?))))
            .collect();
        let shown = match &response.shown {
            Some(shown) => AttributeValue::M(
                [
                    ("endpoint_id".to_string(), s(shown.endpoint_id.to_string())),
                    ("version".to_string(), s(&shown.version)),
                ]
                .into(),
            ),
            None => AttributeValue::Null(true),
        };
        let store = Expression {
            text: "SET #state = :done, #status = :status, headers = :headers, body = :body, shown_secret = :shown REMOVE locked_until",
            names: &[("#state", "state"), ("#status", "status"), ("#lock", "lock")],
            values: vec![
                (":done", s("done")),
                (":status", n(response.status.as_u16())),
                (":headers", AttributeValue::M(headers)),
                (":body", AttributeValue::B(Blob::new(response.body.clone()))),
                (":shown", shown),
                (":lock", s(lock)),
            ],
        };
        db.update_if(&self.pk, &self.sk, &store, Some("#lock = :lock"))
            .await?
            .map(|_| ())
            .map_err(|_| ApiError::internal("idempotency store: the key's lock was taken over"))
    }

    /// Frees the key after a request that changed nothing, so it can be retried as is.
    pub async fn release(&self, db: &Db, lock: &str) -> Result<(), ApiError> {
        let ours = Expression {
            text: "#lock = :lock",
            names: &[("#lock", "lock")],
            values: vec![(":lock", s(lock))],
        };
        // Taken over after the lock ran out: the key is no longer ours to free.
        db.delete_if(&self.pk, &self.sk, &ours).await?;
        Ok(())
    }
}

fn judge(item: Item, fingerprint: &str) -> Claim {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    if text("fingerprint") != Some(fingerprint) {
        return Claim::Conflict;
    }
    if text("state") != Some("done") {
        return Claim::InProgress;
    }
    let status = match item.get("status") {
        Some(AttributeValue::N(v)) => v.parse::<u16>().ok(),
        _ => None,
    };
    let body = match item.get("body") {
        Some(AttributeValue::B(b)) => b.clone().into_inner(),
        _ => Vec::new(),
    };
    let headers = match item.get("headers") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .filter_map(|(name, value)| {
                let AttributeValue::S(value) = value else {
                    return None;
                };
                Some((
                    HeaderName::from_bytes(name.as_bytes()).ok()?,
                    HeaderValue::from_str(value).ok()?,
                ))
            })
            .collect(),
        _ => Vec::new(),
    };
    let shown = match item.get("shown_secret") {
        Some(AttributeValue::M(map)) => {
            let field = |name: &str| match map.get(name) {
                Some(AttributeValue::S(v)) => Some(v.clone()),
                _ => None,
            };
            field("endpoint_id")
                .and_then(|id| id.parse().ok())
                .zip(field("version"))
                .map(|(endpoint_id, version)| ShownSecret {
                    endpoint_id,
                    version,
                })
        }
        _ => None,
    };
    match status.and_then(|s| StatusCode::from_u16(s).ok()) {
        Some(status) => Claim::Replay(Stored {
            status,
            headers,
            body,
            shown,
        }),
        None => Claim::InProgress,
    }
}

/// The headers of `headers` worth storing with a response.
pub fn kept_headers(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    KEPT_HEADERS
        .iter()
        .filter_map(|name| Some((name.clone(), headers.get(name)?.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_up_to_255_on_writes_only() {
        let check = |v: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(HEADER, HeaderValue::from_str(v).unwrap());
            IdempotencyKey::of(&Method::POST, &headers).unwrap()
        };
        assert_eq!(
            check("order-42 retry").unwrap(),
            IdempotencyKey("order-42 retry".into())
        );
        assert!(check(&"k".repeat(255)).is_ok());
        assert!(check(&"k".repeat(256)).is_err());
        assert!(check("").is_err());
        assert!(check("tab\there").is_err());
        assert!(IdempotencyKey::of(&Method::POST, &HeaderMap::new()).is_none());
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("k"));
        assert!(IdempotencyKey::of(&Method::GET, &headers).is_none());
        assert!(IdempotencyKey::of(&Method::DELETE, &headers).is_some());
    }

    #[test]
    fn boundaries_sharing_the_bodys_prefix_are_still_found_and_only_they() {
        // The body a quadratic search struggles with: long runs of the boundary's prefix.
        let fp = |b: &str, content: &str| {
            fingerprint(
                &Method::POST,
                "/api/v1/dossiers",
                Some(&format!("multipart/form-data; boundary={b}")),
                format!("--{b}\r\n{content}\r\n--{b}--\r\n").as_bytes(),
            )
        };
        let run = "a".repeat(2_000);
        let long = format!("{}b", "a".repeat(1_999));
        let other = format!("{}c", "x".repeat(1_999));
        assert_eq!(fp(&long, &run), fp(&other, &run));
        assert_ne!(fp(&long, &run), fp(&other, &format!("{run}a")));
    }

    #[test]
    fn a_form_splits_at_each_delimiter_line() {
        let body = b"--B\r\nfirst\r\n--B\r\nsecond\r\n--B\r\nthird\r\n--B--\r\n";
        let parts: Vec<&[u8]> = multipart_parts(body, b"B");
        assert_eq!(
            parts,
            [
                &b""[..],
                b"\r\nfirst",
                b"\r\nsecond",
                b"\r\nthird",
                b"--\r\n"
            ]
        );
        // Matches do not overlap: a boundary of repeated text splits once per delimiter.
        let body = b"\r\n--aa\r\n--aa--";
        assert_eq!(multipart_parts(body, b"aa").len(), 3);
        assert_eq!(
            multipart_parts(b"no delimiter", b"B"),
            [&b"no delimiter"[..]]
        );
    }

    #[test]
    fn the_boundary_inside_a_field_is_content_not_a_delimiter() {
        let form = |b: &str, name: &str| {
            fingerprint(
                &Method::POST,
                "/api/v1/dossiers",
                Some(&format!("multipart/form-data; boundary={b}")),
                format!(
                    "--{b}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n--{b}--\r\n"
                )
                .as_bytes(),
            )
        };
        // Removing every occurrence of the boundary made these two one request.
        assert_ne!(form("X", "Deal AXB"), form("Y", "Deal AB"));
        assert_eq!(form("X", "Deal AXB"), form("Y", "Deal AXB"));
        // A delimiter's text moved into a part is not a delimiter.
        assert_ne!(form("X", "a\r\n--Yb"), form("Y", "ab"));
    }

    #[test]
    fn fingerprints_ignore_the_multipart_boundary_only() {
        let body = |b: &str| {
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{{}}\r\n--{b}--\r\n"
            )
            .into_bytes()
        };
        let a = fingerprint(
            &Method::POST,
            "/api/v1/dossiers",
            Some("multipart/form-data; boundary=aaa111"),
            &body("aaa111"),
        );
        let b = fingerprint(
            &Method::POST,
            "/api/v1/dossiers",
            Some("multipart/form-data; boundary=\"bbb222\""),
            &body("bbb222"),
        );
        assert_eq!(a, b);
        let json = |path: &str, body: &str| {
            fingerprint(
                &Method::POST,
                path,
                Some("application/json"),
                body.as_bytes(),
            )
        };
        assert_ne!(
            json("/api/v1/dossiers", "{\"a\":1}"),
            json("/api/v1/dossiers", "{\"a\":2}")
        );
        assert_ne!(
            json("/api/v1/dossiers", "{}"),
            json("/api/v1/contacts", "{}")
        );
        assert_ne!(
            json("/api/v1/dossiers", "{}"),
            fingerprint(&Method::PATCH, "/api/v1/dossiers", None, b"{}")
        );
    }
}
