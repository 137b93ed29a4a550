//! `Idempotency-Key` on writes: the first request with a key claims it with a conditional
//! put, runs, and stores its 2xx response for 24 hours; a repeat with the same method, path
//! and body gets that response back instead of running again.

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

/// Whether a method takes the header.
pub fn applies_to(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PATCH | Method::DELETE)
}

/// The header's value, if present: 1 to 255 printable ASCII characters.
pub fn key_from(headers: &HeaderMap) -> Option<Result<String, ApiError>> {
    let value = headers.get(HEADER)?;
    let valid = value
        .to_str()
        .ok()
        .filter(|v| (1..=255).contains(&v.len()) && v.bytes().all(|b| (0x20..0x7f).contains(&b)));
    Some(valid.map(str::to_string).ok_or_else(|| {
        ApiError::invalid("Header `Idempotency-Key` must be 1 to 255 printable ASCII characters.")
    }))
}

/// What makes two requests "the same": method, path with query, and body. A multipart
/// body's boundary is left out, since clients pick a new one for every attempt.
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
            // Two-Way search: linear in the body whatever the boundary, where comparing
            // the boundary at every offset would cost body × boundary on a crafted body.
            let mut from = 0;
            for at in memchr::memmem::find_iter(body, &boundary) {
                hash.update(&body[from..at]);
                from = at + boundary.len();
            }
            hash.update(&body[from..]);
        }
    }
    hex::encode(hash.finalize())
}

/// A stored response.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Vec<u8>,
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
    pub fn new(org: Uuid, api_key: Uuid, idempotency_key: &str) -> Self {
        let digest = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
        Self {
            pk: org_pk(org),
            sk: crate::table::keys::idempotency_sk(api_key, &digest),
        }
    }

    /// Claims the key, or reports what holds it: one conditional put. A repeat that found
    /// the key running calls it again to see how the first request ended.
    pub async fn claim(&self, db: &Db, fingerprint: &str) -> Result<Claim, ApiError> {
        let now = crate::clock::now().unix_timestamp();
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

    /// Stores the response of the request that holds `lock`.
    pub async fn complete(&self, db: &Db, lock: &str, response: &Stored) -> Result<(), ApiError> {
        let headers: std::collections::HashMap<String, AttributeValue> = response
            .headers
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), s(value.to_str().ok()?))))
            .collect();
        let store = Expression {
            text: "SET #state = :done, #status = :status, headers = :headers, body = :body REMOVE locked_until",
            names: &[("#state", "state"), ("#status", "status"), ("#lock", "lock")],
            values: vec![
                (":done", s("done")),
                (":status", n(response.status.as_u16())),
                (":headers", AttributeValue::M(headers)),
                (":body", AttributeValue::B(Blob::new(response.body.clone()))),
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
    match status.and_then(|s| StatusCode::from_u16(s).ok()) {
        Some(status) => Claim::Replay(Stored {
            status,
            headers,
            body,
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
    fn keys_are_printable_ascii_up_to_255() {
        let check = |v: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(HEADER, HeaderValue::from_str(v).unwrap());
            key_from(&headers).unwrap()
        };
        assert_eq!(check("order-42 retry").unwrap(), "order-42 retry");
        assert!(check(&"k".repeat(255)).is_ok());
        assert!(check(&"k".repeat(256)).is_err());
        assert!(check("").is_err());
        assert!(check("tab\there").is_err());
        assert!(key_from(&HeaderMap::new()).is_none());
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
