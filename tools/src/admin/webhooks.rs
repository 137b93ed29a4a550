//! Operator commands for webhook endpoints: create, list, delete, rotate a secret, read the
//! attempt log, and replay a past event.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{fail, org_exists, Admin, AdminError, AdminResult};
use shared::domain::outbox::{EventType, OutboxItem};
use shared::ids::new_id;
use shared::table::keys::{endpoint_sk, org_pk};
use shared::table::store::{s, Expression};
use shared::webhooks::{self, Attempt, Delivery, Destinations, Endpoint, SecretVersion};
use shared::{clock, ApiError};

/// What `webhook create` prints: the secret is shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedEndpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<EventType>,
    pub secret: String,
}

/// An endpoint as `webhook list` shows it: no secrets.
#[derive(Debug, Serialize)]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<EventType>,
    #[serde(with = "shared::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "shared::clock::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    /// When the previous secret stops being used, during a rotation's grace window.
    #[serde(with = "shared::clock::rfc3339::option")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize)]
pub struct RotatedSecret {
    pub id: Uuid,
    pub secret: String,
}

/// `T1,T2` into event types; empty means all five.
pub fn parse_event_types(raw: Option<&str>) -> AdminResult<Vec<EventType>> {
    let Some(raw) = raw else {
        return Ok(EventType::ALL.to_vec());
    };
    let mut types = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let kind = EventType::parse(part).ok_or_else(|| {
            AdminError(format!(
                "unknown event type {part:?}; use {}",
                EventType::ALL.map(EventType::as_str).join(", ")
            ))
        })?;
        if !types.contains(&kind) {
            types.push(kind);
        }
    }
    if types.is_empty() {
        return fail("--events needs at least one event type");
    }
    Ok(types)
}

impl Admin {
    pub async fn create_webhook(
        &self,
        org: Uuid,
        url: &str,
        events: Vec<EventType>,
        destinations: Destinations,
    ) -> AdminResult<CreatedEndpoint> {
        let url = destinations
            .check_url(url)
            .map_err(|why| AdminError(format!("--url refused: {why}")))?;
        let now = clock::now();
        let endpoint = Endpoint {
            id: new_id(),
            url: url.into(),
            events,
            created_at: now,
            disabled_at: None,
            secrets: vec![SecretVersion::generate(now)],
        };
        self.transact(
            vec![
                org_exists(&self.db, org),
                shared::table::txn::put(&self.db, endpoint.item(org)?, None),
            ],
            "webhook create",
        )
        .await?;
        let master = self.webhook_master_key.get().await?;
        Ok(CreatedEndpoint {
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint.events,
            secret: endpoint.secrets[0].secret(master.bytes()),
        })
    }

    pub async fn list_webhooks(&self, org: Uuid) -> AdminResult<Vec<EndpointView>> {
        self.get_org(org).await?;
        let now = clock::now();
        Ok(webhooks::list(&self.db, org)
            .await?
            .into_iter()
            .map(|e| EndpointView {
                previous_secret_expires_at: e
                    .secrets
                    .iter()
                    .skip(1)
                    .filter_map(|v| v.expires_at)
                    .filter(|at| *at > now)
                    .max(),
                id: e.id,
                url: e.url,
                events: e.events,
                created_at: e.created_at,
                disabled_at: e.disabled_at,
            })
            .collect())
    }

    async fn endpoint(&self, org: Uuid, id: Uuid) -> AdminResult<Endpoint> {
        webhooks::get(&self.db, org, id)
            .await?
            .ok_or_else(|| AdminError(format!("webhook {id} does not exist in organization {org}")))
    }

    pub async fn delete_webhook(&self, org: Uuid, id: Uuid) -> AdminResult<()> {
        let exists = Expression {
            text: "attribute_exists(PK)",
            ..Default::default()
        };
        if !self
            .db
            .delete_if(&org_pk(org), &endpoint_sk(id), &exists)
            .await?
        {
            return fail(format!("webhook {id} does not exist in organization {org}"));
        }
        Ok(())
    }

    /// A new current secret. The previous one keeps signing for `grace_hours` (0: stops
    /// now); older ones whose grace has ended are dropped.
    pub async fn rotate_webhook_secret(
        &self,
        org: Uuid,
        id: Uuid,
        grace_hours: u32,
    ) -> AdminResult<RotatedSecret> {
        let mut endpoint = self.endpoint(org, id).await?;
        let now = clock::now();
        let current_salt = endpoint
            .secrets
            .first()
            .map(|v| v.salt.clone())
            .unwrap_or_default();
        let grace_end = now + time::Duration::hours(grace_hours.into());
        for version in &mut endpoint.secrets {
            let ends = version.expires_at.map_or(grace_end, |at| at.min(grace_end));
            version.expires_at = Some(ends);
        }
        endpoint
            .secrets
            .retain(|v| v.expires_at.is_some_and(|at| at > now));
        endpoint.secrets.insert(0, SecretVersion::generate(now));
        // Two rotations at once: only the one that read the current secret wins.
        let same_secret = Expression {
            text: "secrets[0].salt = :salt",
            values: vec![(":salt", s(current_salt))],
            ..Default::default()
        };
        if self
            .db
            .put_if(endpoint.item(org)?, &same_secret)
            .await?
            .is_err()
        {
            return fail("the webhook changed meanwhile (deleted or rotated); try again");
        }
        let master = self.webhook_master_key.get().await?;
        Ok(RotatedSecret {
            id,
            secret: endpoint.secrets[0].secret(master.bytes()),
        })
    }

    pub async fn webhook_attempts(
        &self,
        org: Uuid,
        id: Uuid,
        event: Option<&str>,
    ) -> AdminResult<Vec<Attempt>> {
        self.endpoint(org, id).await?;
        Ok(webhooks::attempts(&self.db, org, id, event).await?)
    }

    /// Queues a fresh delivery of a past event to one endpoint: same id and body, signed
    /// with the endpoint's current secrets when it is sent. Events are kept for 7 days.
    pub async fn replay_webhook(
        &self,
        org: Uuid,
        id: Uuid,
        event_id: &str,
        sqs: &aws_sdk_sqs::Client,
        queue_url: &str,
    ) -> AdminResult<Delivery> {
        self.endpoint(org, id).await?;
        let item: Option<OutboxItem> = self
            .db
            .get(&org_pk(org), &shared::table::keys::event_sk(event_id))
            .await?;
        let envelope = item
            .ok_or_else(|| {
                AdminError(format!(
                    "event {event_id} is not in organization {org} (events are kept 7 days)"
                ))
            })
            .and_then(|item| item.envelope().map_err(AdminError))?;
        let delivery = Delivery::new(org, id, &envelope)?;
        let body = serde_json::to_string(&delivery).map_err(ApiError::internal)?;
        sqs.send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| AdminError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(delivery)
    }
}
