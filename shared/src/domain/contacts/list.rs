//! Listing contacts: by kind from the kind indexes, by pool from the pool index, search
//! from the search entries; totals from the counters, the pool index or the entries.

use std::collections::HashMap;

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::pagination::Position;
use crate::table::keys::org_pk;
use crate::table::keys::{contacts_in_pool_pk, CONTACTS_BY_POOL_EXPIRY};
use crate::table::store::{Db, Query, SortKey};
use crate::ApiError;

use super::search::{self, Search};
use super::{
    contact_sk, kind_list_pk, kinds_mask, mask_counter, Contact, Kind, CONTACT_PREFIX, COUNTERS_SK,
};

/// `GET /contacts` filters.
pub struct ContactFilter {
    pub kinds: Vec<Kind>,
    pub pool: Option<Pool>,
    pub search: Option<Search>,
}

crate::wire_enum! {
    pub enum Pool {
        InPool = "in_pool",
        Expired = "expired",
    }
}

impl ContactFilter {
    /// The documented semantics of every filter, on a contact.
    pub fn matches(&self, contact: &Contact, now: OffsetDateTime) -> bool {
        self.admits(&contact.kind, contact.pool_expires_at, now)
            && self.search.as_ref().is_none_or(|s| s.matches(contact))
    }

    /// The `kind` and `pool` filters.
    fn admits(
        &self,
        kinds: &[Kind],
        pool_expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> bool {
        let kind_ok = self.kinds.is_empty() || kinds.iter().any(|k| self.kinds.contains(k));
        let pool_ok = match (self.pool, pool_expires_at) {
            (None, _) => true,
            (Some(Pool::InPool), Some(at)) => at > now,
            (Some(Pool::Expired), Some(at)) => at <= now,
            (Some(_), None) => false,
        };
        kind_ok && pool_ok
    }
}

/// One page of contacts, newest first (ties by id), and the exact total.
pub struct Listing<T = Contact> {
    pub items: Vec<T>,
    pub total: u64,
    pub next_cursor: Option<Uuid>,
}

/// Lists contacts. Without `search` and `pool`, the page comes from the newest entries of
/// the table (or of each requested kind's index, merged) and the total from the kinds
/// counters. `search` reads the search entries of its most selective word, `pool` the
/// side asked for on the pool index (small entries, not contacts); both then fetch the
/// page. `now` decides which side of the pool a contact is on.
pub async fn list(
    db: &Db,
    org: Uuid,
    filter: &ContactFilter,
    position: &Position,
    now: OffsetDateTime,
) -> Result<Listing, ApiError> {
    let (skip, per_page, after) = position.bounds();
    let ids = match (&filter.search, filter.pool) {
        (Some(search), _) => Some(
            search::candidates(db, org, search)
                .await?
                .into_iter()
                .filter(|entry| filter.admits(&entry.kind, entry.pool_expires_at, now))
                .map(|entry| entry.contact_id)
                .collect(),
        ),
        (None, Some(pool)) => Some(pool_ids(db, org, pool, &filter.kinds, now).await?),
        (None, None) => None,
    };
    if let Some(ids) = ids {
        let Listing {
            items: ids,
            total,
            next_cursor,
        } = page_of(ids, skip, per_page, after, |id| *id);
        let mut found = by_ids(db, org, &ids).await?;
        // The pool index may lag a change; what is shown is judged on the contact as it is.
        let items = ids
            .iter()
            .filter_map(|id| found.remove(id))
            .filter(|c| filter.matches(c, now))
            .collect();
        return Ok(Listing {
            items,
            total,
            next_cursor,
        });
    }
    let want = skip + per_page + 1;
    let sources: Vec<Option<Kind>> = if filter.kinds.is_empty() {
        vec![None]
    } else {
        filter.kinds.iter().copied().map(Some).collect()
    };
    let (total, newest) = tokio::join!(
        total(db, org, &filter.kinds),
        futures_util::future::try_join_all(
            sources
                .into_iter()
                .map(|kind| newest(db, org, kind, after, want))
        )
    );
    let mut merged: Vec<Contact> = newest?.into_iter().flatten().collect();
    merged.sort_by_key(|c| std::cmp::Reverse(c.id));
    merged.dedup_by_key(|c| c.id);
    let mut listing = page_of(merged, skip, per_page, None, |c| c.id);
    listing.total = total?;
    Ok(listing)
}

/// The page of an ordered, newest-first list that starts `skip` items in or after `after`.
/// `total` counts the whole list.
fn page_of<T>(
    all: Vec<T>,
    skip: usize,
    per_page: usize,
    after: Option<Uuid>,
    id: impl Fn(&T) -> Uuid,
) -> Listing<T>
where
    T: Clone,
{
    let total = all.len() as u64;
    let start = match after {
        Some(after) => all
            .iter()
            .position(|item| id(item) < after)
            .unwrap_or(all.len()),
        None => skip,
    };
    let mut items: Vec<T> = all.into_iter().skip(start).take(per_page + 1).collect();
    let next_cursor = (items.len() > per_page).then(|| id(&items[per_page - 1]));
    items.truncate(per_page);
    Listing {
        items,
        total,
        next_cursor,
    }
}

/// The exact number of contacts having any of `kinds` (all contacts when empty).
async fn total(db: &Db, org: Uuid, kinds: &[Kind]) -> Result<u64, ApiError> {
    let wanted = kinds_mask(kinds);
    let counters = db
        .get_item(&org_pk(org), COUNTERS_SK)
        .await?
        .unwrap_or_default();
    let total: i64 = (0..=u8::MAX >> 3)
        .filter(|mask| wanted == 0 || mask & wanted != 0)
        .map(|mask| crate::table::store::counter(&counters, &mask_counter(mask)))
        .sum();
    Ok(total.max(0) as u64)
}

/// Up to `want` contacts, newest first, from the table (no kind) or a kind's index.
async fn newest(
    db: &Db,
    org: Uuid,
    kind: Option<Kind>,
    after: Option<Uuid>,
    want: usize,
) -> Result<Vec<Contact>, ApiError> {
    let query = match (kind, after) {
        (Some(kind), None) => Query::index(kind.index(), &kind_list_pk(org, kind)),
        (Some(kind), Some(after)) => Query::index(kind.index(), &kind_list_pk(org, kind))
            .sort(SortKey::Below(after.to_string())),
        (None, after) => Query::table(&org_pk(org)).sort(SortKey::Between(
            CONTACT_PREFIX.to_string(),
            after.map_or_else(|| format!("{CONTACT_PREFIX}~"), contact_sk),
        )),
    };
    let mut pages = db.pages(query.newest_first());
    let mut found = Vec::new();
    while let Some(page) = pages.next(Some(want - found.len() + 1)).await? {
        for item in page {
            let contact: Contact = crate::table::store::from_item(item)?;
            if contact.deleting || Some(contact.id) == after {
                continue;
            }
            found.push(contact);
            if found.len() >= want {
                return Ok(found);
            }
        }
    }
    Ok(found)
}

/// The ids on one side of the pool (with any of `kinds`), newest first.
async fn pool_ids(
    db: &Db,
    org: Uuid,
    pool: Pool,
    kinds: &[Kind],
    now: OffsetDateTime,
) -> Result<Vec<Uuid>, ApiError> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "SK")]
        sk: String,
        #[serde(default)]
        kind: Vec<Kind>,
    }
    let now = crate::table::keys::pool_bound(now);
    let side = match pool {
        Pool::InPool => SortKey::Above(now),
        Pool::Expired => SortKey::Below(now),
    };
    let entries: Vec<Entry> = db
        .query_all(Query::index(CONTACTS_BY_POOL_EXPIRY, &contacts_in_pool_pk(org)).sort(side))
        .await?;
    let mut ids: Vec<Uuid> = entries
        .into_iter()
        .filter(|entry| kinds.is_empty() || entry.kind.iter().any(|k| kinds.contains(k)))
        .filter_map(|entry| entry.sk.strip_prefix(CONTACT_PREFIX)?.parse().ok())
        .collect();
    ids.sort_unstable_by(|a: &Uuid, b| b.cmp(a));
    Ok(ids)
}

/// The visible contacts among `ids`, read consistently.
pub async fn by_ids(db: &Db, org: Uuid, ids: &[Uuid]) -> Result<HashMap<Uuid, Contact>, ApiError> {
    let keys = ids
        .iter()
        .map(|id| crate::table::store::key(&org_pk(org), &contact_sk(*id)))
        .collect();
    let mut found = HashMap::new();
    for item in db.batch_get(keys).await? {
        let contact: Contact = crate::table::store::from_item(item)?;
        if !contact.deleting {
            found.insert(contact.id, contact);
        }
    }
    Ok(found)
}
