//! Listing: one index or table query for the page, one counters read for the total.

use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use crate::domain::flows::DossierType;
use crate::table::keys::org_pk;
use crate::table::query::{Query, SortKey};
use crate::table::store::Db;
use crate::ApiError;

use super::{access, dossier_sk, Access, Dossier, Status, DOSSIER_PREFIX};

pub struct Filter {
    pub kind: Option<DossierType>,
    pub status: Option<Status>,
    pub stage: Option<Uuid>,
}

pub struct Listing {
    pub items: Vec<Dossier>,
    pub total: u64,
    pub next_cursor: Option<Uuid>,
    /// Read capacity units the listing consumed, as DynamoDB reports them.
    pub read_capacity: f64,
}

/// One page of dossiers, newest first, and the exact total from the counters. Page 1 and
/// every cursor page read only the items they return (plus one, to know if more follow).
pub async fn list(
    db: &Db,
    org: Uuid,
    filter: &Filter,
    position: &crate::domain::pagination::Position,
) -> Result<Listing, ApiError> {
    let access = access(org, filter.kind, filter.status, filter.stage);
    let (skip, per_page, after) = position.bounds();
    let (counters, page) = tokio::join!(
        read_counters(db, org, &access),
        query_page(db, &access, skip, per_page + 1, after)
    );
    let (mut total, stage_kind, counter_capacity) = counters?;
    let (mut items, query_capacity) = page?;
    // A stage holds dossiers of one type only: a mismatched `type` filter matches none. (A
    // stage whose counters do not know the type yet, or have no dossier, is left alone:
    // the page holds only dossiers of the filtered type either way.)
    let mismatched = stage_kind.is_some_and(|kind| Some(kind) != filter.kind);
    if filter.stage.is_some() && filter.kind.is_some() && mismatched {
        total = 0;
        items.clear();
    }
    let next_cursor = (items.len() > per_page).then(|| items[per_page - 1].id);
    items.truncate(per_page);
    let read_capacity = counter_capacity + query_capacity;
    tracing::debug!(read_capacity, "dossier listing");
    Ok(Listing {
        items,
        total,
        next_cursor,
        read_capacity,
    })
}

/// The total of `access`'s counter, summed over its counters' shards (one Query), and, for
/// a stage's counters, the type of the stage's dossiers.
async fn read_counters(
    db: &Db,
    org: Uuid,
    access: &Access,
) -> Result<(u64, Option<DossierType>, f64), ApiError> {
    let (first, last) = crate::table::keys::shards_range(&access.counters);
    let mut pages = db.pages(Query::table(&org_pk(org)).sort(SortKey::Between(first, last)));
    let (mut total, mut kind) = (0i64, None);
    while let Some(items) = pages.next(None).await? {
        for item in items {
            total += crate::table::store::counter(&item, &access.counter);
            if let Some(AttributeValue::S(t)) = item.get("type") {
                kind = kind.or(DossierType::parse(t));
            }
        }
    }
    Ok((total.max(0) as u64, kind, pages.capacity))
}

async fn query_page(
    db: &Db,
    access: &Access,
    skip: usize,
    want: usize,
    after: Option<Uuid>,
) -> Result<(Vec<Dossier>, f64), ApiError> {
    let query = match (access.index, after) {
        (Some(index), None) => Query::index(index, &access.pk),
        (Some(index), Some(after)) => {
            Query::index(index, &access.pk).sort(SortKey::Below(after.to_string()))
        }
        (None, None) => Query::table(&access.pk).sort(SortKey::BeginsWith(DOSSIER_PREFIX.into())),
        (None, Some(after)) => Query::table(&access.pk)
            .sort(SortKey::Between(DOSSIER_PREFIX.into(), dossier_sk(after))),
    };
    // Eventually consistent like the filtered listings on the indexes: half the read cost,
    // and at worst a dossier written in the last second is missing from the page.
    let mut pages = db.pages(query.newest_first().eventually_consistent());
    let mut found: Vec<Dossier> = Vec::new();
    let mut to_skip = skip;
    while let Some(page) = pages.next(Some(to_skip + want - found.len() + 1)).await? {
        for item in page {
            let dossier: Dossier = crate::table::store::from_item(item)?;
            if Some(dossier.id) == after {
                continue;
            }
            if to_skip > 0 {
                to_skip -= 1;
                continue;
            }
            found.push(dossier);
            if found.len() >= want {
                return Ok((found, pages.capacity));
            }
        }
    }
    Ok((found, pages.capacity))
}
