//! Dossiers: the single-table items and their exact per-filter counters ([`self`]), the
//! create saga ([`create`]), patch and archive ([`update`]) and listing ([`list`]). Every
//! write keeps dossier, counters, contact, link and domain events in one transaction.

mod create;
mod list;
mod update;

pub use create::{commit, create, prepare, CreateDossier, Prepared};
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

use crate::table::keys::DOSSIER_COUNTERS_SK as COUNTERS_SK;
pub use crate::table::keys::{dossier_sk, DOSSIER_PREFIX};

/// The index, partition key and counter that serve one combination of list filters.
struct Access {
    index: Option<Index>,
    pk: String,
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
            format!("st_{st}"),
        ),
        (_, Some(s), Some(st)) => (
            Some(DOSSIERS_BY_STAGE_AND_STATUS),
            dossiers_in_stage_and_status_pk(org, st, s.as_str()),
            format!("sts_{st}_{}", s.as_str()),
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
    Access { index, pk, counter }
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

    /// Every counter this dossier adds one to.
    fn counters(&self, org: Uuid) -> Vec<String> {
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
        .map(|(a, b, c)| access(org, a, b, c).counter)
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

/// The counters update that moves `old` to `new` (either may be absent).
fn counters_update(
    db: &Db,
    org: Uuid,
    old: Option<&Dossier>,
    new: Option<&Dossier>,
) -> Option<aws_sdk_dynamodb::types::TransactWriteItem> {
    let mut delta: BTreeMap<String, i64> = BTreeMap::new();
    for name in old.map(|d| d.counters(org)).unwrap_or_default() {
        *delta.entry(name).or_default() -= 1;
    }
    for name in new.map(|d| d.counters(org)).unwrap_or_default() {
        *delta.entry(name).or_default() += 1;
    }
    delta.retain(|_, v| *v != 0);
    if delta.is_empty() {
        return None;
    }
    let mut names = Vec::new();
    let mut values = Vec::new();
    let mut adds = Vec::new();
    for (i, (name, value)) in delta.into_iter().enumerate() {
        adds.push(format!("#c{i} :c{i}"));
        names.push((format!("#c{i}"), name));
        values.push((format!(":c{i}"), n(value)));
    }
    let mut expression = format!("ADD {}", adds.join(", "));
    if let Some(new) = new {
        // Remembered so a `stage_id` + `type` filter can be answered from the counters alone.
        expression.push_str(" SET #stage_type = :stage_type");
        names.push((
            "#stage_type".into(),
            format!("stt_{}", new.current_stage_id),
        ));
        values.push((":stage_type".into(), s(new.kind.as_str())));
    }
    Some(txn::update(
        db,
        UpdateSpec {
            pk: org_pk(org),
            sk: COUNTERS_SK.into(),
            expression,
            condition: None,
            names,
            values,
        },
    ))
}

fn deal_size(value: &serde_json::Number) -> Result<serde_json::Number, ApiError> {
    crate::domain::validate::amount("deal_size", value, 1e15)
}

fn sales_only(kind: DossierType, fields: &[(&str, bool)]) -> Result<(), ApiError> {
    if kind == DossierType::Candidate {
        if let Some((name, _)) = fields.iter().find(|(_, present)| *present) {
            return Err(ApiError::invalid(format!(
                "Field `{name}` applies to sales dossiers only."
            )));
        }
    }
    Ok(())
}

async fn require_member(db: &Db, org: Uuid, user: Option<Uuid>) -> Result<(), ApiError> {
    if let Some(user) = user {
        if orgs::get_member(db, org, user).await?.is_none() {
            return Err(ApiError::invalid(
                "Field `assigned_to` must be the id of a member of your organization.",
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
        assert!(counters.contains(&"all".to_string()));
        assert!(counters.contains(&"ts_sales_active".to_string()));
        assert!(counters.contains(&format!("sts_{stage}_active")));
    }

    #[test]
    fn unchanged_counters_are_not_written() {
        let org = new_id();
        let stage = new_id();
        let a = dossier(DossierType::Sales, Status::Active, stage);
        let mut b = a.clone();
        b.name = "other".into();
        let db = Db::offline();
        assert!(counters_update(&db, org, Some(&a), Some(&b)).is_none());
        b.status = Status::Won;
        assert!(counters_update(&db, org, Some(&a), Some(&b)).is_some());
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
