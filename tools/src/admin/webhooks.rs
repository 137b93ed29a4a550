//! Operator commands for webhook endpoints: create, list, delete, rotate a secret, read the
//! attempt log, replay a past event and send a test, through `shared::webhooks::endpoints`.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{fail, Admin, AdminError, AdminResult};
use shared::domain::fields::{Patch, Text};
use shared::domain::outbox::EventId;
use shared::table::txn::Precondition;
use shared::webhooks::endpoints::{
    self, CreatedEndpoint, EndpointChanges, EndpointView, NewEndpoint, Queued, RotatedSecret,
};
use shared::webhooks::{Attempt, Destinations, Subscription};
use shared::{clock, ApiError};

/// `T1,T2` (or `*`) into what an endpoint subscribes to; absent means `*`, every type.
pub fn parse_event_types(raw: Option<&str>) -> AdminResult<Vec<Subscription>> {
    let Some(raw) = raw else {
        return Ok(vec![Subscription::Every]);
    };
    let mut types = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let kind = Subscription::parse(part).ok_or_else(|| {
            AdminError(format!(
                "unknown event type {part:?}; use {}",
                Subscription::spelled()
            ))
        })?;
        if !types.contains(&kind) {
            types.push(kind);
        }
    }
    if types.is_empty() {
        return fail("--events needs at least one event type, or *");
    }
    Ok(types)
}

impl Admin {
    pub async fn create_webhook(
        &self,
        org: Uuid,
        url: &str,
        events: Vec<Subscription>,
        destinations: Destinations,
    ) -> AdminResult<CreatedEndpoint> {
        let master = self.webhook_master_key.get().await?;
        let input = NewEndpoint {
            url: url.into(),
            events: Some(events),
            description: None,
        };
        endpoints::create(
            &self.db,
            org,
            input,
            &destinations,
            master.bytes(),
            clock::now(),
        )
        .await
        .map_err(|err| match err {
            // Operators name the field by its flag.
            ApiError::InvalidBody { message, .. } => {
                AdminError(message.replace("Field `url`", "--url"))
            }
            other => other.into(),
        })
    }

    /// The API's PATCH, for operators: the same checks (the destination policy for a new
    /// URL), without a version precondition.
    pub async fn update_webhook(
        &self,
        org: Uuid,
        id: Uuid,
        changes: EndpointChanges,
    ) -> AdminResult<EndpointView> {
        let destinations = Destinations::from_env().map_err(AdminError)?;
        let now = clock::now();
        let endpoint = endpoints::update(
            &self.db,
            org,
            id,
            changes,
            &destinations,
            &Precondition::default(),
            now,
        )
        .await
        .map_err(|err| match err {
            ApiError::InvalidBody { message, .. } => AdminError(
                message
                    .replace("Field `url`", "--url")
                    .replace("Field `events`", "--events")
                    .replace("Field `description`", "--description"),
            ),
            ApiError::NotFound(_) => AdminError(format!(
                "webhook endpoint {id} does not exist in organization {org}"
            )),
            other => other.into(),
        })?;
        Ok(EndpointView::of(endpoint, now))
    }

    pub async fn list_webhooks(&self, org: Uuid) -> AdminResult<Vec<EndpointView>> {
        self.get_org(org).await?;
        Ok(endpoints::list(&self.db, org, clock::now()).await?)
    }

    pub async fn delete_webhook(&self, org: Uuid, id: Uuid) -> AdminResult<()> {
        Ok(endpoints::delete(&self.db, org, id, &Precondition::default()).await?)
    }

    pub async fn rotate_webhook_secret(
        &self,
        org: Uuid,
        id: Uuid,
        grace_hours: u32,
    ) -> AdminResult<RotatedSecret> {
        let master = self.webhook_master_key.get().await?;
        endpoints::rotate_secret(&self.db, org, id, grace_hours, master.bytes(), clock::now())
            .await
            .map_err(|err| match err {
                ApiError::InvalidBody { message, .. } => {
                    AdminError(message.replace("Field `grace_hours`", "--grace-hours"))
                }
                other => other.into(),
            })
    }

    /// A page of the attempt log, newest first, and the attempt id older ones follow.
    pub async fn webhook_attempts(
        &self,
        org: Uuid,
        id: Uuid,
        event: Option<&str>,
        before: Option<Uuid>,
        limit: usize,
    ) -> AdminResult<(Vec<Attempt>, Option<Uuid>)> {
        let event = event.map(cli_event_id).transpose()?;
        Ok(endpoints::attempts(&self.db, org, id, event.as_ref(), before, limit).await?)
    }

    /// Queues a signed `ping` to one endpoint.
    pub async fn test_webhook(
        &self,
        org: Uuid,
        id: Uuid,
        sqs: &aws_sdk_sqs::Client,
        queue_url: &str,
    ) -> AdminResult<Queued> {
        Ok(endpoints::send_test(&self.db, sqs, queue_url, org, id, clock::now()).await?)
    }

    /// Queues a fresh delivery of a past event to one endpoint.
    pub async fn replay_webhook(
        &self,
        org: Uuid,
        id: Uuid,
        event_id: &str,
        sqs: &aws_sdk_sqs::Client,
        queue_url: &str,
    ) -> AdminResult<Queued> {
        let event_id = cli_event_id(event_id)?;
        let replay = endpoints::replay(&self.db, sqs, queue_url, org, id, &event_id, clock::now());
        Ok(replay.await?)
    }
}

/// `webhook recover`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    #[arg(long, env = "LEADGRID_ORG", value_parser = uuid_arg)]
    pub org: Uuid,
    #[arg(long, value_parser = uuid_arg)]
    pub id: Uuid,
    #[arg(long, value_parser = instant_arg)]
    pub since: OffsetDateTime,
    #[arg(long)]
    pub after: Option<String>,
}

fn uuid_arg(raw: &str) -> Result<Uuid, String> {
    Uuid::parse_str(raw).map_err(|_| "must be a UUID".to_string())
}

fn instant_arg(raw: &str) -> Result<OffsetDateTime, String> {
    clock::parse(raw).ok_or_else(|| "must be an RFC 3339 timestamp".to_string())
}

impl Admin {
    /// Queues again the events since `--since` that one endpoint missed.
    pub async fn recover_webhook(
        &self,
        asked: RecoverArgs,
        sqs: &aws_sdk_sqs::Client,
        queue_url: &str,
    ) -> AdminResult<endpoints::Recovery> {
        let after = asked
            .after
            .map(|raw| EventId::parse(&raw).map_err(|rule| AdminError(format!("--after {rule}"))))
            .transpose()?;
        let (org, id, since) = (asked.org, asked.id, asked.since);
        let recovery = endpoints::recover(
            &self.db,
            sqs,
            queue_url,
            org,
            id,
            since,
            after.as_ref(),
            clock::now(),
        );
        Ok(recovery.await?)
    }
}

/// An event id given on the command line, held to the API's rule.
fn cli_event_id(raw: &str) -> AdminResult<EventId> {
    EventId::parse(raw).map_err(|rule| AdminError(format!("--event {rule}")))
}

/// The changes `webhook update` asks for, held to the API's rules: an empty description
/// removes it.
pub fn endpoint_changes(
    url: Option<String>,
    events: Option<String>,
    description: Option<String>,
) -> AdminResult<EndpointChanges> {
    Ok(EndpointChanges {
        url,
        events: events
            .as_deref()
            .map(|events| parse_event_types(Some(events)))
            .transpose()?,
        description: match description {
            None => Patch::Absent,
            Some(text) => Patch::Set(
                Text::parse(&text)
                    .map_err(|problem| AdminError(format!("--description {problem}")))?,
            ),
        },
        disabled: None,
    })
}
