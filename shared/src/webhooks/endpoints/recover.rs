//! Recovery after an outage: every event since a moment that an endpoint was eligible for
//! and that never reached it, queued again once each. The attempt log says what was
//! delivered; a marker per event and endpoint, put on condition, says what a recovery
//! already queued, so that asking twice sends nothing twice.

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::get;
use crate::domain::events::{self, Selection};
use crate::domain::outbox::{Envelope, EventId, EventType};
use crate::table::keys::{org_pk, recovery_sk};
use crate::table::schema::TTL_ATTRIBUTE;
use crate::table::store::{key, n, s, Db, Expression};
use crate::webhooks::attempts::{self, History};
use crate::webhooks::limits::{self, Budget, RECOVERIES_PER_MINUTE};
use crate::webhooks::{Delivery, Endpoint};
use crate::ApiError;

/// The most events one recovery queues: [`RECOVERIES_PER_MINUTE`] recoveries queue at most
/// half of [`limits::HOST_REQUESTS_PER_MINUTE`].
pub const MAX_RECOVERED_PER_CALL: usize = 100;
const _: () = assert!(
    2 * MAX_RECOVERED_PER_CALL as u64 * RECOVERIES_PER_MINUTE <= limits::HOST_REQUESTS_PER_MINUTE
);
/// The most events one recovery examines, queued or not, so that a window of delivered
/// events costs a bounded amount per call.
pub const MAX_EXAMINED_PER_CALL: usize = 500;
/// Events whose attempt logs are read at once, and queued in one `SendMessageBatch` (its
/// most).
const QUEUE_BATCH: usize = 10;

/// What a recovery did.
#[derive(Debug, Serialize)]
pub struct Recovery {
    pub object: &'static str,
    pub endpoint_id: Uuid,
    /// Where it started: the `since` asked for, or the moment the endpoint became eligible
    /// for events when that is later.
    #[serde(with = "crate::clock::rfc3339")]
    pub since: OffsetDateTime,
    /// Events queued again by this call.
    pub queued: usize,
    /// Whether events after those examined remain.
    pub has_more: bool,
    /// The body that goes on where this call stopped, when `has_more`.
    pub next: Option<Resume>,
}

/// Where a recovery goes on: the same `since`, after the last event examined.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Resume {
    #[serde(with = "crate::clock::rfc3339")]
    pub since: OffsetDateTime,
    pub after: EventId,
}

/// Queues again to endpoint `id` the events made since `since` (and after the event
/// `after` names) that it was eligible for (a type it subscribes to, made while it had its
/// URL and types) and that it never got: no delivered attempt, none on its way, none queued
/// by an earlier recovery and not ended since. Oldest first, at most
/// [`MAX_RECOVERED_PER_CALL`] queued and [`MAX_EXAMINED_PER_CALL`] examined per call.
#[cfg(feature = "sqs")]
#[allow(clippy::too_many_arguments)]
pub async fn recover(
    db: &Db,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    org: Uuid,
    id: Uuid,
    since: OffsetDateTime,
    after: Option<&EventId>,
    now: OffsetDateTime,
) -> Result<Recovery, ApiError> {
    // Going on from a previous answer's `next`, the window may have moved past `since`.
    let since = match after {
        Some(_) => since.max(now - crate::domain::outbox::retention()),
        None => since,
    };
    check_since(since, now)?;
    let endpoint = get(db, org, id).await?;
    if endpoint.disabled_at.is_some() {
        return Err(ApiError::EndpointDisabled(format!(
            "Webhook endpoint {id} is disabled, so recovered events would not be sent; enable it first with PATCH {{\"disabled\": false}}."
        )));
    }
    if let Some(retry_after) =
        limits::take(db, org, Budget::Recoveries, RECOVERIES_PER_MINUTE, now).await?
    {
        return Err(ApiError::RequestLimited {
            message: format!(
                "At most {RECOVERIES_PER_MINUTE} recoveries a minute per organization."
            ),
            retry_after,
        });
    }
    let since = since.max(endpoint.eligible_from());
    let selection = Selection {
        types: subscribed_types(&endpoint),
        since: Some(since),
        until: Some(live_from(&endpoint, now)),
        after: after.map(EventId::uuid),
        newest_first: false,
    };
    let mut found = events::read(db, org, &selection, MAX_EXAMINED_PER_CALL + 1).await?;
    let mut more = found.len() > MAX_EXAMINED_PER_CALL;
    found.truncate(MAX_EXAMINED_PER_CALL);
    let last_found = found.last().map(|envelope| envelope.id.clone());
    let eligible: Vec<Envelope> = found
        .into_iter()
        .filter(|envelope| endpoint.ineligible(envelope).is_none())
        .collect();
    // Oldest first, a batch at a time, reading the attempt log only as far as it queues.
    let (mut queued, mut done, mut stopped_after) = (0, None, None);
    for batch in eligible.chunks(QUEUE_BATCH) {
        if queued == MAX_RECOVERED_PER_CALL {
            (more, stopped_after) = (true, done);
            break;
        }
        let missed = missed(db, org, &endpoint, batch, now).await?;
        let room = MAX_RECOVERED_PER_CALL - queued;
        if missed.len() > room {
            queued += queue_batch(db, sqs, queue_url, org, id, &missed[..room], now).await?;
            (more, stopped_after) = (true, Some(missed[room - 1].0.id.clone()));
            break;
        }
        queued += queue_batch(db, sqs, queue_url, org, id, &missed, now).await?;
        done = batch.last().map(|envelope| envelope.id.clone());
    }
    let next = more
        .then(|| stopped_after.or(last_found))
        .flatten()
        .and_then(|id| EventId::parse(&id).ok())
        .map(|after| Resume { since, after });
    Ok(Recovery {
        object: "webhook_recovery",
        endpoint_id: id,
        since,
        queued,
        has_more: next.is_some(),
        next,
    })
}

fn check_since(since: OffsetDateTime, now: OffsetDateTime) -> Result<(), ApiError> {
    let retention = crate::domain::outbox::retention();
    if since < now - retention {
        return Err(ApiError::field(
            "since",
            format_args!(
                "must be within the last {} days: events are not kept longer.",
                retention.whole_days()
            ),
        ));
    }
    if since > now {
        return Err(ApiError::field("since", "must not be in the future."));
    }
    Ok(())
}

/// Marks the events and queues those marked, in one batch; answers how many.
#[cfg(feature = "sqs")]
async fn queue_batch(
    db: &Db,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    org: Uuid,
    id: Uuid,
    missed: &[(&Envelope, History)],
    now: OffsetDateTime,
) -> Result<usize, ApiError> {
    let marks = missed
        .iter()
        .map(|(envelope, history)| mark(db, org, id, envelope, *history));
    let marks = futures_util::future::join_all(marks).await;
    let marked: Vec<(&Envelope, i128)> = marks
        .iter()
        .zip(missed)
        .filter_map(|(mark, (envelope, _))| match mark {
            Ok(Some(queued_at)) => Some((*envelope, *queued_at)),
            _ => None,
        })
        .collect();
    // Nothing is queued unless every mark was decided; what was marked is taken back.
    if let Some(Err(err)) = marks.into_iter().find(Result::is_err) {
        unmark_all(db, org, id, &marked).await;
        return Err(err);
    }
    if marked.is_empty() {
        return Ok(0);
    }
    let deliveries = marked
        .iter()
        .map(|(envelope, _)| Delivery::replay(org, id, envelope, now))
        .collect::<Result<Vec<_>, ApiError>>()?;
    // Only what SQS did not take is taken back: a retry must not queue the rest twice.
    let not_queued: Vec<(&Envelope, i128)> =
        match super::deliveries::enqueue_all(sqs, queue_url, &deliveries).await {
            Ok(failed) => failed
                .iter()
                .filter_map(|i| marked.get(*i).copied())
                .collect(),
            Err(err) => {
                unmark_all(db, org, id, &marked).await;
                return Err(err);
            }
        };
    if !not_queued.is_empty() {
        unmark_all(db, org, id, &not_queued).await;
        return Err(ApiError::internal(format!(
            "queueing {} of {} recovered events failed",
            not_queued.len(),
            marked.len()
        )));
    }
    Ok(marked.len())
}

async fn unmark_all(db: &Db, org: Uuid, endpoint: Uuid, marked: &[(&Envelope, i128)]) {
    for (envelope, queued_at) in marked {
        unmark(db, org, endpoint, envelope, *queued_at).await;
    }
}

/// How long live delivery has to carry an event before a recovery takes it for missed:
/// the stream's and the queue's latency, with room to spare.
pub const LIVE_DELIVERY: time::Duration = time::Duration::minutes(1);

/// Where a recovery stops: events made since are the live deliveries' (the last minute's,
/// or those after the endpoint was enabled again, when that is later: before it, nothing
/// was fanned out to it). Events are stamped to the second, so those of the second it was
/// enabled in count as made before it.
fn live_from(endpoint: &Endpoint, now: OffsetDateTime) -> OffsetDateTime {
    let recent = now - LIVE_DELIVERY;
    let enabled = endpoint
        .enabled_at
        .map(|enabled| crate::clock::to_the_second(enabled) + time::Duration::SECOND);
    enabled.map_or(recent, |enabled| enabled.max(recent))
}

fn subscribed_types(endpoint: &Endpoint) -> Vec<EventType> {
    EventType::ALL
        .into_iter()
        .filter(|kind| endpoint.subscribes_to(*kind))
        .collect()
}

/// The events of `batch` that never reached the endpoint, with what the attempt log says
/// of each, oldest first.
async fn missed<'a>(
    db: &Db,
    org: Uuid,
    endpoint: &Endpoint,
    batch: &'a [Envelope],
    now: OffsetDateTime,
) -> Result<Vec<(&'a Envelope, History)>, ApiError> {
    let reads = batch
        .iter()
        .map(|envelope| attempts::history(db, org, endpoint.id, &envelope.id));
    let histories = futures_util::future::try_join_all(reads).await?;
    Ok(batch
        .iter()
        .zip(histories)
        .filter(|(_, history)| !history.delivered && !history.on_its_way(endpoint.enabled_at, now))
        .collect())
}

/// Marks `envelope` as queued by a recovery, answering the marker's time; `None` when an
/// earlier recovery queued it and its delivery may still come, or a concurrent one just did.
async fn mark(
    db: &Db,
    org: Uuid,
    endpoint: Uuid,
    envelope: &Envelope,
    history: History,
) -> Result<Option<i128>, ApiError> {
    let queued_at = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let mut item = key(&org_pk(org), &recovery_sk(endpoint, &envelope.id));
    item.insert("entity".into(), s("recovery_marker"));
    item.insert("queued_at".into(), n(queued_at));
    let made = crate::clock::parse(&envelope.created_at).unwrap_or_else(OffsetDateTime::now_utc);
    let expires = made + crate::domain::outbox::retention();
    item.insert(TTL_ATTRIBUTE.into(), n(expires.unix_timestamp()));
    // A marker stands while its delivery may still come: until an attempt ends it, or, if
    // none was ever logged (the message was lost), for as long as a retry may be overdue.
    let stale = queued_at - attempts::OVERDUE_RETRY.whole_nanoseconds();
    let condition = Expression {
        text: "attribute_not_exists(PK) OR queued_at < :ended OR queued_at < :stale",
        names: &[],
        values: vec![
            (":ended", n(history.last_ended_at.unwrap_or(0))),
            (":stale", n(stale)),
        ],
    };
    Ok(db.put_if(item, &condition).await?.ok().map(|()| queued_at))
}

/// Takes a marker back after its event could not be queued, so that the next recovery
/// tries it again. Failing that, the marker stands until an attempt ends or it expires.
async fn unmark(db: &Db, org: Uuid, endpoint: Uuid, envelope: &Envelope, queued_at: i128) {
    let sk = recovery_sk(endpoint, &envelope.id);
    let mine = Expression {
        text: "queued_at = :mine",
        names: &[],
        values: vec![(":mine", n(queued_at))],
    };
    if let Err(err) = db.delete_if(&org_pk(org), &sk, &mine).await {
        tracing::warn!(event = %envelope.id, error = %err, "a recovery marker stayed after queueing failed");
    }
}
