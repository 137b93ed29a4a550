//! A webhook endpoint as stored, what makes an event one it may be sent, and the delivery
//! health that attempts record on it (failing, slow, answered, disabled).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::signing::{SecretVersion, MAX_SIGNING_SECRETS};
use super::WebhookUrl;
use crate::domain::outbox::{Envelope, EventType};
use crate::table::keys::{endpoint_sk, org_pk, ENDPOINT_PREFIX};
use crate::table::store::{n, s, to_item, Db, Item};
use crate::ApiError;

/// What an endpoint subscribes to: one event type, or `*`, every type, today's and any
/// added later. An endpoint that listed types gets only those, new types included never.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscription {
    Every,
    Only(EventType),
}

impl Subscription {
    pub const EVERY: &'static str = "*";

    pub fn covers(self, kind: EventType) -> bool {
        match self {
            Subscription::Every => true,
            Subscription::Only(only) => only == kind,
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        if raw == Self::EVERY {
            return Some(Subscription::Every);
        }
        EventType::parse(raw).map(Subscription::Only)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Subscription::Every => Self::EVERY,
            Subscription::Only(kind) => kind.as_str(),
        }
    }

    /// Every value a subscription may take, for messages.
    pub fn spelled() -> String {
        std::iter::once(Self::EVERY)
            .chain(EventType::ALL.iter().map(|kind| kind.as_str()))
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Serialize for Subscription {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Subscription {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl serde::de::Visitor<'_> for Name {
            type Value = Subscription;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Subscription, E> {
                Subscription::parse(raw).ok_or_else(|| {
                    E::custom(format_args!(
                        "unknown variant `{raw}`, expected one of {}",
                        Subscription::spelled()
                    ))
                })
            }
        }
        deserializer.deserialize_str(Name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: WebhookUrl,
    pub events: Vec<Subscription>,
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
        self.disabled_at.is_none() && self.subscribes_to(kind)
    }

    pub fn subscribes_to(&self, kind: EventType) -> bool {
        self.events
            .iter()
            .any(|subscription| subscription.covers(kind))
    }

    /// Why `event` is not one this endpoint could have been sent, if it is not: a type it
    /// does not subscribe to, or made before the endpoint existed with its URL and types
    /// (envelopes keep whole seconds, so an event of that very second counts as after).
    pub fn ineligible(&self, event: &Envelope) -> Option<String> {
        if !self.subscribes_to(event.kind) {
            return Some(format!(
                "is a {}, a type webhook endpoint {} does not subscribe to",
                event.kind.as_str(),
                self.id
            ));
        }
        match crate::clock::parse(&event.created_at) {
            Some(made) if made >= self.eligible_from() => None,
            _ => Some(format!(
                "was made before webhook endpoint {} was created or last changed its URL or events",
                self.id
            )),
        }
    }

    /// Since when it has had its URL and types, to the second as events are stamped: events
    /// made from then on are ones it could have been sent.
    pub fn eligible_from(&self) -> OffsetDateTime {
        crate::clock::to_the_second(self.eligible_since.unwrap_or(self.created_at))
    }

    /// Whether `at` (a delivery's event was made, or a replay queued, to the second)
    /// predates the endpoint's last enabling: such a delivery was queued before the
    /// endpoint was disabled, and is not sent after it is enabled again.
    pub fn predates_enabling(&self, at: OffsetDateTime) -> bool {
        self.enabled_at
            .is_some_and(|enabled_at| at < crate::clock::to_the_second(enabled_at))
    }

    /// Another receiver at `url`: it has answered nothing yet, and is not known to be slow;
    /// only events made from now on may be replayed to it.
    pub fn point_to(&mut self, url: &WebhookUrl, now: OffsetDateTime) {
        self.url = url.clone();
        self.first_delivered_at = None;
        self.slow_until = None;
        self.eligible_since = Some(now);
    }

    /// Its owner stops every delivery to it, queued ones included.
    pub fn disable(&mut self, now: OffsetDateTime) {
        if self.disabled_at.is_none() {
            self.disabled_at = Some(now);
            self.disabled_reason = Some("Disabled through the API.".into());
        }
    }

    /// Its owner resumes delivery of the events made from now on, the failure streak
    /// forgotten.
    pub fn enable(&mut self, now: OffsetDateTime) {
        if self.disabled_at.is_some() {
            self.disabled_at = None;
            self.disabled_reason = None;
            self.failing_since = None;
            self.enabled_at = Some(now);
        }
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

pub async fn list(db: &Db, org: Uuid) -> Result<Vec<Endpoint>, ApiError> {
    db.query_prefix(&org_pk(org), ENDPOINT_PREFIX).await
}

pub async fn get(db: &Db, org: Uuid, id: Uuid) -> Result<Option<Endpoint>, ApiError> {
    db.get(&org_pk(org), &endpoint_sk(id)).await
}

/// An endpoint disabled after its deliveries failed for this long without one success.
pub const DISABLE_AFTER_FAILING: Duration = Duration::from_secs(5 * 24 * 3600);

/// What an attempt learned about its endpoint. Delivery writes these without a new version
/// (its owner's changes are versioned; these are observations), each as one update that
/// leaves a deleted endpoint deleted.
#[derive(Clone, Debug, PartialEq)]
pub enum Health {
    /// An attempt failed: failing since then, unless it already was.
    Failing(OffsetDateTime),
    /// An event was delivered: no longer failing, and its receiver has answered.
    Recovered(OffsetDateTime),
    /// A test was answered 2xx: its receiver answers, which lets the attempt log keep
    /// bodies. Nothing else changes.
    Answered(OffsetDateTime),
    /// Slower than the fast lane's budget: its deliveries go to the slow lane until then.
    SlowUntil(OffsetDateTime),
    /// Answered within the fast lane's budget from the slow lane: back to the fast lane.
    Fast,
    /// Its receiver answered 410 Gone, or failed for [`DISABLE_AFTER_FAILING`].
    Disabled { at: OffsetDateTime, reason: String },
}

impl Health {
    fn update(&self) -> crate::table::store::Expression<'static> {
        let at = |text: &'static str, when: &OffsetDateTime| crate::table::store::Expression {
            text,
            values: vec![(":now", s(crate::clock::format(*when)))],
            ..Default::default()
        };
        match self {
            Health::Failing(now) => at("SET failing_since = if_not_exists(failing_since, :now)", now),
            Health::Recovered(now) => at(
                "SET first_delivered_at = if_not_exists(first_delivered_at, :now) REMOVE failing_since",
                now,
            ),
            Health::Answered(now) => at("SET first_delivered_at = if_not_exists(first_delivered_at, :now)", now),
            Health::SlowUntil(until) => at("SET slow_until = :now", until),
            Health::Fast => crate::table::store::Expression {
                text: "REMOVE slow_until",
                ..Default::default()
            },
            Health::Disabled { at, reason } => crate::table::store::Expression {
                text: "SET disabled_at = :now, disabled_reason = :reason ADD version :one",
                values: vec![
                    (":now", s(crate::clock::format(*at))),
                    (":reason", s(reason)),
                    (":one", n(1)),
                ],
                ..Default::default()
            },
        }
    }

    /// Records this on the endpoint, unless it was deleted meanwhile, which leaves nothing
    /// to record.
    pub async fn record(&self, db: &Db, org: Uuid, id: Uuid) -> Result<(), ApiError> {
        db.update_if(
            &org_pk(org),
            &endpoint_sk(id),
            &self.update(),
            Some("attribute_exists(PK)"),
        )
        .await?
        .ok();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_enabled_again_skips_only_events_made_before() {
        let enabled_at = crate::clock::parse("2026-12-06T10:00:00Z").unwrap()
            + time::Duration::milliseconds(400);
        let endpoint = Endpoint {
            id: Uuid::now_v7(),
            url: "https://example.com".parse().unwrap(),
            events: vec![Subscription::Every],
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
        let predates = |endpoint: &Endpoint, made: &str| {
            crate::clock::parse(made).is_some_and(|made| endpoint.predates_enabling(made))
        };
        assert!(predates(&endpoint, "2026-12-06T09:59:59Z"));
        // Envelopes keep whole seconds: one made in the second of the enabling is sent.
        assert!(!predates(&endpoint, "2026-12-06T10:00:00Z"));
        assert!(!predates(&endpoint, "2026-12-06T10:00:01Z"));
        assert!(!predates(&endpoint, "not a time"));
        let never_disabled = Endpoint {
            enabled_at: None,
            ..endpoint
        };
        assert!(!predates(&never_disabled, "2020-01-01T00:00:00Z"));
    }

    #[test]
    fn rotated_out_secrets_sign_until_their_grace_ends() {
        let now = crate::clock::now();
        let mut old = SecretVersion::generate(now);
        old.expires_at = Some(now + time::Duration::hours(24));
        let endpoint = Endpoint {
            id: Uuid::now_v7(),
            url: "https://example.com".parse().unwrap(),
            events: vec![Subscription::Every],
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
}
