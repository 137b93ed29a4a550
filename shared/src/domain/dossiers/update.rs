//! `PATCH` and archive: a read-compute-write of one dossier with its counters and events.

use serde::Deserialize;
use uuid::Uuid;

use crate::ids::Id;

use crate::domain::contacts::{self, ContactChange, ContactInput};
use crate::domain::flows::{self, Flow};
use crate::domain::outbox::{outbox_item, EventType};
use crate::domain::validate::{self, MAX_PHONE, MAX_SHORT, MAX_TEXT};
use crate::table::keys::{dossier_sk, org_pk};
use crate::table::store::Db;
use crate::table::txn::Precondition;
use crate::table::txn::{self};
use crate::{clock, ApiError};

use super::{counters_update, deal_size, get, require_member, sales_only, Dossier, Status};

/// `PATCH /dossiers/{id}`: absent fields are left alone; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchDossier {
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub role: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub contact_person: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub deal_size: Option<Option<serde_json::Number>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub deal_currency: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub status: Option<Option<Status>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub assigned_to: Option<Option<Id>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub intake_notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub current_stage_id: Option<Option<Id>>,
    /// Present only to answer with a precise message: neither can change.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "crate::domain::validate::nullable"
    )]
    pub kind: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub flow_id: Option<Option<serde_json::Value>>,
}

impl PatchDossier {
    /// `email` changes the dossier's primary contact too, so such a PATCH needs
    /// `contacts:write`, whether or not the dossier has one (as a create with `email`).
    pub fn reaches_primary_contact(&self) -> bool {
        self.email.is_some()
    }
}

/// What a PATCH does to a dossier, validated against it.
fn apply_patch(
    current: &Dossier,
    patch: &PatchDossier,
    flow: Option<&Flow>,
) -> Result<Dossier, ApiError> {
    let mut next = current.clone();
    if let Some(name) = &patch.name {
        let name = name.as_deref().ok_or_else(|| cannot_be_null("name"))?;
        next.name = validate::required_text("name", name, MAX_SHORT)?;
    }
    if let Some(email) = &patch.email {
        next.email = email
            .as_deref()
            .map(|e| validate::email("email", e))
            .transpose()?;
    }
    if let Some(phone) = &patch.phone {
        next.phone = validate::optional_text("phone", phone.as_deref(), MAX_PHONE)?;
    }
    if let Some(company) = &patch.company {
        next.company = validate::optional_text("company", company.as_deref(), MAX_SHORT)?;
    }
    if let Some(role) = &patch.role {
        next.role = validate::optional_text("role", role.as_deref(), MAX_SHORT)?;
    }
    sales_only(
        current.kind,
        &[
            (
                "contact_person",
                patch.contact_person.as_ref().is_some_and(Option::is_some),
            ),
            (
                "deal_size",
                patch.deal_size.as_ref().is_some_and(Option::is_some),
            ),
            (
                "deal_currency",
                patch.deal_currency.as_ref().is_some_and(Option::is_some),
            ),
        ],
    )?;
    if let Some(person) = &patch.contact_person {
        next.contact_person =
            validate::optional_text("contact_person", person.as_deref(), MAX_SHORT)?;
    }
    if let Some(size) = &patch.deal_size {
        next.deal_size = size.as_ref().map(deal_size).transpose()?;
    }
    if let Some(currency) = &patch.deal_currency {
        next.deal_currency = currency
            .as_deref()
            .map(|c| validate::currency("deal_currency", c))
            .transpose()?;
    }
    if let Some(status) = patch.status {
        next.status = status.ok_or_else(|| cannot_be_null("status"))?;
    }
    if let Some(assigned) = &patch.assigned_to {
        next.assigned_to = assigned.map(Id::uuid);
    }
    if let Some(notes) = &patch.intake_notes {
        next.intake_notes = validate::optional_text("intake_notes", notes.as_deref(), MAX_TEXT)?;
    }
    if let Some(stage) = patch.current_stage_id {
        let stage = stage
            .ok_or_else(|| cannot_be_null("current_stage_id"))?
            .uuid();
        if stage != current.current_stage_id {
            let in_flow = flow
                .is_some_and(|f| f.id == current.flow_id && f.stages.iter().any(|s| s.id == stage));
            if !in_flow {
                return Err(ApiError::field(
                    "current_stage_id",
                    "must be a stage of the dossier's flow.",
                ));
            }
        }
        next.current_stage_id = stage;
    }
    Ok(next)
}

fn cannot_be_null(field: &str) -> ApiError {
    ApiError::field(field, "cannot be null.")
}

pub fn check_immutable(patch: &PatchDossier) -> Result<(), ApiError> {
    if patch.kind.is_some() {
        return Err(ApiError::field("type", "cannot be changed."));
    }
    if patch.flow_id.is_some() {
        return Err(ApiError::field("flow_id", "cannot be changed."));
    }
    Ok(())
}

/// What a dossier PATCH with `email` also does to its primary contact, if the dossier has
/// one and the change alters it. An email alone never makes a contact a candidate, so the
/// organization's pool days are not needed (nor read).
async fn primary_contact_change(
    db: &Db,
    org: Uuid,
    dossier: &Dossier,
    fields: &ContactInput,
) -> Result<Option<ContactChange>, ApiError> {
    let Some(id) = dossier.primary_contact_id else {
        return Ok(None);
    };
    let Some(contact) = contacts::get(db, org, id).await? else {
        return Ok(None);
    };
    ContactChange::of(db, org, &contact, fields.clone(), None)
}

/// The items that write `next` over `current`: the dossier under its version condition,
/// its counters, and its events. Every change to the representation is a
/// `dossier.updated`, archiving (a status change) included; the stage and archive events
/// come with it, not instead of it.
fn dossier_writes(
    db: &Db,
    org: Uuid,
    current: &Dossier,
    next: &Dossier,
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, ApiError> {
    let now = next.updated_at;
    let mut items = vec![txn::put_versioned(db, next.item(org)?, current.version)];
    items.extend(counters_update(db, org, Some(current), Some(next)));
    let mut events = vec![EventType::DossierUpdated];
    if next.current_stage_id != current.current_stage_id {
        events.push(EventType::DossierStageChanged);
    }
    if next.status == Status::Archived && current.status != Status::Archived {
        events.push(EventType::DossierDeleted);
    }
    for event in events {
        items.push(txn::put(db, outbox_item(org, event, next, now)?, None));
    }
    Ok(items)
}

/// Applies `change` to the current dossier and writes the result with its counters and
/// events (and, for `email`, its primary contact's change), retrying from a fresh read
/// when a concurrent write got there first. A change that alters nothing writes nothing
/// and emits nothing.
async fn modify<F>(
    db: &Db,
    org: Uuid,
    id: Uuid,
    always_updated: bool,
    precondition: &Precondition,
    primary_contact: Option<&ContactInput>,
    change: F,
) -> Result<Dossier, ApiError>
where
    F: Fn(&Dossier) -> Result<Dossier, ApiError>,
{
    let mut retry = txn::Retry::default();
    while retry.next().await {
        let current = get(db, org, id)
            .await?
            .ok_or_else(ApiError::dossier_not_found)?;
        // Checked against the version this cycle writes on, so the write's own version
        // condition makes the check and the write one atomic step.
        precondition.check(current.version, "dossier")?;
        let mut next = change(&current)?;
        let contact = match primary_contact {
            Some(fields) => primary_contact_change(db, org, &next, fields).await?,
            None => None,
        };
        let dossier_changes = !next.same_content(&current) || always_updated;
        let (mut items, written) = if dossier_changes {
            next.updated_at = clock::now();
            next.version = current.version + 1;
            (dossier_writes(db, org, &current, &next)?, next)
        } else if contact.is_some() {
            // Only the contact differs (it was changed on its own since): the dossier
            // keeps its version, and the write holds it to the version read.
            let unchanged = txn::version_is(db, &org_pk(org), &dossier_sk(id), current.version);
            (vec![unchanged], current)
        } else {
            return Ok(current);
        };
        items.extend(contact.iter().flat_map(|c| c.items.iter().cloned()));
        match txn::write(db, items).await? {
            Ok(()) => return Ok(written),
            Err(_) => {
                if let Some(change) = &contact {
                    if let Some(refusal) = change.refusal(db, org).await? {
                        return Err(refusal);
                    }
                }
            }
        }
    }
    Err(ApiError::internal("dossier update kept conflicting"))
}

pub async fn patch(
    db: &Db,
    org: Uuid,
    id: Uuid,
    patch: PatchDossier,
    precondition: &Precondition,
) -> Result<Dossier, ApiError> {
    check_immutable(&patch)?;
    if let Some(Some(user)) = patch.assigned_to {
        require_member(db, org, Some(user.uuid())).await?;
    }
    // A dossier never changes flow, so its flow can be read once, before the write cycle.
    let flow = match patch.current_stage_id {
        Some(Some(_)) => {
            let current = get(db, org, id)
                .await?
                .ok_or_else(ApiError::dossier_not_found)?;
            flows::get(db, org, current.flow_id).await?
        }
        _ => None,
    };
    // The reference: `email` is "Update primary contact email"; `phone` is "Update
    // phone", the dossier's own.
    let primary_contact = patch.reaches_primary_contact().then(|| ContactInput {
        email: patch.email.clone(),
        ..ContactInput::default()
    });
    modify(
        db,
        org,
        id,
        false,
        precondition,
        primary_contact.as_ref(),
        |current| apply_patch(current, &patch, flow.as_ref()),
    )
    .await
}

/// Archives the dossier; archiving an archived dossier changes nothing.
pub async fn archive(
    db: &Db,
    org: Uuid,
    id: Uuid,
    precondition: &Precondition,
) -> Result<Dossier, ApiError> {
    modify(db, org, id, false, precondition, None, |current| {
        let mut next = current.clone();
        next.status = Status::Archived;
        Ok(next)
    })
    .await
}

/// Records a CV stored under `key`: a new or replaced CV is always a `dossier.updated`.
/// The dossier without its CV (a `dossier.updated` when it had one), for erasing the CV.
pub async fn detach_cv(db: &Db, org: Uuid, id: Uuid) -> Result<Dossier, ApiError> {
    modify(
        db,
        org,
        id,
        false,
        &Precondition::default(),
        None,
        |current| {
            let mut next = current.clone();
            next.cv_url = None;
            Ok(next)
        },
    )
    .await
}

pub async fn attach_cv(db: &Db, org: Uuid, id: Uuid, key: &str) -> Result<Dossier, ApiError> {
    modify(
        db,
        org,
        id,
        true,
        &Precondition::default(),
        None,
        |current| {
            let mut next = current.clone();
            next.cv_url = Some(key.to_string());
            Ok(next)
        },
    )
    .await
}
