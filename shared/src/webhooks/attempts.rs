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

/// Attempt records are kept 30 days, or as long as events when they are kept longer: a
/// recovery learns from them which events were delivered.
pub fn retention() -> time::Duration {
    time::Duration::days(30).max(crate::domain::outbox::retention())
}
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
            n((self.created_at + retention()).unix_timestamp()),
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

/// What the attempt log says of one event's deliveries to one endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// An attempt was delivered.
    pub delivered: bool,
    /// When (Unix nanoseconds) the newest attempt was logged, and when its retry is due if
    /// it failed and another is scheduled.
    newest: Option<(i128, Option<OffsetDateTime>)>,
    /// When (Unix nanoseconds) the newest attempt that ended its message's tries was logged.
    pub last_ended_at: Option<i128>,
}

/// How long past its due time a scheduled retry may still come (the host's budget can hold
/// a message back): after that, it is taken as lost.
pub const OVERDUE_RETRY: time::Duration = time::Duration::hours(2);

impl History {
    fn of(logged: &[(i128, Outcome, Option<OffsetDateTime>)]) -> Self {
        let newest = logged.iter().max_by_key(|(at, ..)| *at);
        Self {
            delivered: logged.iter().any(|(_, o, _)| *o == Outcome::Delivered),
            newest: newest
                .map(|(at, outcome, due)| (*at, due.filter(|_| *outcome == Outcome::Retrying))),
            last_ended_at: logged
                .iter()
                .filter(|(_, o, _)| *o != Outcome::Retrying)
                .map(|(at, ..)| *at)
                .max(),
        }
    }

    /// Whether a retry is still coming: the newest attempt failed with another scheduled,
    /// after the endpoint was last enabled (retries queued before are dropped when it is
    /// enabled again), and is not long overdue.
    pub fn on_its_way(&self, enabled_at: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
        let Some((at, Some(due))) = self.newest else {
            return false;
        };
        let after_enabling = enabled_at.is_none_or(|enabled| at > enabled.unix_timestamp_nanos());
        after_enabling && due + OVERDUE_RETRY > now
    }
}

/// Every attempt logged to deliver `event` to `endpoint`, read consistently.
pub async fn history(db: &Db, org: Uuid, endpoint: Uuid, event: &str) -> Result<History, ApiError> {
    #[derive(Deserialize)]
    struct Logged {
        #[serde(rename = "SK")]
        sk: String,
        outcome: Outcome,
        #[serde(with = "crate::clock::rfc3339::option", default)]
        next_attempt_at: Option<OffsetDateTime>,
    }
    let prefix = attempts_prefix(endpoint, event);
    let items: Vec<Logged> = db.query_prefix(&org_pk(org), &prefix).await?;
    let logged: Vec<(i128, Outcome, Option<OffsetDateTime>)> = items
        .iter()
        .map(|item| {
            let nanos = item.sk[prefix.len()..]
                .split('#')
                .next()
                .and_then(|nanos| nanos.parse().ok())
                .unwrap_or(0);
            (nanos, item.outcome, item.next_attempt_at)
        })
        .collect();
    Ok(History::of(&logged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn history_reads_delivered_retries_to_come_and_the_last_end() {
        let now = datetime!(2026-12-07 12:00 UTC);
        let nanos = |at: OffsetDateTime| at.unix_timestamp_nanos();
        let soon = Some(now + time::Duration::minutes(5));
        assert_eq!(History::of(&[]), History::default());
        assert!(!History::default().on_its_way(None, now));

        let retried = History::of(&[
            (nanos(now) - 10, Outcome::Failed, None),
            (nanos(now), Outcome::Retrying, soon),
        ]);
        assert!(retried.on_its_way(None, now) && !retried.delivered);
        assert_eq!(retried.last_ended_at, Some(nanos(now) - 10));
        let enabled_since = Some(now + time::Duration::seconds(1));
        assert!(
            !retried.on_its_way(enabled_since, now),
            "a retry queued before the endpoint was enabled again is dropped"
        );
        let much_later = now + OVERDUE_RETRY + time::Duration::hours(1);
        assert!(!retried.on_its_way(None, much_later), "long overdue: lost");

        let ended = History::of(&[(1, Outcome::Retrying, soon), (5, Outcome::Skipped, None)]);
        assert!(!ended.on_its_way(None, now));
        assert_eq!(ended.last_ended_at, Some(5));
        assert!(
            History::of(&[(1, Outcome::Delivered, None), (5, Outcome::Failed, None)]).delivered
        );
    }
}
