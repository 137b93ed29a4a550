//! The queue message that carries one event (or a test) to one endpoint.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::outbox::{Envelope, EventType};
use crate::ApiError;

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
    /// Queued by a replay or a recovery, after the endpoint was last enabled, however old
    /// the event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
    /// When a replay or recovery queued it (Unix seconds): one queued before the endpoint
    /// was last enabled is dropped, as live deliveries queued before are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<i64>,
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
            queued_at: None,
            attempts_before: 0,
            slow: false,
            deferrals: 0,
            not_before: None,
            copy_id: None,
            requeued_from: None,
        })
    }

    /// `envelope` queued again for one endpoint, at `now`, by a replay or a recovery.
    pub fn replay(
        org: Uuid,
        endpoint_id: Uuid,
        envelope: &Envelope,
        now: OffsetDateTime,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            replay: true,
            queued_at: Some(now.unix_timestamp()),
            ..Self::new(org, endpoint_id, envelope)?
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
            queued_at: None,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(crate::domain::outbox::EventId::parse(&ping.event_id).is_ok());
        let body: serde_json::Value = serde_json::from_str(&ping.payload).unwrap();
        assert_eq!(body["type"], "ping");
        assert_eq!(body["id"], ping.event_id.as_str());
        assert_eq!(body["data"]["endpoint_id"], ping.endpoint_id.to_string());
    }
}
