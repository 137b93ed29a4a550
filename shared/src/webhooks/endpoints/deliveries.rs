//! What an endpoint's owner asks of its deliveries: a past event sent again, a test ping,
//! and the attempt log.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{get, Queued};
use crate::domain::outbox::EventId;
use crate::table::store::Db;
use crate::ApiError;

/// Queues a fresh delivery of a past event to one endpoint: the same id and body, signed
/// with the endpoint's secrets when it is sent, on a retry schedule of its own. Events are
/// kept for the deployment's retention. Only an event the endpoint was eligible for goes out: of a type it
/// subscribes to, made while it existed; a key that manages endpoints can thus never route
/// an event to a receiver that would not have had it.
#[cfg(feature = "sqs")]
pub async fn replay(
    db: &Db,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    org: Uuid,
    id: Uuid,
    event_id: &EventId,
    now: OffsetDateTime,
) -> Result<Queued, ApiError> {
    // Both reads at once; the endpoint's answer is judged first either way.
    let (endpoint, event) = tokio::join!(
        get(db, org, id),
        crate::domain::events::get(db, org, event_id)
    );
    let endpoint = endpoint?;
    if endpoint.disabled_at.is_some() {
        return Err(ApiError::EndpointDisabled(format!(
            "Webhook endpoint {id} is disabled, so a replay would not be sent; enable it first with PATCH {{\"disabled\": false}}."
        )));
    }
    let envelope = event?.ok_or_else(|| {
        ApiError::not_found(format!(
            "Event {event_id} does not exist in this organization (events are kept {} days).",
            crate::domain::outbox::retention().whole_days()
        ))
    })?;
    if let Some(why) = endpoint.ineligible(&envelope) {
        return Err(ApiError::field(
            "event_id",
            format_args!("names event {event_id}, which {why}, so it is not replayed to it."),
        ));
    }
    let delivery = crate::webhooks::Delivery::replay(org, id, &envelope, now)?;
    enqueue(sqs, queue_url, &delivery).await?;
    Ok(delivery.into())
}

/// Queues a signed `ping` to one endpoint, even a disabled one, so that its receiver can be
/// checked before events depend on it. It is tried once, logged like any attempt, and
/// changes nothing about the endpoint. At most [`crate::webhooks::limits::TESTS_PER_MINUTE`] a
/// minute per endpoint: beyond, 429 with the seconds to wait.
#[cfg(feature = "sqs")]
pub async fn send_test(
    db: &Db,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    org: Uuid,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Queued, ApiError> {
    get(db, org, id).await?;
    let budget = crate::webhooks::limits::Budget::Tests(id);
    let limit = crate::webhooks::limits::TESTS_PER_MINUTE;
    if let Some(retry_after) = crate::webhooks::limits::take(db, org, budget, limit, now).await? {
        return Err(ApiError::RequestLimited {
            message: format!("At most {limit} test pings a minute per endpoint."),
            retry_after,
        });
    }
    let delivery = crate::webhooks::Delivery::ping(org, id, now)?;
    enqueue(sqs, queue_url, &delivery).await?;
    Ok(delivery.into())
}

#[cfg(feature = "sqs")]
async fn enqueue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    delivery: &crate::webhooks::Delivery,
) -> Result<(), ApiError> {
    match enqueue_all(sqs, queue_url, std::slice::from_ref(delivery)).await? {
        failed if failed.is_empty() => Ok(()),
        _ => Err(ApiError::internal("queueing a delivery failed")),
    }
}

/// Queues up to ten deliveries in one request; answers the positions of those SQS did not
/// queue. An error when the request itself failed, and nothing is known to be queued.
#[cfg(feature = "sqs")]
pub(super) async fn enqueue_all(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    deliveries: &[crate::webhooks::Delivery],
) -> Result<Vec<usize>, ApiError> {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    let entries = deliveries
        .iter()
        .enumerate()
        .map(|(i, delivery)| {
            let body = serde_json::to_string(delivery).map_err(ApiError::internal)?;
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .message_group_id(delivery.org.to_string())
                .build()
                .map_err(ApiError::internal)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = sqs
        .send_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| {
            ApiError::internal(format!(
                "queueing a delivery: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            ))
        })?;
    Ok(out
        .failed()
        .iter()
        .filter_map(|failed| failed.id().parse().ok())
        .collect())
}

/// One page of an endpoint's attempt log, newest first, optionally for one event: the
/// attempts, and the id the next page starts below when older ones remain.
pub async fn attempts(
    db: &Db,
    org: Uuid,
    id: Uuid,
    event_id: Option<&EventId>,
    before: Option<Uuid>,
    per_page: usize,
) -> Result<(Vec<crate::webhooks::Attempt>, Option<Uuid>), ApiError> {
    let event_id = event_id.map(EventId::as_str);
    // The endpoint's existence and the page, read at once; a missing endpoint answers 404
    // whatever the page held.
    let (endpoint, page) = tokio::join!(
        get(db, org, id),
        crate::webhooks::attempts::page(db, org, id, event_id, before, per_page)
    );
    endpoint?;
    let (page, more) = page?;
    let next = page.last().filter(|_| more).map(|attempt| attempt.id);
    Ok((page, next))
}
