//! Webhook endpoints, their signing secrets, the queue message that carries one event to
//! one endpoint, the attempt log, the retry schedule and the outbound destination policy.
//!
//! A secret is never stored: each secret version keeps only a random salt, and the secret is
//! `whsec_` + base64url(HMAC-SHA256(webhook master key, salt)). The master key is derived
//! from the root key in Secrets Manager, so the table alone reveals no secret.

pub mod attempts;
#[cfg(feature = "delivery")]
mod copies;
#[cfg(feature = "delivery")]
pub mod delivery;
mod destinations;
pub mod endpoints;
#[cfg(feature = "sqs")]
pub mod fanout;
pub mod limits;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::outbox::{Envelope, EventType};
use crate::table::keys::org_pk;
use crate::table::store::{n, s, to_item, Db, Item};
use crate::ApiError;

use crate::table::keys::{endpoint_sk, ENDPOINT_PREFIX};

pub use attempts::{Attempt, Outcome};
pub use destinations::{Destinations, MAX_URL_CHARS};
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<EventType>,
    /// What the endpoint is for, in its owner's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Set when the endpoint was disabled (410 Gone, continuous failure, or its owner):
    /// nothing more is sent.
    #[serde(with = "crate::clock::rfc3339::option", default)]
    pub disabled_at: Option<OffsetDateTime>,
    /// Why it was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// The first failed attempt since the last delivered one: how long it has been failing.
    /// Absent, never NULL, so that `if_not_exists` and `attribute_not_exists` see it so.
    #[serde(
        with = "crate::clock::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub failing_since: Option<OffsetDateTime>,
    /// Newest first; the first is the current secret.
    pub secrets: Vec<SecretVersion>,
    /// Until when its deliveries go straight to the slow lane: an attempt found it slower
    /// than the fast lane's budget. Written by delivery without a new version.
    #[serde(
        with = "crate::clock::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub slow_until: Option<OffsetDateTime>,
    /// Since when its URL and subscribed types are what they are: set when either changes.
    /// Only events made since then may be replayed to it (`created_at` before any change).
    #[serde(
        with = "crate::clock::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub eligible_since: Option<OffsetDateTime>,
    /// When its receiver (at its current URL) first answered 2xx. Until then the attempt log keeps no response
    /// bodies, so that the API does not read back what a host that is no receiver answers.
    #[serde(
        with = "crate::clock::rfc3339::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub first_delivered_at: Option<OffsetDateTime>,
    /// When it was last enabled again: events older than this are not sent to it.
    #[serde(with = "crate::clock::rfc3339::option", default)]
    pub enabled_at: Option<OffsetDateTime>,
    /// Its ETag; changes with every write. Endpoints made before versions were kept are 0.
    #[serde(default)]
    pub version: u64,
}

impl Endpoint {
    pub fn item(&self, org: Uuid) -> Result<Item, ApiError> {
        to_item(
            self,
            &org_pk(org),
            &endpoint_sk(self.id),
            "webhook_endpoint",
        )
    }

    pub fn wants(&self, kind: EventType) -> bool {
        self.disabled_at.is_none() && self.events.contains(&kind)
    }

    /// Why `event` is not one this endpoint could have been sent, if it is not: a type it
    /// does not subscribe to, or made before the endpoint existed with its URL and types
    /// (envelopes keep whole seconds, so an event of that very second counts as after).
    pub fn ineligible(&self, event: &Envelope) -> Option<String> {
        if !self.events.contains(&event.kind) {
            return Some(format!(
                "is a {}, a type webhook endpoint {} does not subscribe to",
                event.kind.as_str(),
                self.id
            ));
        }
        let since = self.eligible_since.unwrap_or(self.created_at);
        let since = since.replace_nanosecond(0).unwrap_or(since);
        match crate::clock::parse(&event.created_at) {
            Some(made) if made >= since => None,
            _ => Some(format!(
                "was made before webhook endpoint {} was created or last changed its URL or events",
                self.id
            )),
        }
    }

    /// Whether an event made at `created_at` (the envelope's, to the second) predates the
    /// endpoint's last enabling: such an event was queued before the endpoint was disabled,
    /// and is not sent after it is enabled again.
    pub fn predates_enabling(&self, created_at: &str) -> bool {
        let (Some(enabled_at), Some(created_at)) =
            (self.enabled_at, crate::clock::parse(created_at))
        else {
            return false;
        };
        created_at < enabled_at.replace_nanosecond(0).unwrap_or(enabled_at)
    }

    /// The secrets to sign with at `now`: the current one first, then the one it replaced
    /// while its grace window lasts. Endpoints rotated before rotations kept one previous
    /// secret may hold more; only the newest of those still signs.
    pub fn signing_secrets(&self, master_key: &[u8], now: OffsetDateTime) -> Vec<String> {
        self.secrets
            .iter()
            .filter(|v| v.expires_at.is_none_or(|at| at > now))
            .take(MAX_SIGNING_SECRETS)
            .map(|v| v.secret(master_key))
            .collect()
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

pub async fn list(db: &Db, org: Uuid) -> Result<Vec<Endpoint>, ApiError> {
    db.query_prefix(&org_pk(org), ENDPOINT_PREFIX).await
}

pub async fn get(db: &Db, org: Uuid, id: Uuid) -> Result<Option<Endpoint>, ApiError> {
    db.get(&org_pk(org), &endpoint_sk(id)).await
}

/// An endpoint disabled after its deliveries failed for this long without one success.
pub const DISABLE_AFTER_FAILING: Duration = Duration::from_secs(5 * 24 * 3600);

/// Stops deliveries to an endpoint: its receiver answered 410 Gone, or failed for
/// [`DISABLE_AFTER_FAILING`].
pub async fn disable(
    db: &Db,
    org: Uuid,
    id: Uuid,
    now: OffsetDateTime,
    reason: &str,
) -> Result<(), ApiError> {
    let disabled = crate::table::store::Expression {
        text: "SET disabled_at = :now, disabled_reason = :reason ADD version :one",
        values: vec![
            (":now", s(crate::clock::format(now))),
            (":reason", s(reason)),
            (":one", n(1)),
        ],
        ..Default::default()
    };
    update_if_present(db, org, id, &disabled).await
}

/// Updates the endpoint unless it was deleted meanwhile, which leaves nothing to update.
async fn update_if_present(
    db: &Db,
    org: Uuid,
    id: Uuid,
    update: &crate::table::store::Expression<'_>,
) -> Result<(), ApiError> {
    db.update_if(
        &org_pk(org),
        &endpoint_sk(id),
        update,
        Some("attribute_exists(PK)"),
    )
    .await?
    .ok();
    Ok(())
}

/// Notes a failed attempt: the endpoint has been failing since `now`, unless it already was.
pub async fn note_failure(
    db: &Db,
    org: Uuid,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let failing = crate::table::store::Expression {
        text: "SET failing_since = if_not_exists(failing_since, :now)",
        values: vec![(":now", s(crate::clock::format(now)))],
        ..Default::default()
    };
    update_if_present(db, org, id, &failing).await
}

/// Notes a delivered attempt: the endpoint is no longer failing, and has answered 2xx.
pub async fn note_success(
    db: &Db,
    org: Uuid,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let recovered = crate::table::store::Expression {
        text:
            "SET first_delivered_at = if_not_exists(first_delivered_at, :now) REMOVE failing_since",
        values: vec![(":now", s(crate::clock::format(now)))],
        ..Default::default()
    };
    update_if_present(db, org, id, &recovered).await
}

/// Notes a test answered 2xx: its receiver answers, which lets the attempt log keep bodies.
/// Nothing else about the endpoint changes.
pub async fn note_answered(
    db: &Db,
    org: Uuid,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let answered = crate::table::store::Expression {
        text: "SET first_delivered_at = if_not_exists(first_delivered_at, :now)",
        values: vec![(":now", s(crate::clock::format(now)))],
        ..Default::default()
    };
    update_if_present(db, org, id, &answered).await
}

/// Sends the endpoint's deliveries to the slow lane until `until` (or, with `None`, back to
/// the fast lane).
pub async fn set_slow_until(
    db: &Db,
    org: Uuid,
    id: Uuid,
    until: Option<OffsetDateTime>,
) -> Result<(), ApiError> {
    let change = match until {
        Some(until) => crate::table::store::Expression {
            text: "SET slow_until = :until",
            values: vec![(":until", s(crate::clock::format(until)))],
            ..Default::default()
        },
        None => crate::table::store::Expression {
            text: "REMOVE slow_until",
            ..Default::default()
        },
    };
    update_if_present(db, org, id, &change).await
}

crate::wire_enum! {
    /// Events that are not domain events: sent to one endpoint when asked, never fanned
    /// out, and never among the types an endpoint subscribes to.
    pub enum TestEvent {
        Ping = "ping",
    }
}

/// What a webhook carries: a domain event, sent to the endpoints subscribed to its type, or
/// a test event, sent to the one endpoint it was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WebhookType {
    Domain(EventType),
    Test(TestEvent),
}

impl WebhookType {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookType::Domain(kind) => kind.as_str(),
            WebhookType::Test(kind) => kind.as_str(),
        }
    }
}

/// The queue message for one event to one endpoint. `payload` is the envelope as compact
/// JSON, serialized once, so every attempt sends the same bytes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    pub org: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: String,
    pub event_type: WebhookType,
    pub payload: String,
    /// Queued by a replay, after the endpoint was last enabled, however old the event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
    /// Attempts made before this message was queued (in the other lane, or before the
    /// host's budget made it wait): the schedule goes on from there.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts_before: u32,
    /// In the slow lane: the receiver took longer than the fast lane's budget.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub slow: bool,
    /// How often it waited for its host's budget; bounded, so that a backlog over the
    /// budget ends in the dead-letter queue rather than circling for ever.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferrals: u32,
    /// When the next attempt is due (Unix seconds), for a retry further off than SQS can
    /// delay a message: until then each receive only delays it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// This message's own id, given when it was queued again: unlike SQS's message id, it
    /// stays the same when the message is redriven from the dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_id: Option<String>,
    /// The message this one was queued again from (its `copy_id`, or SQS's id for a
    /// message never queued again): of two copies queued from one message, only the first
    /// received goes on (see `delivery`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeued_from: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Delivery {
    /// The envelope's `created_at`; empty if the payload is not a domain event's envelope.
    pub fn created_at(&self) -> String {
        serde_json::from_str::<Envelope>(&self.payload)
            .map(|envelope| envelope.created_at)
            .unwrap_or_default()
    }

    pub fn new(org: Uuid, endpoint_id: Uuid, envelope: &Envelope) -> Result<Self, ApiError> {
        Ok(Self {
            org,
            endpoint_id,
            event_id: envelope.id.clone(),
            event_type: WebhookType::Domain(envelope.kind),
            payload: serde_json::to_string(envelope).map_err(ApiError::internal)?,
            replay: false,
            attempts_before: 0,
            slow: false,
            deferrals: 0,
            not_before: None,
            copy_id: None,
            requeued_from: None,
        })
    }

    /// A `ping` for one endpoint: the envelope's shape, with the endpoint's id as `data`.
    pub fn ping(org: Uuid, endpoint_id: Uuid, now: OffsetDateTime) -> Result<Self, ApiError> {
        let event_id = crate::domain::outbox::new_event_id();
        let envelope = serde_json::json!({
            "id": event_id,
            "type": TestEvent::Ping.as_str(),
            "created_at": crate::clock::format(now),
            "data": { "endpoint_id": endpoint_id },
        });
        Ok(Self {
            org,
            endpoint_id,
            event_id,
            event_type: WebhookType::Test(TestEvent::Ping),
            payload: serde_json::to_string(&envelope).map_err(ApiError::internal)?,
            replay: false,
            attempts_before: 0,
            slow: false,
            deferrals: 0,
            not_before: None,
            copy_id: None,
            requeued_from: None,
        })
    }

    /// The message for the dead-letter queue: the delivery as it was first queued, so that
    /// a redrive starts the retry schedule again. (`raw` if it cannot be written.)
    pub fn redrivable(&self, raw: &str) -> String {
        let fresh = Delivery {
            attempts_before: 0,
            deferrals: 0,
            not_before: None,
            slow: false,
            copy_id: None,
            requeued_from: None,
            ..self.clone()
        };
        serde_json::to_string(&fresh).unwrap_or_else(|_| raw.to_string())
    }

    pub fn is_test(&self) -> bool {
        matches!(self.event_type, WebhookType::Test(_))
    }

    /// Whether this is a fanned-out event rather than one asked for (a replay or a test):
    /// only those are held to the endpoint's last enabling.
    pub fn fanned_out(&self) -> bool {
        !self.replay && !self.is_test()
    }
}

/// The delays before each attempt: the first is attempt 1's (normally 0), and the number of
/// entries is the number of attempts.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    pub fn production() -> Self {
        Self::seconds(&[0, 5, 300, 1800, 7200, 18000, 36000, 36000])
    }

    pub fn seconds(delays: &[u64]) -> Self {
        Self(delays.iter().map(|s| Duration::from_secs(*s)).collect())
    }

    /// `WEBHOOK_RETRY_SCHEDULE`: comma-separated seconds, at most 12 h each (a wait longer
    /// than SQS's 15-minute delay is delayed again on each receive, so each hour of it
    /// costs four receives).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let delays = raw
            .split(',')
            .map(|part| {
                part.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= 12 * 3600)
                    .ok_or_else(|| {
                        format!("WEBHOOK_RETRY_SCHEDULE: {part:?} is not 0..=43200 seconds")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("WEBHOOK_RETRY_SCHEDULE is empty".into());
        }
        Ok(Self::seconds(&delays))
    }

    pub fn attempts(&self) -> u32 {
        self.0.len() as u32
    }

    /// The wait before the attempt after attempt `made` (1-based), or `None` when it was
    /// the last. A `Retry-After` from the receiver is honoured between that step's delay and
    /// the schedule's longest. Jitter of up to a tenth avoids retrying in lockstep.
    pub fn next_delay(&self, made: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let base = *self.0.get(made as usize)?;
        let longest = self.0.iter().copied().max().unwrap_or(base);
        let wanted = retry_after.map_or(base, |r| r.clamp(base, longest.max(base)));
        let jitter_ms = (wanted.as_millis() as u64 / 10).max(1);
        let jitter = Duration::from_millis(rand::random::<u64>() % jitter_ms);
        Some(wanted + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events queue keeps a message through the whole schedule, and dead-letters it on
    /// its own only well after the schedule's last attempt.
    #[test]
    fn the_events_queue_outlasts_the_retry_schedule() {
        let template = include_str!("../../../template.yaml");
        let queue = template
            .split("\n  EventsQueue:\n")
            .nth(1)
            .and_then(|rest| rest.split("\n\n").next())
            .expect("template.yaml declares EventsQueue");
        let setting = |name: &str| -> u64 {
            queue
                .lines()
                .find_map(|line| line.trim().strip_prefix(&format!("{name}: ")))
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("EventsQueue has no numeric {name}"))
        };
        let schedule = RetrySchedule::production();
        assert!(setting("maxReceiveCount") >= 3 * u64::from(schedule.attempts()));
        let span: u64 = schedule.0.iter().map(Duration::as_secs).sum();
        assert!(setting("MessageRetentionPeriod") >= span + 24 * 3600);
    }

    #[test]
    fn deliveries_name_domain_and_test_types_alike_on_the_wire() {
        for (kind, wire) in [
            (
                WebhookType::Domain(EventType::NoteCreated),
                "\"note.created\"",
            ),
            (WebhookType::Test(TestEvent::Ping), "\"ping\""),
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), wire);
            assert_eq!(serde_json::from_str::<WebhookType>(wire).unwrap(), kind);
        }
        assert!(serde_json::from_str::<WebhookType>("\"pong\"").is_err());
        assert!(
            serde_json::from_str::<EventType>("\"ping\"").is_err(),
            "never subscribed to"
        );
        let org = Uuid::now_v7();
        let ping = Delivery::ping(org, Uuid::now_v7(), crate::clock::now()).unwrap();
        assert!(ping.is_test());
        assert!(endpoints::is_event_id(&ping.event_id));
        let body: serde_json::Value = serde_json::from_str(&ping.payload).unwrap();
        assert_eq!(body["type"], "ping");
        assert_eq!(body["id"], ping.event_id.as_str());
        assert_eq!(body["data"]["endpoint_id"], ping.endpoint_id.to_string());
    }

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

    #[test]
    fn an_endpoint_enabled_again_skips_only_events_made_before() {
        let enabled_at = crate::clock::parse("2026-12-06T10:00:00Z").unwrap()
            + time::Duration::milliseconds(400);
        let endpoint = Endpoint {
            id: Uuid::now_v7(),
            url: "https://example.com".into(),
            events: EventType::ALL.to_vec(),
            description: None,
            created_at: enabled_at,
            disabled_at: None,
            disabled_reason: None,
            failing_since: None,
            secrets: Vec::new(),
            enabled_at: Some(enabled_at),
            version: 3,
            slow_until: None,
            eligible_since: None,
            first_delivered_at: None,
        };
        assert!(endpoint.predates_enabling("2026-12-06T09:59:59Z"));
        // Envelopes keep whole seconds: one made in the second of the enabling is sent.
        assert!(!endpoint.predates_enabling("2026-12-06T10:00:00Z"));
        assert!(!endpoint.predates_enabling("2026-12-06T10:00:01Z"));
        assert!(!endpoint.predates_enabling("not a time"));
        let never_disabled = Endpoint {
            enabled_at: None,
            ..endpoint
        };
        assert!(!never_disabled.predates_enabling("2020-01-01T00:00:00Z"));
    }

    #[test]
    fn rotated_out_secrets_sign_until_their_grace_ends() {
        let now = crate::clock::now();
        let mut old = SecretVersion::generate(now);
        old.expires_at = Some(now + time::Duration::hours(24));
        let endpoint = Endpoint {
            id: Uuid::now_v7(),
            url: "https://example.com".into(),
            events: EventType::ALL.to_vec(),
            description: None,
            created_at: now,
            enabled_at: None,
            version: 1,
            disabled_at: None,
            disabled_reason: None,
            failing_since: None,
            secrets: vec![SecretVersion::generate(now), old.clone()],
            slow_until: None,
            eligible_since: None,
            first_delivered_at: None,
        };
        let during = endpoint.signing_secrets(b"m", now);
        assert_eq!(during.len(), 2);
        assert_eq!(during[1], old.secret(b"m"));
        assert_eq!(
            endpoint
                .signing_secrets(b"m", now + time::Duration::hours(25))
                .len(),
            1
        );
    }

    #[test]
    fn the_schedule_is_bounded_and_honours_retry_after_within_it() {
        let schedule = RetrySchedule::production();
        assert_eq!(schedule.attempts(), 8);
        let second = schedule.next_delay(1, None).unwrap();
        assert!(second >= Duration::from_secs(5) && second <= Duration::from_millis(5500));
        assert!(schedule.next_delay(8, None).is_none());
        let asked = schedule
            .next_delay(1, Some(Duration::from_secs(60)))
            .unwrap();
        assert!(asked >= Duration::from_secs(60) && asked <= Duration::from_secs(66));
        let capped = schedule
            .next_delay(1, Some(Duration::from_secs(99_999)))
            .unwrap();
        assert!(capped <= Duration::from_secs(39_600));
        let floor = schedule
            .next_delay(2, Some(Duration::from_secs(1)))
            .unwrap();
        assert!(floor >= Duration::from_secs(300));
        assert!(RetrySchedule::parse("0,1,2").is_ok());
        assert!(RetrySchedule::parse("0,x").is_err());
        assert!(RetrySchedule::parse("50000").is_err());
    }
}
