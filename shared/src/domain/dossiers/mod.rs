//! Dossiers: the single-table items and their exact per-filter counters ([`self`]), the
//! create saga ([`create`]), patch and archive ([`update`]) and listing ([`list`]). Every
//! write keeps dossier, counters, contact, link and domain events in one transaction.

mod create;
#[cfg(feature = "s3")]
mod cv;
mod list;
mod update;

pub use create::{commit, create, prepare, CreateDossier, Prepared};
#[cfg(feature = "s3")]
pub use cv::{complete_upload, create_with_cv, replace_cv};
pub use list::{list, Filter, Listing};
pub use update::{archive, attach_cv, check_immutable, detach_cv, patch, PatchDossier};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::flows::DossierType;
use crate::domain::orgs::{self};
use crate::table::keys::org_pk;
use crate::table::keys::{
    dossiers_in_stage_and_status_pk, dossiers_in_stage_pk, dossiers_in_status_pk,
    dossiers_of_type_in_status_pk, dossiers_of_type_pk, Index, DOSSIERS_BY_STAGE,
    DOSSIERS_BY_STAGE_AND_STATUS, DOSSIERS_BY_STATUS, DOSSIERS_BY_TYPE,
    DOSSIERS_BY_TYPE_AND_STATUS,
};
use crate::table::store::{n, s, to_item, Db, Item};
use crate::table::txn::{self, UpdateSpec};
use crate::ApiError;

crate::wire_enum! {
    pub enum Status {
        Active = "active",
        Won = "won",
        Lost = "lost",
        Archived = "archived",
    }
}

/// A dossier exactly as the API returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dossier {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: DossierType,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub role: Option<String>,
    pub contact_person: Option<String>,
    pub deal_size: Option<serde_json::Number>,
    pub deal_currency: Option<String>,
    pub status: Status,
    pub flow_id: Uuid,
    pub current_stage_id: Uuid,
    pub assigned_to: Option<Uuid>,
    pub intake_notes: Option<String>,
    pub cv_url: Option<String>,
    pub primary_contact_id: Option<Uuid>,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Bumped by every write; the concurrency guard of read-modify-write cycles.
    #[serde(skip_serializing, default)]
    pub version: u64,
}

pub use crate::table::keys::{dossier_sk, DOSSIER_PREFIX};
use crate::table::keys::{shard_sk, stage_counters_base, DOSSIER_COUNTERS_SK};

/// The index, partition key and counter that serve one combination of list filters. The
/// counter is an attribute of the split counters at `counters` (the dossier counters, or a
/// stage's).
struct Access {
    index: Option<Index>,
    pk: String,
    counters: String,
    counter: String,
}

fn access(
    org: Uuid,
    kind: Option<DossierType>,
    status: Option<Status>,
    stage: Option<Uuid>,
) -> Access {
    let (index, pk, counter) = match (kind, status, stage) {
        (_, None, Some(st)) => (
            Some(DOSSIERS_BY_STAGE),
            dossiers_in_stage_pk(org, st),
            "st".to_string(),
        ),
        (_, Some(s), Some(st)) => (
            Some(DOSSIERS_BY_STAGE_AND_STATUS),
            dossiers_in_stage_and_status_pk(org, st, s.as_str()),
            format!("sts_{}", s.as_str()),
        ),
        (Some(t), None, None) => (
            Some(DOSSIERS_BY_TYPE),
            dossiers_of_type_pk(org, t.as_str()),
            format!("t_{}", t.as_str()),
        ),
        (None, Some(s), None) => (
            Some(DOSSIERS_BY_STATUS),
            dossiers_in_status_pk(org, s.as_str()),
            format!("s_{}", s.as_str()),
        ),
        (Some(t), Some(s), None) => (
            Some(DOSSIERS_BY_TYPE_AND_STATUS),
            dossiers_of_type_in_status_pk(org, t.as_str(), s.as_str()),
            format!("ts_{}_{}", t.as_str(), s.as_str()),
        ),
        (None, None, None) => (None, org_pk(org), "all".to_string()),
    };
    let counters = match stage {
        Some(stage) => stage_counters_base(stage),
        None => DOSSIER_COUNTERS_SK.to_string(),
    };
    Access {
        index,
        pk,
        counters,
        counter,
    }
}

impl Dossier {
    /// The stored item: the dossier, its version, and one index entry per filter combination.
    pub fn item(&self, org: Uuid) -> Result<Item, ApiError> {
        let mut item = to_item(self, &org_pk(org), &dossier_sk(self.id), "dossier")?;
        item.insert("version".into(), n(self.version));
        let (t, st, stage) = (
            Some(self.kind),
            Some(self.status),
            Some(self.current_stage_id),
        );
        for filters in [
            (t, None, None),
            (None, st, None),
            (t, st, None),
            (None, None, stage),
            (None, st, stage),
        ] {
            let access = access(org, filters.0, filters.1, filters.2);
            if let Some(index) = access.index {
                item.insert(index.pk.into(), s(access.pk));
                item.insert(index.sk.into(), s(self.id.to_string()));
            }
        }
        Ok(item)
    }

    /// Every counter this dossier adds one to: the counters item (its shard) and attribute.
    fn counters(&self, org: Uuid) -> Vec<(String, String)> {
        let (t, st, stage) = (
            Some(self.kind),
            Some(self.status),
            Some(self.current_stage_id),
        );
        [
            (None, None, None),
            (t, None, None),
            (None, st, None),
            (t, st, None),
            (None, None, stage),
            (None, st, stage),
        ]
        .into_iter()
        .map(|(a, b, c)| {
            let access = access(org, a, b, c);
            (shard_sk(&access.counters, self.id), access.counter)
        })
        .collect()
    }

    /// The fields a client can see, without the bookkeeping: equal when nothing changed.
    fn same_content(&self, other: &Dossier) -> bool {
        let mut a = self.clone();
        a.updated_at = other.updated_at;
        a.version = other.version;
        a == *other
    }
}

/// The counters updates that move `old` to `new` (either may be absent): one per counters
/// item whose counts change, at most three (the dossier counters' shard, the old stage's
/// and the new stage's).
fn counters_update(
    org: Uuid,
    old: Option<&Dossier>,
    new: Option<&Dossier>,
) -> Vec<crate::table::txn::Write> {
    let mut delta: BTreeMap<(String, String), i64> = BTreeMap::new();
    for counter in old.map(|d| d.counters(org)).unwrap_or_default() {
        *delta.entry(counter).or_default() -= 1;
    }
    for counter in new.map(|d| d.counters(org)).unwrap_or_default() {
        *delta.entry(counter).or_default() += 1;
    }
    delta.retain(|_, v| *v != 0);
    let mut by_item: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for ((sk, name), value) in delta {
        by_item.entry(sk).or_default().push((name, value));
    }
    by_item
        .into_iter()
        .map(|(sk, adds)| {
            let mut names = Vec::new();
            let mut values = Vec::new();
            let mut terms = Vec::new();
            for (i, (name, value)) in adds.into_iter().enumerate() {
                terms.push(format!("#c{i} :c{i}"));
                names.push((format!("#c{i}"), name));
                values.push((format!(":c{i}"), n(value)));
            }
            let mut expression = format!("ADD {}", terms.join(", "));
            // A stage's counters remember its dossiers' type, so that a `stage_id` + `type`
            // filter is answered from them alone.
            if let Some(new) =
                new.filter(|d| sk.starts_with(&stage_counters_base(d.current_stage_id)))
            {
                expression.push_str(" SET #type = :type");
                names.push(("#type".into(), "type".into()));
                values.push((":type".into(), s(new.kind.as_str())));
            }
            txn::update(UpdateSpec {
                pk: org_pk(org),
                sk,
                expression,
                condition: None,
                names,
                values,
            })
        })
        .collect()
}

/// Sets the organization's stage counters to what a full pass over its dossiers counts
/// (in shard 0, the other shards emptied), and removes the per-stage attributes the
/// dossier counters kept before stages had counters of their own; returns how many
/// dossiers it counted. The dossier counters' totals are left as they are: they were and
/// stay right. A dossier written during the pass can leave its change out of a stage's
/// count, so run it while dossiers are not being written.
pub async fn recount(db: &Db, org: Uuid) -> Result<u64, ApiError> {
    use crate::table::keys::{COUNTER_SHARDS, STAGE_COUNTERS_PREFIX};
    use crate::table::query::{Query, SortKey};
    let pk = org_pk(org);
    let dossiers: Vec<Dossier> = db.query_prefix(&pk, DOSSIER_PREFIX).await?;
    let mut items: BTreeMap<String, Item> = BTreeMap::new();
    let stages = Query::table(&pk).sort(SortKey::BeginsWith(STAGE_COUNTERS_PREFIX.into()));
    let mut pages = db.pages(stages);
    while let Some(found) = pages.next(None).await? {
        for item in found {
            if let Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) = item.get("SK") {
                items.insert(sk.clone(), crate::table::store::key(&pk, sk));
            }
        }
    }
    for dossier in &dossiers {
        let base = stage_counters_base(dossier.current_stage_id);
        for shard in 0..COUNTER_SHARDS {
            let sk = shard_sk(&base, Uuid::from_u128(shard));
            items
                .entry(sk.clone())
                .or_insert_with(|| crate::table::store::key(&pk, &sk));
        }
        let item = items.get_mut(&base).expect("shard 0 was just made");
        for (sk, name) in dossier.counters(org) {
            if sk.starts_with(&base) {
                let count = crate::table::store::counter(item, &name) + 1;
                item.insert(name, n(count));
            }
        }
        item.insert("type".into(), s(dossier.kind.as_str()));
    }
    db.put_all(items.into_values().collect()).await?;
    // Shard 0 of the dossier counters is the item that used to hold every stage's counts.
    if let Some(legacy) = db.get_item(&pk, DOSSIER_COUNTERS_SK).await? {
        let stale: Vec<&String> = legacy
            .keys()
            .filter(|name| ["st_", "sts_", "stt_"].iter().any(|p| name.starts_with(p)))
            .collect();
        for names in stale.chunks(50) {
            let placeholders: Vec<(String, String)> = names
                .iter()
                .enumerate()
                .map(|(i, name)| (format!("#r{i}"), name.to_string()))
                .collect();
            let text = format!(
                "REMOVE {}",
                placeholders
                    .iter()
                    .map(|(p, _)| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let names: Vec<(&str, &str)> = placeholders
                .iter()
                .map(|(p, n)| (p.as_str(), n.as_str()))
                .collect();
            let remove = crate::table::store::Expression {
                text: &text,
                names: &names,
                values: Vec::new(),
            };
            let _ = db
                .update_if(&pk, DOSSIER_COUNTERS_SK, &remove, None)
                .await?;
        }
    }
    Ok(dossiers.len() as u64)
}

fn sales_only(kind: DossierType, fields: &[(&str, bool)]) -> Result<(), ApiError> {
    if kind == DossierType::Candidate {
        if let Some((name, _)) = fields.iter().find(|(_, present)| *present) {
            return Err(ApiError::field(*name, "applies to sales dossiers only."));
        }
    }
    Ok(())
}

async fn require_member(db: &Db, org: Uuid, user: Option<Uuid>) -> Result<(), ApiError> {
    if let Some(user) = user {
        if orgs::get_member(db, org, user).await?.is_none() {
            return Err(ApiError::field(
                "assigned_to",
                "must be the id of a member of your organization.",
            ));
        }
    }
    Ok(())
}

pub async fn get(db: &Db, org: Uuid, id: Uuid) -> Result<Option<Dossier>, ApiError> {
    db.get(&org_pk(org), &dossier_sk(id)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;
    use crate::ids::new_id;

    fn dossier(kind: DossierType, status: Status, stage: Uuid) -> Dossier {
        let now = clock::now();
        Dossier {
            id: new_id(),
            kind,
            name: "n".into(),
            email: None,
            phone: None,
            company: None,
            role: None,
            contact_person: None,
            deal_size: None,
            deal_currency: None,
            status,
            flow_id: new_id(),
            current_stage_id: stage,
            assigned_to: None,
            intake_notes: None,
            cv_url: None,
            primary_contact_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn each_dossier_counts_once_per_filter_combination() {
        let org = new_id();
        let stage = new_id();
        let d = dossier(DossierType::Sales, Status::Active, stage);
        let counters = d.counters(org);
        assert_eq!(counters.len(), 6);
        let main = crate::table::keys::dossier_counters_sk(d.id);
        let in_stage = crate::table::keys::stage_counters_sk(stage, d.id);
        assert!(counters.contains(&(main.clone(), "all".to_string())));
        assert!(counters.contains(&(main, "ts_sales_active".to_string())));
        assert!(counters.contains(&(in_stage, "sts_active".to_string())));
    }

    /// DynamoDB cancels transactions that overlap on an item rather than queuing them: one
    /// counters item per organization let one of its concurrent creates through at a time.
    /// Creates of different dossiers add to different items, 8 of them, evenly.
    /// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html>
    #[test]
    fn creates_spread_over_the_counters_shards() {
        let (org, stage) = (new_id(), new_id());
        let mut per_item: BTreeMap<String, usize> = BTreeMap::new();
        for _ in 0..800 {
            let d = dossier(DossierType::Sales, Status::Active, stage);
            for write in counters_update(org, None, Some(&d)) {
                let crate::table::txn::Write::Update(update) = write else {
                    panic!("counters change by updates: {write:?}");
                };
                *per_item.entry(update.sk).or_default() += 1;
            }
        }
        let main = per_item
            .keys()
            .filter(|k| k.starts_with("COUNTERS#DOSSIERS"))
            .count();
        assert_eq!(main, 8);
        assert_eq!(
            per_item.len(),
            16,
            "8 of the dossier counters, 8 of the stage's"
        );
        assert!(
            per_item.values().all(|n| (60..=140).contains(n)),
            "{per_item:?}"
        );
    }

    #[test]
    fn unchanged_counters_are_not_written() {
        let org = new_id();
        let stage = new_id();
        let a = dossier(DossierType::Sales, Status::Active, stage);
        let mut b = a.clone();
        b.name = "other".into();
        assert!(counters_update(org, Some(&a), Some(&b)).is_empty());
        b.status = Status::Won;
        assert_eq!(counters_update(org, Some(&a), Some(&b)).len(), 2);
        b.current_stage_id = new_id();
        assert_eq!(counters_update(org, Some(&a), Some(&b)).len(), 3);
    }

    #[test]
    fn content_comparison_ignores_bookkeeping() {
        let a = dossier(DossierType::Candidate, Status::Active, new_id());
        let mut b = a.clone();
        b.version += 1;
        b.updated_at += time::Duration::seconds(5);
        assert!(b.same_content(&a));
        b.name = "x".into();
        assert!(!b.same_content(&a));
    }
}
