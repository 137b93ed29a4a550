//! Dossier–contact links: listing a dossier's contacts, linking with a role and a primary
//! flag (one primary per dossier, kept on the dossier as `primary_contact_id`), unlinking,
//! and the cascade when a contact is deleted.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::Id;

use crate::domain::contacts::{
    self, contact_sk, email_sk, link_prefix, link_sk, Contact, Link, LinkRole,
};
use crate::domain::dossiers::{self, dossier_sk, Dossier};
use crate::domain::outbox::{outbox_item, EventType};
use crate::table::keys::org_pk;
use crate::table::keys::{links_of_contact_pk, LINKS_BY_CONTACT};
use crate::table::store::Db;
use crate::table::txn::{self, Step, Transaction, UpdateSpec};
use crate::ApiError;

/// A linked contact as `GET /dossiers/{id}/contacts` shows it.
#[derive(Debug, Serialize)]
pub struct LinkedContact {
    pub contact_id: Uuid,
    pub full_name: String,
    pub email: Option<String>,
    pub company: Option<String>,
    pub role_on_dossier: LinkRole,
    pub is_primary: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    pub contact_id: Id,
    pub role_on_dossier: LinkRole,
    pub is_primary: Option<bool>,
}

impl NewLink {
    /// Whether the link is to be the primary. Role and flag never disagree: the role
    /// `primary` is the primary's, so it implies the flag. An omitted flag leaves an
    /// existing link as it is (`currently_primary`) and makes a new one a non-primary.
    fn primary(&self, currently_primary: bool) -> Result<bool, ApiError> {
        match (self.is_primary, self.role_on_dossier == LinkRole::Primary) {
            (Some(false), true) => Err(ApiError::field("is_primary", "cannot be false with `role_on_dossier` 'primary': that role is the primary contact's. Choose another role.")),
            (Some(flag), _) => Ok(flag),
            (None, true) => Ok(true),
            (None, false) => Ok(currently_primary),
        }
    }
}

async fn links_of(db: &Db, org: Uuid, dossier: Uuid) -> Result<Vec<Link>, ApiError> {
    db.query_prefix(&org_pk(org), &link_prefix(dossier)).await
}

/// The dossier's contacts, primary first, then in the order they were linked. Links to a
/// contact whose deletion is still being cleaned up are not shown.
pub async fn list(db: &Db, org: Uuid, dossier: Uuid) -> Result<Vec<LinkedContact>, ApiError> {
    dossiers::get(db, org, dossier)
        .await?
        .ok_or_else(ApiError::dossier_not_found)?;
    let mut links = links_of(db, org, dossier).await?;
    links.sort_by_key(|l| (!l.is_primary, l.created_at));
    let ids: Vec<Uuid> = links.iter().map(|l| l.contact_id).collect();
    let contacts = contacts::by_ids(db, org, &ids).await?;
    Ok(links
        .into_iter()
        .filter_map(|link| {
            let contact = contacts.get(&link.contact_id)?;
            Some(LinkedContact {
                contact_id: link.contact_id,
                full_name: contact.full_name.clone(),
                email: contact.email.clone(),
                company: contact.company.clone(),
                role_on_dossier: link.role_on_dossier,
                is_primary: link.is_primary,
            })
        })
        .collect())
}

/// The dossier with a new primary contact, written with a version check, and its event.
fn dossier_write(
    org: Uuid,
    current: &Dossier,
    primary: Option<Uuid>,
    items: &mut Transaction,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let mut next = current.clone();
    next.primary_contact_id = primary;
    if next.primary_contact_id == current.primary_contact_id {
        // Still serialise against other link changes on this dossier.
        items.push(txn::version_is(
            &org_pk(org),
            &dossier_sk(current.id),
            current.version,
        ));
        return Ok(());
    }
    next.updated_at = now;
    next.version = current.version + 1;
    items.push(txn::put_versioned(next.item(org)?, current.version));
    items.push(txn::put(
        outbox_item(org, EventType::DossierUpdated, &next, now)?,
        None,
    ));
    Ok(())
}

/// The contact, as read, with `delta` more dossiers, written under its version with its
/// `contact.updated`.
fn dossier_count_change(
    org: Uuid,
    read: &Contact,
    delta: i64,
    now: OffsetDateTime,
) -> Result<[txn::Write; 2], ApiError> {
    let mut counted = read.clone();
    counted.dossier_count = counted.dossier_count.saturating_add_signed(delta);
    counted.version += 1;
    counted.updated_at = now;
    Ok([
        txn::put_versioned(counted.item(org)?, read.version),
        txn::put(
            outbox_item(org, EventType::ContactUpdated, &counted, now)?,
            None,
        ),
    ])
}

/// The previous primary's link, no longer primary. Its role `primary` would now say
/// something false, so it becomes `other`; any other role stays.
fn demote(org: Uuid, link: &Link) -> txn::Write {
    let role = match link.role_on_dossier {
        LinkRole::Primary => LinkRole::Other,
        kept => kept,
    };
    txn::update(UpdateSpec {
        pk: org_pk(org),
        sk: link_sk(link.dossier_id, link.contact_id),
        expression: "SET is_primary = :no, role_on_dossier = :role".into(),
        condition: Some("attribute_exists(PK)".into()),
        names: Vec::new(),
        values: vec![
            (":no".into(), AttributeValue::Bool(false)),
            (":role".into(), crate::table::store::s(role.as_str())),
        ],
    })
}

/// Links (or re-links) a contact. Making it primary demotes the previous primary in the
/// same transaction, which is serialised on the dossier's version. Returns the link and
/// whether it is new.
pub async fn link(
    db: &Db,
    org: Uuid,
    dossier_id: Uuid,
    input: NewLink,
    now: OffsetDateTime,
) -> Result<(Link, bool), ApiError> {
    txn::until_written(db, "link", || async {
        // Read at once: the shorter a cycle, the fewer concurrent links to one dossier
        // (which each change its version) cancel each other.
        let contact_id = input.contact_id.uuid();
        let (pk, sk) = (org_pk(org), link_sk(dossier_id, contact_id));
        let (dossier, contact, existing) = tokio::join!(
            dossiers::get(db, org, dossier_id),
            contacts::get(db, org, contact_id),
            db.get::<Link>(&pk, &sk),
        );
        let dossier = dossier?.ok_or_else(ApiError::dossier_not_found)?;
        let contact = contact?.ok_or_else(|| {
            ApiError::field(
                "contact_id",
                "does not name a contact of your organization.",
            )
        })?;
        let existing = existing?;
        let is_primary =
            input.primary(existing.is_some() && dossier.primary_contact_id == Some(contact.id))?;
        let link = Link {
            dossier_id,
            contact_id: contact.id,
            role_on_dossier: input.role_on_dossier,
            is_primary,
            created_at: existing.as_ref().map(|l| l.created_at).unwrap_or(now),
        };
        let mut items = Transaction::new();
        match &existing {
            Some(_) => {
                items.push(txn::put(link.item(org)?, Some("attribute_exists(PK)")));
                items.push(txn::exists(&org_pk(org), &contact_sk(contact.id)));
            }
            None => {
                items.push(txn::put(link.item(org)?, Some("attribute_not_exists(PK)")));
                items.extend(dossier_count_change(org, &contact, 1, now)?);
            }
        }
        let primary = if is_primary {
            Some(contact.id)
        } else if dossier.primary_contact_id == Some(contact.id) {
            None
        } else {
            dossier.primary_contact_id
        };
        if let Some(previous) = dossier
            .primary_contact_id
            .filter(|p| is_primary && *p != contact.id)
        {
            let previous_link: Option<Link> =
                db.get(&org_pk(org), &link_sk(dossier_id, previous)).await?;
            if let Some(previous_link) = previous_link {
                items.push(demote(org, &previous_link));
            }
        }
        dossier_write(org, &dossier, primary, &mut items, now)?;
        Ok(Step::Write((link, existing.is_none()), items))
    })
    .await
}

pub async fn unlink(
    db: &Db,
    org: Uuid,
    dossier_id: Uuid,
    contact_id: Uuid,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    txn::until_written(db, "unlink", || async {
        let (pk, sk) = (org_pk(org), link_sk(dossier_id, contact_id));
        let (dossier, link, contact) = tokio::join!(
            dossiers::get(db, org, dossier_id),
            db.get::<Link>(&pk, &sk),
            contacts::get(db, org, contact_id),
        );
        let dossier = dossier?.ok_or_else(ApiError::dossier_not_found)?;
        link?.ok_or_else(|| ApiError::not_found("This contact is not linked to the dossier."))?;
        let mut items = Transaction::new();
        items.push(txn::delete(&pk, &sk, Some("attribute_exists(PK)")));
        // A contact being deleted is no longer counted or shown: only its link goes.
        if let Some(contact) = contact? {
            items.extend(dossier_count_change(org, &contact, -1, now)?);
        }
        let primary = dossier.primary_contact_id.filter(|p| *p != contact_id);
        dossier_write(org, &dossier, primary, &mut items, now)?;
        Ok(Step::Write((), items))
    })
    .await
}

/// How many links a contact deletion removes in its own transaction; beyond that the
/// contact is hidden first and its links are removed in batches of this size. A link can
/// take three of a transaction's 100 items (the link, its dossier and the dossier's event),
/// beside the contact, its `contact.deleted`, its marker, its counter, its search entries
/// and its pool items.
const LINKS_PER_TRANSACTION: usize = 20;
const _: () = assert!(
    4 + contacts::search::MAX_WORDS + contacts::pool::MOST_REMOVED + 3 * LINKS_PER_TRANSACTION
        <= 100
);

/// Deletes a contact, its email marker and every link to it; dossiers it was primary on
/// are left without a primary, as a `dossier.updated` with a new version and `updated_at`.
/// A retried DELETE of a contact being cleaned up finishes the job.
pub async fn delete_contact(
    db: &Db,
    org: Uuid,
    id: Uuid,
    precondition: &crate::table::txn::Precondition,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    txn::until_written(db, "contact delete", || async {
        let contact = contacts::get_any(db, org, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Contact not found."))?;
        // A deletion under way was already decided; a retry finishes it.
        if !contact.deleting {
            precondition.check(contact.version, "contact")?;
        }
        let links = links_of_contact(db, org, &contact).await?;
        if links.len() > LINKS_PER_TRANSACTION && !contact.deleting {
            // Too many links for one transaction: hide the contact at once, then clean
            // up from a fresh read.
            contacts::hide(db, org, &contact, now).await?;
            return Ok(Step::ReadAgain);
        }
        // The contact's own removal goes first: if it fails the contact changed, and the
        // whole deletion starts again from a fresh read.
        let mut removal = Transaction::new();
        removal.push(txn::delete_versioned(
            &org_pk(org),
            &contact_sk(id),
            contact.version,
        ));
        // A hidden contact's `contact.deleted` was written when it was hidden.
        if !contact.deletion_announced {
            let deleted = outbox_item(org, EventType::ContactDeleted, &contact, now)?;
            removal.push(txn::put(deleted, None));
        }
        if let Some(email) = &contact.email {
            removal.push(txn::delete(&org_pk(org), &email_sk(email), None));
        }
        removal.extend(contacts::index_writes(org, Some(&contact), None)?);
        if !contact.deleting {
            removal.append(unlink_items(db, org, id, &links, now).await?);
            return Ok(Step::Write((), removal));
        }
        for batch in links.chunks(LINKS_PER_TRANSACTION) {
            let batch = unlink_items(db, org, id, batch, now).await?;
            if txn::commit(db, &batch).await?.is_err() {
                return Ok(Step::ReadAgain);
            }
        }
        Ok(Step::Write((), removal))
    })
    .await
}

/// The contact's links, from [`LINKS_BY_CONTACT`]. The index may lag a link committed a moment ago, and
/// the contact's `dossier_count` (changed in the same transaction as every link) says how
/// many there are, so a short wait covers the lag instead of leaving a dangling link. A
/// hidden contact gains no links (hiding changed its version), and its count no longer
/// falls as its links are removed, so it is not waited on.
async fn links_of_contact(db: &Db, org: Uuid, contact: &Contact) -> Result<Vec<Link>, ApiError> {
    let partition = links_of_contact_pk(org, contact.id);
    let mut retry = txn::Retry::default();
    while retry.next().await {
        let links: Vec<Link> = db.query_index(LINKS_BY_CONTACT, &partition).await?;
        if contact.deleting || links.len() as u64 >= contact.dossier_count {
            return Ok(links);
        }
    }
    Err(ApiError::internal("contact links index kept lagging"))
}

/// Removes links to a deleted contact. A dossier it is primary on loses its primary like
/// any other change to the dossier: a new version and `updated_at`, and a
/// `dossier.updated`, written with the version read here.
async fn unlink_items(
    db: &Db,
    org: Uuid,
    contact: Uuid,
    links: &[Link],
    now: OffsetDateTime,
) -> Result<Transaction, ApiError> {
    let mut items: Transaction = links
        .iter()
        .map(|link| txn::delete(&org_pk(org), &link_sk(link.dossier_id, contact), None))
        .collect();
    let primary_on = futures_util::future::try_join_all(
        links
            .iter()
            .filter(|link| link.is_primary)
            .map(|link| dossiers::get(db, org, link.dossier_id)),
    )
    .await?;
    for dossier in primary_on.into_iter().flatten() {
        if dossier.primary_contact_id == Some(contact) {
            dossier_write(org, &dossier, None, &mut items, now)?;
        }
    }
    Ok(items)
}
