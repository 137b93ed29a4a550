//! The attempt log: one item per delivery attempt, kept 30 days. The table orders an
//! endpoint's attempts by event, for the delivery worker's count of one message's attempts;
//! two indexes order them by attempt id (UUIDv7, so by time), for the listing newest first,
//! of the whole endpoint or of one event.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::WebhookType;
use crate::table::keys::{
    attempt_sk, attempts_of_endpoint_pk, attempts_of_event_pk, attempts_prefix, org_pk,
    ATTEMPTS_BY_ENDPOINT, ATTEMPTS_BY_EVENT,
};
use crate::table::query::{Query, SortKey};
use crate::table::store::{from_item, n, s, to_item, Db, Item};
use crate::ApiError;

/// Attempt records expire after 30 days.
pub const RETENTION: time::Duration = time::Duration::days(30);
/// How much of a receiver's response body the attempt log keeps.
pub const LOGGED_BODY_BYTES: usize = 1024;

crate::wire_enum! {
    pub enum Outcome {
        /// The receiver answered 2xx.
        Delivered = "delivered",
        /// Failed; another attempt is scheduled.
        Retrying = "retrying",
        /// Failed for the last time: a domain event went to the dead-letter queue; a test
        /// event is not retried.
        Failed = "failed",
        /// The receiver answered 410: the endpoint is now disabled.
        Disabled = "disabled",
        /// Not sent: the endpoint was deleted or disabled, or its URL is not allowed.
        Skipped = "skipped",
    }
}

/// One delivery attempt, as the attempt log keeps and shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Attempt {
    /// UUIDv7: attempts sort by it in the order they were made.
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: String,
    pub event_type: WebhookType,
    /// 1 for the first attempt of a queue message; a replay starts again at 1.
    pub attempt: u32,
    /// Where it was sent; null when the endpoint was gone before the attempt.
    pub url: Option<String>,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    pub duration_ms: u64,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub outcome: Outcome,
    /// When the next attempt is due, for a failed attempt that will be retried; null
    /// otherwise.
    #[serde(with = "crate::clock::rfc3339::option", default)]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The request ran out of its lane's time: in the fast lane, it moves to the slow one.
    #[serde(skip)]
    pub timed_out: bool,
}

impl Attempt {
    /// In the table, sorted per endpoint, then event, then the moment it was written (finer
    /// than `created_at`, which is to the second); on the indexes, by id.
    pub fn item(&self, org: Uuid) -> Result<Item, ApiError> {
        let sk = attempt_sk(
            self.endpoint_id,
            &self.event_id,
            OffsetDateTime::now_utc().unix_timestamp_nanos(),
            self.attempt,
        );
        let mut item = to_item(self, &org_pk(org), &sk, "webhook_attempt")?;
        for (index, pk) in [
            (
                ATTEMPTS_BY_ENDPOINT,
                attempts_of_endpoint_pk(org, self.endpoint_id),
            ),
            (
                ATTEMPTS_BY_EVENT,
                attempts_of_event_pk(org, self.endpoint_id, &self.event_id),
            ),
        ] {
            item.insert(index.pk.into(), s(pk));
            item.insert(index.sk.into(), s(self.id.to_string()));
        }
        item.insert(
            crate::table::schema::TTL_ATTRIBUTE.into(),
            n((self.created_at + RETENTION).unix_timestamp()),
        );
        Ok(item)
    }
}

pub async fn record(db: &Db, org: Uuid, attempt: &Attempt) -> Result<(), ApiError> {
    db.put_item(attempt.item(org)?).await
}

/// One page of an endpoint's attempts, or of its attempts for one event, newest first:
/// those made before the attempt `before` names, when it does. Answers the page and
/// whether older attempts remain. Read from an index: an attempt of the last second may be
/// missing.
pub async fn page(
    db: &Db,
    org: Uuid,
    endpoint: Uuid,
    event: Option<&str>,
    before: Option<Uuid>,
    per_page: usize,
) -> Result<(Vec<Attempt>, bool), ApiError> {
    let query = match event {
        Some(event) => Query::index(
            ATTEMPTS_BY_EVENT,
            &attempts_of_event_pk(org, endpoint, event),
        ),
        None => Query::index(
            ATTEMPTS_BY_ENDPOINT,
            &attempts_of_endpoint_pk(org, endpoint),
        ),
    };
    let query = match before {
        Some(before) => query.sort(SortKey::Below(before.to_string())),
        None => query,
    };
    let mut pages = db.pages(query.newest_first());
    let mut found = Vec::new();
    while let Some(items) = pages.next(Some(per_page + 1 - found.len())).await? {
        for item in items {
            found.push(from_item::<Attempt>(item)?);
        }
        if found.len() > per_page {
            found.truncate(per_page);
            return Ok((found, true));
        }
    }
    Ok((found, false))
}

/// How many attempts to deliver `event` to `endpoint` were logged since `since` (Unix
/// nanoseconds): those of one queue message, which counts its attempts from when it was
/// sent, so that a replay of the event starts the schedule again. Read from the table,
/// consistently: an attempt just made counts.
pub async fn count_since(
    db: &Db,
    org: Uuid,
    endpoint: Uuid,
    event: &str,
    since: i128,
) -> Result<u32, ApiError> {
    let prefix = attempts_prefix(endpoint, event);
    let query = Query::table(&org_pk(org)).sort(SortKey::Between(
        format!("{prefix}{:020}", since.max(0)),
        format!("{prefix}~"),
    ));
    let mut pages = db.pages(query);
    let mut made = 0;
    while let Some(items) = pages.next(None).await? {
        made += items.len() as u32;
    }
    Ok(made)
}
