//! Listing contacts: by kind from the kind indexes, by pool from the pool entries, search
//! from the search entries; totals from the counters or the search entries.

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::pagination::{Cursor, Position};
use crate::table::keys::org_pk;
use crate::table::query::{Query, SortKey};
use crate::table::store::Db;
use crate::ApiError;

use super::pool;
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

/// One page of contacts in the listing's order, and the exact total.
pub struct Listing<T = Contact> {
    pub items: Vec<T>,
    pub total: u64,
    pub next_cursor: Option<Cursor>,
}

/// The order of a listing: newest first (by id), or with `pool`, by pool expiry: soonest
/// first in the pool, most recent first once expired, ties by id in the same direction.
#[derive(Clone, Copy)]
enum Order {
    Newest,
    Expiry(Pool),
}

impl Order {
    fn of(filter: &ContactFilter) -> Self {
        filter.pool.map_or(Order::Newest, Order::Expiry)
    }

    /// Ascending in the listing's order.
    fn rank(self, id: Uuid, at: Option<OffsetDateTime>) -> (i128, u128) {
        let nanos = at.map_or(i128::MAX, OffsetDateTime::unix_timestamp_nanos);
        match self {
            Order::Newest => (0, !id.as_u128()),
            Order::Expiry(Pool::InPool) => (nanos, id.as_u128()),
            Order::Expiry(Pool::Expired) => (-nanos, !id.as_u128()),
        }
    }

    fn cursor(self, id: Uuid, at: Option<OffsetDateTime>) -> Cursor {
        match self {
            Order::Newest => id.into(),
            Order::Expiry(_) => Cursor { id, at },
        }
    }
}

/// Lists contacts. Without `search` and `pool`, the page comes from the newest entries of
/// the table (or of each requested kind's index, merged) and the total from the kinds
/// counters. `search` reads the search entries of its most selective word; `pool` reads
/// the pool entries of its side from where the page starts, and its total from the pool
/// counters; both then fetch the page's contacts. `now` decides which side of the pool a
/// contact is on.
pub async fn list(
    db: &Db,
    org: Uuid,
    filter: &ContactFilter,
    position: &Position,
    now: OffsetDateTime,
) -> Result<Listing, ApiError> {
    let (skip, per_page, after) = position.bounds_at();
    let window = Window {
        skip,
        per_page,
        after,
        order: Order::of(filter),
    };
    if let (Order::Expiry(_), Some(Cursor { at: None, .. })) = (window.order, after) {
        return Err(ApiError::query(
            "cursor",
            "comes from a listing without `pool`; list again from the first page.",
        ));
    }
    let chosen = match (&filter.search, filter.pool) {
        (Some(search), _) => searched(db, org, filter, search, &window, now).await?,
        (None, Some(side)) => in_pool(db, org, filter, side, &window, now).await?,
        (None, None) => return newest_first(db, org, filter, &window).await,
    };
    let ids: Vec<Uuid> = chosen.items.iter().map(|(id, _)| *id).collect();
    let mut found = by_ids(db, org, &ids).await?;
    // A change between reading the index and reading the contacts moves or removes a
    // contact: what is shown is judged on the contact as it is.
    let items = ids
        .iter()
        .filter_map(|id| found.remove(id))
        .filter(|c| filter.matches(c, now))
        .collect();
    Ok(Listing {
        items,
        total: chosen.total,
        next_cursor: chosen.next_cursor,
    })
}

/// Which part of a listing a request asks for, and in what order.
struct Window {
    skip: usize,
    per_page: usize,
    after: Option<Cursor>,
    order: Order,
}

/// A listing's ids (with pool expiry) from the search entries of its most selective word.
async fn searched(
    db: &Db,
    org: Uuid,
    filter: &ContactFilter,
    search: &Search,
    window: &Window,
    now: OffsetDateTime,
) -> Result<Listing<(Uuid, Option<OffsetDateTime>)>, ApiError> {
    let mut entries: Vec<(Uuid, Option<OffsetDateTime>)> = search::candidates(db, org, search)
        .await?
        .into_iter()
        .filter(|entry| filter.admits(&entry.kind, entry.pool_expires_at, now))
        .map(|entry| (entry.contact_id, entry.pool_expires_at))
        .collect();
    let order = window.order;
    entries.sort_by_key(|(id, at)| order.rank(*id, *at));
    let (skip, per_page, after) = (window.skip, window.per_page, window.after);
    Ok(page_of(entries, skip, per_page, after, order, |entry| {
        *entry
    }))
}

/// A listing's ids from the pool entries of its side, from where the page starts, and its
/// total from the pool counters.
async fn in_pool(
    db: &Db,
    org: Uuid,
    filter: &ContactFilter,
    side: Pool,
    window: &Window,
    now: OffsetDateTime,
) -> Result<Listing<(Uuid, Option<OffsetDateTime>)>, ApiError> {
    let after = window.after.and_then(|c| Some((c.at?, c.id)));
    let want = window.skip + window.per_page + 1;
    let (total, entries) = tokio::join!(
        pool::total(db, org, side, &filter.kinds, now),
        pool::page(db, org, side, &filter.kinds, now, after, want)
    );
    let entries = entries?
        .into_iter()
        .map(|(at, id)| (id, Some(at)))
        .collect();
    let (skip, per_page, order) = (window.skip, window.per_page, window.order);
    let mut listing = page_of(entries, skip, per_page, None, order, |entry| *entry);
    listing.total = total?;
    Ok(listing)
}

/// A listing with neither `search` nor `pool`: the newest entries of the table (or of each
/// requested kind's index, merged), its total from the kinds counters.
async fn newest_first(
    db: &Db,
    org: Uuid,
    filter: &ContactFilter,
    window: &Window,
) -> Result<Listing, ApiError> {
    let want = window.skip + window.per_page + 1;
    let sources: Vec<Option<Kind>> = if filter.kinds.is_empty() {
        vec![None]
    } else {
        filter.kinds.iter().copied().map(Some).collect()
    };
    let after = window.after.map(|c| c.id);
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
    let (skip, per_page, order) = (window.skip, window.per_page, window.order);
    let mut listing = page_of(merged, skip, per_page, None, order, |c| (c.id, None));
    listing.total = total?;
    Ok(listing)
}

/// The page of a list in `order` that starts `skip` items in, or after the cursor
/// `after`. `total` counts the whole list.
fn page_of<T>(
    all: Vec<T>,
    skip: usize,
    per_page: usize,
    after: Option<Cursor>,
    order: Order,
    key: impl Fn(&T) -> (Uuid, Option<OffsetDateTime>),
) -> Listing<T> {
    let total = all.len() as u64;
    let rank = |(id, at): (Uuid, Option<OffsetDateTime>)| order.rank(id, at);
    let start = match after {
        Some(after) => {
            let after = rank((after.id, after.at));
            all.iter()
                .position(|item| rank(key(item)) > after)
                .unwrap_or(all.len())
        }
        None => skip,
    };
    let mut items: Vec<T> = all.into_iter().skip(start).take(per_page + 1).collect();
    let next_cursor = (items.len() > per_page).then(|| {
        let (id, at) = key(&items[per_page - 1]);
        order.cursor(id, at)
    });
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
    let (first, last) = crate::table::keys::shards_range(COUNTERS_SK);
    let mut shards = db.pages(Query::table(&org_pk(org)).sort(SortKey::Between(first, last)));
    let mut total = 0i64;
    while let Some(items) = shards.next(None).await? {
        for counters in items {
            total += (0..=u8::MAX >> 3)
                .filter(|mask| wanted == 0 || mask & wanted != 0)
                .map(|mask| crate::table::store::counter(&counters, &mask_counter(mask)))
                .sum::<i64>();
        }
    }
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
