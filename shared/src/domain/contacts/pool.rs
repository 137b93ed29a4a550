//! The talent pool by index. A contact with a pool date has, written in its own
//! transactions:
//! - one entry per kind it has, `POOL#<kind>#<expiry>#<id>`, so a side of the pool is a
//!   range of one kind's entries in expiry order, read only as far as the page asked for;
//! - a count in five counters, one per bucket of its expiry (its year, month, day, hour
//!   and minute), per combination of kinds, in the bucket's shard its id picks (a burst of
//!   new candidates shares every bucket), so a side's size at any moment is the sum of the
//!   buckets wholly on that side (about 130 buckets of 8 small items at most, whatever the
//!   pool holds) plus the entries of the current minute, counted.
//!
//! A contact crosses from `in_pool` to `expired` at its expiry without being written;
//! both sides stay exact because `now` is applied when reading.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{kinds_mask, mask_counter, Contact, Kind, Pool};
use crate::table::keys::{
    org_pk, parse_pool_sk, pool_ceiling, pool_count_sk, pool_floor, pool_prefix, pool_sk, shard_sk,
    shards_range,
};
use crate::table::query::{Query, SortKey};
use crate::table::store::{counter, Db, Item};
use crate::table::txn;
use crate::ApiError;

/// The most pool items a contact's removal writes: an entry per kind and one counter per
/// level of bucket.
pub const MOST_REMOVED: usize = Kind::ALL.len() + BUCKET_LEVELS;

const BUCKET_LEVELS: usize = 5;

/// A contact's pool entry keys, none when it has no pool date or is being deleted.
fn entry_keys(contact: Option<&Contact>) -> Vec<String> {
    let Some(contact) = contact.filter(|c| !c.deleting) else {
        return Vec::new();
    };
    let Some(at) = contact.pool_expires_at else {
        return Vec::new();
    };
    contact
        .kind
        .iter()
        .map(|kind| pool_sk(kind.as_str(), at, contact.id))
        .collect()
}

/// One level of expiry buckets for an instant: the bucket key up to this level's value,
/// the value, and the values the level can take.
struct Level {
    parent: String,
    value: u32,
    first: u32,
    last: u32,
    width: usize,
}

impl Level {
    fn key(&self, value: u32) -> String {
        pool_count_sk(&format!("{}{:0w$}", self.parent, value, w = self.width))
    }

    /// The buckets of this level under the same parent that lie wholly on `side` of the
    /// instant this level was cut from.
    fn beyond(&self, side: Pool) -> Option<(String, String)> {
        match side {
            Pool::Expired if self.value > self.first => {
                Some((self.key(self.first), self.key(self.value - 1)))
            }
            Pool::InPool if self.value < self.last => {
                Some((self.key(self.value + 1), self.key(self.last)))
            }
            _ => None,
        }
    }
}

/// The year, month, day, hour and minute buckets of `at` (UTC).
fn levels(at: OffsetDateTime) -> [Level; BUCKET_LEVELS] {
    let at = at.to_offset(time::UtcOffset::UTC);
    let (y, m, d, h) = (at.year(), u8::from(at.month()), at.day(), at.hour());
    let level = |parent: String, value: u32, first: u32, last: u32, width: usize| Level {
        parent,
        value,
        first,
        last,
        width,
    };
    [
        level("Y#".into(), y.max(0) as u32, 0, 9999, 4),
        level(format!("M#{y:04}-"), m.into(), 1, 12, 2),
        level(format!("D#{y:04}-{m:02}-"), d.into(), 1, 31, 2),
        level(format!("H#{y:04}-{m:02}-{d:02}T"), h.into(), 0, 23, 2),
        level(
            format!("I#{y:04}-{m:02}-{d:02}T{h:02}:"),
            at.minute().into(),
            0,
            59,
            2,
        ),
    ]
}

/// The pool entries and bucket counters that change with a contact going from `before`
/// to `after`, for its transaction. A transaction may touch an item once, so the counts
/// of both sides are merged per bucket first.
pub fn changes(
    org: Uuid,
    before: Option<&Contact>,
    after: Option<&Contact>,
) -> Vec<crate::table::txn::Write> {
    let pk = org_pk(org);
    let (old, new) = (entry_keys(before), entry_keys(after));
    let mut items: Vec<crate::table::txn::Write> = old
        .iter()
        .filter(|key| !new.contains(key))
        .map(|sk| txn::delete(&pk, sk, None))
        .collect();
    for sk in new.iter().filter(|key| !old.contains(key)) {
        let mut entry = crate::table::store::key(&pk, sk);
        entry.insert("entity".into(), crate::table::store::s("contact_pool"));
        items.push(txn::put(entry, None));
    }
    let mut deltas: BTreeMap<String, BTreeMap<u8, i64>> = BTreeMap::new();
    for (contact, delta) in [(before, -1), (after, 1)] {
        let Some(contact) = contact.filter(|c| !c.deleting) else {
            continue;
        };
        let Some(at) = contact.pool_expires_at else {
            continue;
        };
        for level in levels(at) {
            *deltas
                .entry(shard_sk(&level.key(level.value), contact.id))
                .or_default()
                .entry(kinds_mask(&contact.kind))
                .or_default() += delta;
        }
    }
    for (sk, by_mask) in deltas {
        let by_mask: Vec<(u8, i64)> = by_mask.into_iter().filter(|(_, d)| *d != 0).collect();
        if by_mask.is_empty() {
            continue;
        }
        let (changes, values) = by_mask
            .iter()
            .enumerate()
            .map(|(i, (mask, delta))| {
                (
                    format!("{} :d{i}", mask_counter(*mask)),
                    (format!(":d{i}"), crate::table::store::n(delta)),
                )
            })
            .unzip::<_, _, Vec<_>, Vec<_>>();
        items.push(txn::update(txn::UpdateSpec {
            pk: pk.clone(),
            sk,
            expression: format!("ADD {}", changes.join(", ")),
            condition: None,
            names: Vec::new(),
            values,
        }));
    }
    items
}

/// The pool entry puts a contact's transactions write, for re-indexing it; its counters
/// are rebuilt by [`recount`].
pub fn entries(org: Uuid, contact: &Contact) -> Vec<crate::table::txn::Write> {
    changes(org, None, Some(contact))
        .into_iter()
        .filter(|write| matches!(write, crate::table::txn::Write::Put { .. }))
        .collect()
}

/// The kinds whose entries list a side of the pool for the filter `kinds`. The pool holds
/// candidates only, so every contact in it has a candidate entry.
fn streams(kinds: &[Kind]) -> Vec<Kind> {
    if kinds.is_empty() || kinds.contains(&Kind::Candidate) {
        vec![Kind::Candidate]
    } else {
        kinds.to_vec()
    }
}

/// The sort key range of `kind`'s entries on `side` of `now`, strictly past `after`
/// (an expiry and a contact) when given: `None` when nothing can be in it.
fn side_range(
    kind: Kind,
    side: Pool,
    now: OffsetDateTime,
    after: Option<(OffsetDateTime, Uuid)>,
) -> Option<(String, String)> {
    let kind = kind.as_str();
    let after = after.map(|(at, id)| pool_sk(kind, at, id));
    let (low, high) = match side {
        Pool::InPool => {
            let low = pool_ceiling(kind, now);
            (
                after.map_or(low.clone(), |a| a.max(low)),
                format!("{}~", pool_prefix(kind)),
            )
        }
        Pool::Expired => {
            let high = pool_ceiling(kind, now);
            (
                pool_prefix(kind),
                after.map_or(high.clone(), |a| a.min(high)),
            )
        }
    };
    (low <= high).then_some((low, high))
}

/// The first `want` entries on `side` of the pool among the contacts with any of
/// `kinds`, strictly after `after`, in the listing's order: soonest expiry first in the
/// pool, latest first once expired (ties by id the same way).
pub async fn page(
    db: &Db,
    org: Uuid,
    side: Pool,
    kinds: &[Kind],
    now: OffsetDateTime,
    after: Option<(OffsetDateTime, Uuid)>,
    want: usize,
) -> Result<Vec<(OffsetDateTime, Uuid)>, ApiError> {
    let pk = org_pk(org);
    let reads = streams(kinds).into_iter().filter_map(|kind| {
        let (low, high) = side_range(kind, side, now, after)?;
        let query = Query::table(&pk).sort(SortKey::Between(low, high));
        let query = match side {
            Pool::InPool => query,
            Pool::Expired => query.newest_first(),
        };
        Some(first_entries(db, query, after, Some(want)))
    });
    let mut found: Vec<(OffsetDateTime, Uuid)> = futures_util::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .collect();
    found.sort_unstable();
    found.dedup();
    if side == Pool::Expired {
        found.reverse();
    }
    found.truncate(want);
    Ok(found)
}

/// The entries of `query` (up to `want` when given), leaving out the one at `after`.
async fn first_entries(
    db: &Db,
    query: Query,
    after: Option<(OffsetDateTime, Uuid)>,
    want: Option<usize>,
) -> Result<Vec<(OffsetDateTime, Uuid)>, ApiError> {
    let mut pages = db.pages(query);
    let mut found = Vec::new();
    while let Some(items) = pages.next(want.map(|w| w - found.len() + 1)).await? {
        for item in items {
            let Some(entry) = sort_key(&item).and_then(parse_pool_sk) else {
                continue;
            };
            if Some(entry) != after {
                found.push(entry);
            }
            if want.is_some_and(|w| found.len() >= w) {
                return Ok(found);
            }
        }
    }
    Ok(found)
}

fn sort_key(item: &Item) -> Option<&str> {
    item.get(crate::table::schema::SK)?
        .as_s()
        .ok()
        .map(String::as_str)
}

/// How many contacts with any of `kinds` (all when empty) are on `side` of the pool at
/// `now`: the counters of the buckets wholly on that side, plus the entries of the
/// current minute on it, counted one by one.
pub async fn total(
    db: &Db,
    org: Uuid,
    side: Pool,
    kinds: &[Kind],
    now: OffsetDateTime,
) -> Result<u64, ApiError> {
    let pk = org_pk(org);
    let wanted = kinds_mask(kinds);
    let ranges: Vec<(String, String)> = levels(now)
        .iter()
        .filter_map(|level| level.beyond(side))
        .collect();
    let buckets = ranges.into_iter().map(|(low, high)| {
        // Up to the last bucket's last shard.
        let high = shards_range(&high).1;
        let query = Query::table(&pk).sort(SortKey::Between(low, high));
        async move {
            let mut pages = db.pages(query);
            let mut sum = 0i64;
            while let Some(items) = pages.next(None).await? {
                for item in &items {
                    sum += (0..=u8::MAX >> 3)
                        .filter(|mask| wanted == 0 || mask & wanted != 0)
                        .map(|mask| counter(item, &mask_counter(mask)))
                        .sum::<i64>();
                }
            }
            Ok::<_, ApiError>(sum)
        }
    });
    let (buckets, this_minute) = tokio::join!(
        futures_util::future::try_join_all(buckets),
        this_minute(db, org, side, kinds, now)
    );
    let total = buckets?.into_iter().sum::<i64>() + this_minute? as i64;
    Ok(total.max(0) as u64)
}

/// The contacts with any of `kinds` whose expiry is in `now`'s minute, on `side` of it.
async fn this_minute(
    db: &Db,
    org: Uuid,
    side: Pool,
    kinds: &[Kind],
    now: OffsetDateTime,
) -> Result<u64, ApiError> {
    let pk = org_pk(org);
    let start = now
        .replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .map_err(|e| ApiError::internal(format!("minute of {now}: {e}")))?;
    let end = start + time::Duration::MINUTE;
    let reads = streams(kinds).into_iter().map(|kind| {
        let k = kind.as_str();
        let (low, high) = match side {
            Pool::Expired => (pool_floor(k, start), pool_ceiling(k, now)),
            Pool::InPool => (pool_ceiling(k, now), pool_floor(k, end)),
        };
        first_entries(
            db,
            Query::table(&pk).sort(SortKey::Between(low, high)),
            None,
            None,
        )
    });
    let mut ids: Vec<Uuid> = futures_util::future::try_join_all(reads)
        .await?
        .into_iter()
        .flatten()
        .map(|(_, id)| id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids.len() as u64)
}

/// Sets every pool counter to what `contacts` (all of an organization's, as read in one
/// pass) count, emptying buckets no contact falls in any more. For contacts written
/// before the counters existed; like the kinds recount, run it while contacts are not
/// being written.
pub async fn recount(db: &Db, org: Uuid, contacts: &[Contact]) -> Result<(), ApiError> {
    let pk = org_pk(org);
    let mut counts: BTreeMap<String, BTreeMap<u8, i64>> = BTreeMap::new();
    for contact in contacts.iter().filter(|c| !c.deleting) {
        if let Some(at) = contact.pool_expires_at {
            for level in levels(at) {
                *counts
                    .entry(level.key(level.value))
                    .or_default()
                    .entry(kinds_mask(&contact.kind))
                    .or_default() += 1;
            }
        }
    }
    let existing: Vec<Item> = {
        let mut pages = db.pages(Query::table(&pk).sort(SortKey::BeginsWith(
            crate::table::keys::POOL_COUNT_PREFIX.into(),
        )));
        let mut all = Vec::new();
        while let Some(items) = pages.next(None).await? {
            all.extend(items);
        }
        all
    };
    for item in &existing {
        if let Some(sk) = sort_key(item).filter(|sk| !counts.contains_key(*sk)) {
            db.put_item(crate::table::store::key(&pk, sk)).await?;
        }
    }
    for (sk, by_mask) in counts {
        let mut item = crate::table::store::key(&pk, &sk);
        for (mask, count) in by_mask {
            item.insert(mask_counter(mask), crate::table::store::n(count));
        }
        db.put_item(item).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn buckets_on_each_side_cover_everything_but_the_current_minute() {
        let now = datetime!(2026-11-29 20:24:31.5 UTC);
        let ranges = |side| -> Vec<(String, String)> {
            levels(now).iter().filter_map(|l| l.beyond(side)).collect()
        };
        let expired = ranges(Pool::Expired);
        let in_pool = ranges(Pool::InPool);
        let sk = |bucket: &str| pool_count_sk(bucket);
        assert_eq!(
            expired,
            vec![
                (sk("Y#0000"), sk("Y#2025")),
                (sk("M#2026-01"), sk("M#2026-10")),
                (sk("D#2026-11-01"), sk("D#2026-11-28")),
                (sk("H#2026-11-29T00"), sk("H#2026-11-29T19")),
                (sk("I#2026-11-29T20:00"), sk("I#2026-11-29T20:23")),
            ]
        );
        assert_eq!(
            in_pool,
            vec![
                (sk("Y#2027"), sk("Y#9999")),
                (sk("M#2026-12"), sk("M#2026-12")),
                (sk("D#2026-11-30"), sk("D#2026-11-31")),
                (sk("H#2026-11-29T21"), sk("H#2026-11-29T23")),
                (sk("I#2026-11-29T20:25"), sk("I#2026-11-29T20:59")),
            ]
        );
        // An instant's own buckets are on neither side: its minute is counted by entry.
        let inside = |bucket: &String, (low, high): &(String, String)| {
            bucket.len() == low.len() && low <= bucket && bucket <= high
        };
        for level in levels(now) {
            let own = level.key(level.value);
            assert!(!expired.iter().chain(&in_pool).any(|r| inside(&own, r)));
        }
        // Any other instant falls in exactly one bucket on exactly one side.
        for other in [
            datetime!(1999-01-01 00:00 UTC),
            datetime!(2026-11-29 20:23:59.999 UTC),
            datetime!(2026-11-29 20:25:00 UTC),
            datetime!(2026-11-30 00:00 UTC),
            datetime!(2026-12-31 23:59 UTC),
            datetime!(2027-01-01 00:00 UTC),
        ] {
            let hits: Vec<bool> = levels(other)
                .iter()
                .flat_map(|l| {
                    let own = l.key(l.value);
                    expired
                        .iter()
                        .map(|r| (true, inside(&own, r)))
                        .chain(in_pool.iter().map(|r| (false, inside(&own, r))))
                        .filter(|(_, hit)| *hit)
                        .map(|(is_expired, _)| is_expired)
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(hits, vec![other < now], "{other}");
        }
    }

    #[test]
    fn one_transaction_touches_each_bucket_once() {
        let org = Uuid::from_u128(1);
        let mut before = Contact::new("Ada".into(), datetime!(2026-01-01 0:00 UTC));
        before.kind = vec![Kind::Candidate];
        before.pool_expires_at = Some(datetime!(2027-03-04 05:06:07 UTC));
        let mut after = before.clone();
        after.pool_expires_at = Some(datetime!(2027-03-04 05:59:00 UTC));
        let items = changes(org, Some(&before), Some(&after));
        let updated: Vec<String> = items
            .iter()
            .filter_map(|write| match write {
                crate::table::txn::Write::Update(spec) => Some(spec.sk.clone()),
                _ => None,
            })
            .collect();
        // The same year, month, day and hour: their counts cancel, only the minutes move,
        // in the contact's shard of each bucket.
        let sharded = |bucket: &str| shard_sk(&pool_count_sk(bucket), before.id);
        assert_eq!(
            updated,
            vec![sharded("I#2027-03-04T05:06"), sharded("I#2027-03-04T05:59")]
        );
        let count =
            |kind: fn(&crate::table::txn::Write) -> bool| items.iter().filter(|w| kind(w)).count();
        assert_eq!(
            count(|w| matches!(w, crate::table::txn::Write::Put { .. })),
            1
        );
        assert_eq!(
            count(|w| matches!(w, crate::table::txn::Write::Delete { .. })),
            1
        );
        assert!(changes(org, Some(&before), Some(&before)).is_empty());
    }
}
