//! Contacts: the item, its kinds and talent-pool window, its per-organization email
//! uniqueness marker and its dossier links ([`self`]); create and update ([`write`]);
//! listing by kind, pool and search ([`list`]) from the pool entries and counters
//! ([`pool`]) and the search entries ([`search`]).

mod list;
pub mod pool;
pub mod search;
mod write;

pub use list::{by_ids, list, ContactFilter, Listing, Pool};
pub use write::{
    claiming_email, create, creation, pool_days, update, ContactChange, ContactInput, Refusal,
};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::table::keys::org_pk;
use crate::table::keys::{contacts_of_kind_pk, Index, CONTACTS_BY_KIND, LINKS_BY_CONTACT};
use crate::table::store::{s, to_item, Db, Item};
use crate::table::txn::{self, Transaction};
use crate::ApiError;

crate::wire_enum! {
    pub enum Kind {
        Candidate = "candidate",
        Prospect = "prospect",
        Client = "client",
        Supplier = "supplier",
        Partner = "partner",
    }
}

impl Kind {
    fn position(self) -> usize {
        Kind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or_default()
    }

    /// Each kind has its own index, so one contact can be on all five lists.
    fn index(self) -> Index {
        CONTACTS_BY_KIND[self.position()]
    }

    fn bit(self) -> u8 {
        1 << self.position()
    }
}

fn kind_list_pk(org: Uuid, kind: Kind) -> String {
    contacts_of_kind_pk(org, kind.as_str())
}

/// The item holding, per combination of kinds (a bit mask), how many contacts have
/// exactly that combination; totals for any `kind` filter are sums of these.
pub use crate::table::keys::CONTACT_COUNTERS_SK as COUNTERS_SK;

fn kinds_mask(kinds: &[Kind]) -> u8 {
    kinds.iter().fold(0, |mask, kind| mask | kind.bit())
}

fn mask_counter(mask: u8) -> String {
    format!("kinds_{mask}")
}

crate::wire_enum! {
    pub enum LinkRole {
        Primary = "primary",
        HiringManager = "hiring_manager",
        DecisionMaker = "decision_maker",
        Champion = "champion",
        Gatekeeper = "gatekeeper",
        Introducer = "introducer",
        Other = "other",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: Uuid,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub linkedin_url: Option<String>,
    pub company: Option<String>,
    pub role: Option<String>,
    pub city: Option<String>,
    pub kind: Vec<Kind>,
    pub notes: Option<String>,
    #[serde(with = "crate::clock::rfc3339::option")]
    pub pool_expires_at: Option<OffsetDateTime>,
    pub dossier_count: u64,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(skip_serializing)]
    #[serde(default)]
    pub version: u64,
    /// Set while a deletion with too many links for one transaction is cleaned up: the
    /// contact is already invisible.
    #[serde(skip_serializing)]
    #[serde(default)]
    pub deleting: bool,
    /// Its `contact.deleted` was written when it was hidden (contacts hidden by an earlier
    /// version were not: theirs comes with their removal).
    #[serde(skip_serializing)]
    #[serde(default)]
    pub deletion_announced: bool,
}

pub use crate::table::keys::{contact_sk, email_sk, link_prefix, link_sk, CONTACT_PREFIX};

impl Contact {
    /// A contact not yet written: a new id, no kinds, no links, version 0.
    pub fn new(full_name: String, now: OffsetDateTime) -> Self {
        Self {
            id: crate::ids::new_id(),
            full_name,
            email: None,
            phone: None,
            linkedin_url: None,
            company: None,
            role: None,
            city: None,
            kind: Vec::new(),
            notes: None,
            pool_expires_at: None,
            dossier_count: 0,
            created_at: now,
            updated_at: now,
            version: 0,
            deleting: false,
            deletion_announced: false,
        }
    }

    /// The stored item; `version` and `deleting` are written explicitly since the API
    /// never shows them. The index keys put the contact on its kinds' lists; a contact
    /// being deleted is on none.
    pub fn item(&self, org: Uuid) -> Result<Item, ApiError> {
        let mut item = to_item(self, &org_pk(org), &contact_sk(self.id), "contact")?;
        item.insert("version".into(), crate::table::store::n(self.version));
        if self.deleting {
            item.insert("deleting".into(), AttributeValue::Bool(true));
            let announced = AttributeValue::Bool(self.deletion_announced);
            item.insert("deletion_announced".into(), announced);
        } else {
            for kind in &self.kind {
                item.insert(kind.index().pk.into(), s(kind_list_pk(org, *kind)));
                item.insert(kind.index().sk.into(), s(self.id.to_string()));
            }
        }
        Ok(item)
    }

    /// The contact becomes the person of a new dossier of `kind`: it gains that kind if
    /// missing, and a candidate's talent-pool window runs a full `pool_days` from now (a
    /// later expiry is kept), since a new application is fresh interest.
    pub fn join_dossier(&mut self, kind: Kind, now: OffsetDateTime, pool_days: u32) {
        if !self.kind.contains(&kind) {
            self.kind.push(kind);
        }
        if kind == Kind::Candidate {
            let fresh = now + time::Duration::days(pool_days as i64);
            self.pool_expires_at = Some(self.pool_expires_at.map_or(fresh, |at| at.max(fresh)));
        }
    }
}

/// The marker that makes an email unique within an organization.
pub fn email_marker(org: Uuid, email: &str, contact: Uuid) -> Item {
    let mut item = crate::table::store::key(&org_pk(org), &email_sk(email));
    item.insert("entity".into(), s("contact_email"));
    item.insert("contact_id".into(), s(contact.to_string()));
    item
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Link {
    pub dossier_id: Uuid,
    pub contact_id: Uuid,
    pub role_on_dossier: LinkRole,
    pub is_primary: bool,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Link {
    /// Links are listed per dossier on the table and per contact on GSI1.
    pub fn item(&self, org: Uuid) -> Result<Item, ApiError> {
        let mut item = to_item(
            self,
            &org_pk(org),
            &link_sk(self.dossier_id, self.contact_id),
            "link",
        )?;
        item.insert(
            LINKS_BY_CONTACT.pk.into(),
            s(crate::table::keys::links_of_contact_pk(
                org,
                self.contact_id,
            )),
        );
        item.insert(LINKS_BY_CONTACT.sk.into(), s(self.dossier_id.to_string()));
        Ok(item)
    }
}

pub async fn get(db: &Db, org: Uuid, id: Uuid) -> Result<Option<Contact>, ApiError> {
    Ok(get_any(db, org, id).await?.filter(|c| !c.deleting))
}

/// Also a contact whose deletion is under way.
pub async fn get_any(db: &Db, org: Uuid, id: Uuid) -> Result<Option<Contact>, ApiError> {
    db.get(&org_pk(org), &contact_sk(id)).await
}

/// Makes a contact invisible before its links are cleaned up in batches: off every list
/// and out of the totals, in one transaction, with its `contact.deleted` (the moment it
/// leaves the API is the moment receivers hear of it). If the contact changed since
/// `contact` was read nothing is written; the caller reads it again either way.
pub async fn hide(
    db: &Db,
    org: Uuid,
    contact: &Contact,
    now: time::OffsetDateTime,
) -> Result<(), ApiError> {
    let mut hidden = contact.clone();
    hidden.deleting = true;
    hidden.deletion_announced = true;
    hidden.version += 1;
    let mut transaction: Transaction = Transaction::new();
    transaction.push(txn::put_versioned(hidden.item(org)?, contact.version));
    let deleted = crate::domain::outbox::outbox_item(
        org,
        crate::domain::outbox::EventType::ContactDeleted,
        contact,
        now,
    )?;
    transaction.push(txn::put(deleted, None));
    transaction.extend(index_writes(org, Some(contact), None)?);
    let _changed_meanwhile = txn::commit(db, &transaction).await?;
    Ok(())
}

/// What must change with a contact going from `before` to `after` (`None` for absent or
/// being deleted), in the same transaction: its per-kinds counter, its search entries,
/// its pool entries and pool counters.
pub fn index_writes(
    org: Uuid,
    before: Option<&Contact>,
    after: Option<&Contact>,
) -> Result<Vec<txn::Write>, ApiError> {
    let mut items: Vec<_> = count_change(org, before, after).into_iter().collect();
    items.extend(search::entry_changes(org, before, after)?);
    items.extend(pool::changes(org, before, after));
    Ok(items)
}

/// Writes again, for one contact as read, what its transactions write for the indexes:
/// the contact item (its kind index keys), every search entry and every pool entry, on
/// condition that the contact is unchanged. Returns `false` when it changed meanwhile, in
/// which case the change has written its own indexes. Writing the same entries twice
/// changes nothing, so running it again is safe; the counters are rebuilt by [`recount`].
pub async fn reindex(db: &Db, org: Uuid, contact: &Contact) -> Result<bool, ApiError> {
    if contact.deleting {
        return Ok(true);
    }
    let mut transaction: Transaction = Transaction::new();
    transaction.push(txn::put_versioned(contact.item(org)?, contact.version));
    transaction.extend(search::entry_changes(org, None, Some(contact))?);
    transaction.extend(pool::entries(org, contact));
    Ok(txn::commit(db, &transaction).await?.is_ok())
}

/// Keeps the per-kinds totals exact, in the counters' shard the contact's id picks.
fn count_change(
    org: Uuid,
    before: Option<&Contact>,
    after: Option<&Contact>,
) -> Option<txn::Write> {
    let id = before.or(after)?.id;
    let mask = |c: Option<&Contact>| c.filter(|c| !c.deleting).map(|c| kinds_mask(&c.kind));
    let (before, after) = (mask(before), mask(after));
    if before == after {
        return None;
    }
    let mut changes = Vec::new();
    let mut values = Vec::new();
    if let Some(mask) = before {
        changes.push(format!("{} :minus", mask_counter(mask)));
        values.push((":minus".to_string(), crate::table::store::n(-1)));
    }
    if let Some(mask) = after {
        changes.push(format!("{} :plus", mask_counter(mask)));
        values.push((":plus".to_string(), crate::table::store::n(1)));
    }
    Some(txn::update(txn::UpdateSpec {
        pk: org_pk(org),
        sk: crate::table::keys::contact_counters_sk(id),
        expression: format!("ADD {}", changes.join(", ")),
        condition: None,
        names: Vec::new(),
        values,
    }))
}

/// Sets the per-kinds totals and the pool counters to what a full, consistent pass over
/// the organization's contacts counts, and returns how many contacts it counted. For
/// contacts written before the counters existed; a contact written during the pass can
/// leave its own change out, so run it while contacts are not being written.
pub async fn recount(db: &Db, org: Uuid) -> Result<u64, ApiError> {
    let contacts: Vec<Contact> = db.query_prefix(&org_pk(org), CONTACT_PREFIX).await?;
    pool::recount(db, org, &contacts).await?;
    let mut counts = [0i64; 32];
    let mut visible = 0;
    for contact in contacts.iter().filter(|c| !c.deleting) {
        counts[kinds_mask(&contact.kind) as usize] += 1;
        visible += 1;
    }
    // The counts go to shard 0; the other shards start again from nothing.
    for shard in 1..crate::table::keys::COUNTER_SHARDS {
        let sk = crate::table::keys::shard_sk(COUNTERS_SK, Uuid::from_u128(shard));
        db.put_item(crate::table::store::key(&org_pk(org), &sk))
            .await?;
    }
    let mut item = crate::table::store::key(&org_pk(org), COUNTERS_SK);
    for (mask, count) in counts.iter().enumerate() {
        item.insert(mask_counter(mask as u8), crate::table::store::n(*count));
    }
    db.put_item(item).await?;
    Ok(visible)
}

/// The contact that holds `email` in the organization, if any.
pub async fn find_by_email(db: &Db, org: Uuid, email: &str) -> Result<Option<Contact>, ApiError> {
    match marker_owner(db, org, email).await? {
        Some(owner) => get(db, org, owner).await,
        None => Ok(None),
    }
}

/// The contact whose email marker holds `email`, if any.
async fn marker_owner(db: &Db, org: Uuid, email: &str) -> Result<Option<Uuid>, ApiError> {
    #[derive(Deserialize)]
    struct Marker {
        contact_id: Uuid,
    }
    Ok(db
        .get::<Marker>(&org_pk(org), &email_sk(email))
        .await?
        .map(|m| m.contact_id))
}
