//! An organization's domain events as it reads them back (`GET /events`, recovery): the
//! outbox items, kept for the deployment's retention. The table orders them by id (a
//! UUIDv7, so by when each was recorded); the `EVENTS_BY_TYPE` index orders each type's the
//! same way, and a list of some types merges one query per type. Either way a page reads
//! what it returns, however many events the organization has.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::outbox::{Envelope, EventId, EventType, OutboxItem};
use crate::table::keys::{
    event_id_floor, event_sk, events_of_type_pk, org_pk, EVENTS_BY_TYPE, OUTBOX_PREFIX,
};
use crate::table::query::{Query, SortKey};
use crate::table::store::{from_item, Db};
use crate::ApiError;

/// How long after its `created_at` (the `now` of the request that made it, to the second)
/// an event may be recorded: the longest function timeout in template.yaml (a dossier
/// create with a CV uploads it between the two), and a second for the truncation.
pub const RECORDING_LAG: Duration = Duration::seconds(31);

/// Which events, in which order.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The types to read; every type reads the table itself.
    pub types: Vec<EventType>,
    /// `since ≤ created_at`.
    pub since: Option<OffsetDateTime>,
    /// `created_at < until`.
    pub until: Option<OffsetDateTime>,
    /// The event the page starts after, in the page's order.
    pub after: Option<Uuid>,
    pub newest_first: bool,
}

impl Selection {
    fn wants(&self, envelope: &Envelope) -> bool {
        let Some(made) = crate::clock::parse(&envelope.created_at) else {
            return false;
        };
        let beyond_cursor = match (self.after, event_uuid(&envelope.id)) {
            (None, _) => true,
            (Some(after), Some(id)) if self.newest_first => id < after,
            (Some(after), Some(id)) => id > after,
            (Some(_), None) => false,
        };
        beyond_cursor
            && self.types.contains(&envelope.kind)
            && self.since.is_none_or(|since| made >= since)
            && self.until.is_none_or(|until| made < until)
    }

    /// The ids that can hold the selected events: an event is recorded at or after its
    /// `created_at`, and at most [`RECORDING_LAG`] after.
    fn id_range(&self) -> (String, String) {
        let low = self
            .since
            .map_or_else(|| "evt_".to_string(), event_id_floor);
        let high = self
            .until
            .and_then(|until| until.checked_add(RECORDING_LAG))
            .map_or_else(|| "evt_~".to_string(), event_id_floor);
        match (
            self.after.map(|id| format!("evt_{}", id.simple())),
            self.newest_first,
        ) {
            (Some(after), true) => (low, after.min(high)),
            (Some(after), false) => (after.max(low), high),
            (None, _) => (low, high),
        }
    }

    fn queries(&self, org: Uuid) -> Vec<Query> {
        let (low, high) = self.id_range();
        let queries = if EventType::ALL.iter().all(|kind| self.types.contains(kind)) {
            vec![Query::table(&org_pk(org))
                .eventually_consistent()
                .sort(SortKey::Between(
                    format!("{OUTBOX_PREFIX}{low}"),
                    format!("{OUTBOX_PREFIX}{high}"),
                ))]
        } else {
            self.types
                .iter()
                .map(|kind| {
                    Query::index(EVENTS_BY_TYPE, &events_of_type_pk(org, kind.as_str()))
                        .sort(SortKey::Between(low.clone(), high.clone()))
                })
                .collect()
        };
        if self.newest_first {
            queries.into_iter().map(Query::newest_first).collect()
        } else {
            queries
        }
    }
}

/// The uuid of an event id, for cursors and ordering.
pub fn event_uuid(id: &str) -> Option<Uuid> {
    EventId::parse(id).ok().as_ref().map(EventId::uuid)
}

/// The first `want` selected events, in the selection's order.
pub async fn read(
    db: &Db,
    org: Uuid,
    selection: &Selection,
    want: usize,
) -> Result<Vec<Envelope>, ApiError> {
    let (low, high) = selection.id_range();
    if low > high {
        // Nothing can be in an empty range (DynamoDB refuses one, rather than answer it).
        return Ok(Vec::new());
    }
    let reads = selection
        .queries(org)
        .into_iter()
        .map(|query| read_one(db, query, selection, want));
    let mut merged: Vec<Envelope> = futures_util::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect();
    merged.sort_by(|a, b| a.id.cmp(&b.id));
    if selection.newest_first {
        merged.reverse();
    }
    merged.truncate(want);
    Ok(merged)
}

async fn read_one(
    db: &Db,
    query: Query,
    selection: &Selection,
    want: usize,
) -> Result<Vec<Envelope>, ApiError> {
    let mut pages = db.pages(query);
    let mut found = Vec::new();
    // The range holds the cursor's own event: one more on the first read.
    let mut cursor = usize::from(selection.after.is_some());
    while let Some(items) = pages.next(Some(want - found.len() + cursor)).await? {
        cursor = 0;
        for item in items {
            let envelope = from_item::<OutboxItem>(item)?
                .envelope()
                .map_err(ApiError::internal)?;
            if selection.wants(&envelope) {
                found.push(envelope);
            }
        }
        if found.len() >= want {
            found.truncate(want);
            break;
        }
    }
    Ok(found)
}

/// One event of the organization, if it is still kept.
pub async fn get(db: &Db, org: Uuid, id: &EventId) -> Result<Option<Envelope>, ApiError> {
    let item = db
        .get::<OutboxItem>(&org_pk(org), &event_sk(id.as_str()))
        .await?;
    item.map(|item| item.envelope().map_err(ApiError::internal))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn envelope(id: Uuid, kind: EventType, created_at: &str) -> Envelope {
        Envelope {
            id: format!("evt_{}", id.simple()),
            kind,
            created_at: created_at.into(),
            data: serde_json::json!({}),
        }
    }

    fn selection() -> Selection {
        Selection {
            types: EventType::ALL.to_vec(),
            since: None,
            until: None,
            after: None,
            newest_first: true,
        }
    }

    #[test]
    fn a_selection_keeps_its_types_range_and_side_of_the_cursor() {
        let (older, newer) = (Uuid::now_v7(), Uuid::now_v7());
        let at = "2026-12-07T04:00:00Z";
        let note = envelope(older, EventType::NoteCreated, at);
        assert!(selection().wants(&note));
        let dossiers_only = Selection {
            types: vec![EventType::DossierCreated],
            ..selection()
        };
        assert!(!dossiers_only.wants(&note));
        let since = Selection {
            since: Some(datetime!(2026-12-07 04:00:00 UTC)),
            until: Some(datetime!(2026-12-07 04:00:01 UTC)),
            ..selection()
        };
        assert!(since.wants(&note));
        let until = Selection {
            until: Some(datetime!(2026-12-07 04:00:00 UTC)),
            ..selection()
        };
        assert!(!until.wants(&note), "until is exclusive");
        let below_newer = Selection {
            after: Some(newer),
            ..selection()
        };
        assert!(below_newer.wants(&note));
        assert!(!below_newer.wants(&envelope(newer, EventType::NoteCreated, at)));
        let above_older = Selection {
            after: Some(older),
            newest_first: false,
            ..selection()
        };
        assert!(above_older.wants(&envelope(newer, EventType::NoteCreated, at)));
        assert!(!above_older.wants(&note));
    }

    #[test]
    fn every_type_reads_the_table_and_some_read_one_index_partition_each() {
        let org = Uuid::from_u128(1);
        assert_eq!(selection().queries(org).len(), 1);
        let two = Selection {
            types: vec![EventType::NoteCreated, EventType::ContactUpdated],
            ..selection()
        };
        assert_eq!(two.queries(org).len(), 2);
    }

    #[test]
    fn the_id_range_allows_for_the_recording_lag_and_the_cursor() {
        let since = datetime!(2026-12-07 04:00:00 UTC);
        let until = datetime!(2026-12-07 05:00:00 UTC);
        let bounded = Selection {
            since: Some(since),
            until: Some(until),
            ..selection()
        };
        let (low, high) = bounded.id_range();
        assert_eq!(low, event_id_floor(since));
        assert_eq!(high, event_id_floor(until + RECORDING_LAG));
        let cursor = Uuid::now_v7();
        let paged = Selection {
            after: Some(cursor),
            ..selection()
        };
        assert_eq!(paged.id_range().1, format!("evt_{}", cursor.simple()));
        assert_eq!(
            event_uuid(&format!("evt_{}", cursor.simple())),
            Some(cursor)
        );
        assert_eq!(event_uuid("evt_nope"), None);
    }

    #[test]
    fn the_recording_lag_covers_every_functions_timeout() {
        let template = include_str!("../../../template.yaml");
        let longest: i64 = template
            .lines()
            .filter_map(|line| line.trim().strip_prefix("Timeout: "))
            .map(|value| value.trim().parse::<i64>().expect("a Timeout in seconds"))
            .max()
            .expect("template.yaml sets the functions' Timeout");
        assert!(longest >= 29, "the dossiers function's, at least");
        assert!(RECORDING_LAG >= Duration::seconds(longest + 1));
    }

    #[test]
    fn an_empty_range_is_seen_as_empty() {
        let crossed = Selection {
            since: Some(datetime!(2026-12-07 05:00 UTC)),
            until: Some(datetime!(2026-12-07 04:00 UTC)),
            ..selection()
        };
        let (low, high) = crossed.id_range();
        assert!(low > high);
        let below_since = Selection {
            since: Some(datetime!(2026-12-07 05:00 UTC)),
            after: Some(Uuid::from_u128(1)),
            ..selection()
        };
        let (low, high) = below_since.id_range();
        assert!(low > high);
    }

    #[test]
    fn the_last_instant_is_a_bound_not_a_panic() {
        let last = Selection {
            until: Some(datetime!(9999-12-31 23:59:59 UTC)),
            ..selection()
        };
        assert_eq!(last.id_range().1, "evt_~");
    }
}
