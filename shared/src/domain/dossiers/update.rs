//! `PATCH` and archive: a read-compute-write of one dossier with its counters and events.

use serde::Deserialize;
use uuid::Uuid;

use crate::ids::Id;

use crate::domain::contacts::{self, ContactChange, ContactInput};
use crate::domain::fields::{not_null, Currency, DealSize, Email, Line, Name, Patch, Phone, Prose};
use crate::domain::flows::{self, Flow};
use crate::domain::outbox::{outbox_item, EventType};
use crate::table::keys::{dossier_sk, org_pk};
use crate::table::store::Db;
use crate::table::txn::Precondition;
use crate::table::txn::{self, Step, Transaction};
use crate::ApiError;
use time::OffsetDateTime;

use super::{counters_update, get, require_member, sales_only, Dossier, Status};

/// `PATCH /dossiers/{id}`: absent fields are left alone; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchDossier {
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<Name>,
    #[serde(default)]
    pub email: Patch<Email>,
    #[serde(default)]
    pub phone: Patch<Phone>,
    #[serde(default)]
    pub company: Patch<Line>,
    #[serde(default)]
    pub role: Patch<Line>,
    #[serde(default)]
    pub contact_person: Patch<Line>,
    #[serde(default)]
    pub deal_size: Patch<DealSize>,
    #[serde(default)]
    pub deal_currency: Patch<Currency>,
    #[serde(default, deserialize_with = "not_null")]
    pub status: Option<Status>,
    #[serde(default)]
    pub assigned_to: Patch<Id>,
    #[serde(default)]
    pub intake_notes: Patch<Prose>,
    #[serde(default, deserialize_with = "not_null")]
    pub current_stage_id: Option<Id>,
    /// Present only to answer with a precise message: neither can change.
    #[serde(rename = "type", default)]
    pub kind: Patch<serde::de::IgnoredAny>,
    #[serde(default)]
    pub flow_id: Patch<serde::de::IgnoredAny>,
}

impl PatchDossier {
    /// `email` changes the dossier's primary contact too, so such a PATCH needs
    /// `contacts:write`, whether or not the dossier has one (as a create with `email`).
    pub fn reaches_primary_contact(&self) -> bool {
        !self.email.is_absent()
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
        next.name = name.clone().into_string();
    }
    patch.email.clone().update(&mut next.email);
    patch.phone.clone().update(&mut next.phone);
    patch.company.clone().update(&mut next.company);
    patch.role.clone().update(&mut next.role);
    sales_only(
        current.kind,
        &[
            ("contact_person", patch.contact_person.is_set()),
            ("deal_size", patch.deal_size.is_set()),
            ("deal_currency", patch.deal_currency.is_set()),
        ],
    )?;
    patch
        .contact_person
        .clone()
        .update(&mut next.contact_person);
    patch.deal_size.clone().update(&mut next.deal_size);
    patch.deal_currency.clone().update(&mut next.deal_currency);
    if let Some(status) = patch.status {
        next.status = status;
    }
    match patch.assigned_to {
        Patch::Absent => {}
        Patch::Null => next.assigned_to = None,
        Patch::Set(user) => next.assigned_to = Some(user.uuid()),
    }
    patch.intake_notes.clone().update(&mut next.intake_notes);
    if let Some(stage) = patch.current_stage_id.map(Id::uuid) {
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

pub fn check_immutable(patch: &PatchDossier) -> Result<(), ApiError> {
    if !patch.kind.is_absent() {
        return Err(ApiError::field("type", "cannot be changed."));
    }
    if !patch.flow_id.is_absent() {
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
    now: OffsetDateTime,
) -> Result<Option<ContactChange>, ApiError> {
    let Some(id) = dossier.primary_contact_id else {
        return Ok(None);
    };
    let Some(contact) = contacts::get(db, org, id).await? else {
        return Ok(None);
    };
    ContactChange::of(org, &contact, fields.clone(), None, now)
}

/// The items that write `next` over `current`: the dossier under its version condition,
/// its counters, and its events. Every change to the representation is a
/// `dossier.updated`, archiving (a status change) included; the stage and archive events
/// come with it, not instead of it.
fn dossier_writes(
    org: Uuid,
    current: &Dossier,
    next: &Dossier,
) -> Result<Vec<crate::table::txn::Write>, ApiError> {
    let now = next.updated_at;
    let mut items = vec![txn::put_versioned(next.item(org)?, current.version)];
    items.extend(counters_update(org, Some(current), Some(next)));
    let mut events = vec![EventType::DossierUpdated];
    if next.current_stage_id != current.current_stage_id {
        events.push(EventType::DossierStageChanged);
    }
    if next.status == Status::Archived && current.status != Status::Archived {
        events.push(EventType::DossierDeleted);
    }
    for event in events {
        items.push(txn::put(outbox_item(org, event, next, now)?, None));
    }
    Ok(items)
}

/// How one dossier's write cycle runs.
struct Cycle<'a> {
    /// Whether the write is a `dossier.updated` even if the representation is unchanged
    /// (a CV replaced under the same key).
    always_updated: bool,
    precondition: &'a Precondition,
    /// What a PATCH with `email` changes on the primary contact.
    primary_contact: Option<&'a ContactInput>,
    now: OffsetDateTime,
}

impl<'a> Cycle<'a> {
    fn at(now: OffsetDateTime) -> Self {
        Self {
            always_updated: false,
            precondition: &NO_PRECONDITION,
            primary_contact: None,
            now,
        }
    }
}

static NO_PRECONDITION: Precondition = Precondition::none();

/// Applies `change` to the current dossier and writes the result with its counters and
/// events (and, for `email`, its primary contact's change), retrying from a fresh read
/// when a concurrent write got there first. A change that alters nothing writes nothing
/// and emits nothing.
async fn modify<F>(
    db: &Db,
    org: Uuid,
    id: Uuid,
    cycle: Cycle<'_>,
    change: F,
) -> Result<Dossier, ApiError>
where
    F: Fn(&Dossier) -> Result<Dossier, ApiError>,
{
    let (cycle, change) = (&cycle, &change);
    contacts::claiming_email(db, org, "dossier update", || async {
        let current = get(db, org, id)
            .await?
            .ok_or_else(ApiError::dossier_not_found)?;
        // Checked against the version this cycle writes on, so the write's own version
        // condition makes the check and the write one atomic step.
        cycle.precondition.check(current.version, "dossier")?;
        let mut next = change(&current)?;
        let contact = match cycle.primary_contact {
            Some(fields) => primary_contact_change(db, org, &next, fields, cycle.now).await?,
            None => None,
        };
        let mut transaction = Transaction::new();
        let written = if !next.same_content(&current) || cycle.always_updated {
            next.updated_at = cycle.now;
            next.version = current.version + 1;
            transaction.extend(dossier_writes(org, &current, &next)?);
            next
        } else if contact.is_some() {
            // Only the contact differs (it was changed on its own since): the dossier
            // keeps its version, and the write holds it to the version read.
            transaction.push(txn::version_is(
                &org_pk(org),
                &dossier_sk(id),
                current.version,
            ));
            current
        } else {
            return Ok(Step::Done(current));
        };
        if let Some(contact) = contact {
            transaction.append(contact.transaction);
        }
        Ok(Step::Write(written, transaction))
    })
    .await
}

pub async fn patch(
    db: &Db,
    org: Uuid,
    id: Uuid,
    patch: PatchDossier,
    precondition: &Precondition,
    now: OffsetDateTime,
) -> Result<Dossier, ApiError> {
    check_immutable(&patch)?;
    if let Patch::Set(user) = patch.assigned_to {
        require_member(db, org, Some(user.uuid())).await?;
    }
    // A dossier never changes flow, so its flow can be read once, before the write cycle.
    let flow = match patch.current_stage_id {
        Some(_) => {
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
    let cycle = Cycle {
        precondition,
        primary_contact: primary_contact.as_ref(),
        ..Cycle::at(now)
    };
    modify(db, org, id, cycle, |current| {
        apply_patch(current, &patch, flow.as_ref())
    })
    .await
}

/// Archives the dossier; archiving an archived dossier changes nothing.
pub async fn archive(
    db: &Db,
    org: Uuid,
    id: Uuid,
    precondition: &Precondition,
    now: OffsetDateTime,
) -> Result<Dossier, ApiError> {
    let cycle = Cycle {
        precondition,
        ..Cycle::at(now)
    };
    modify(db, org, id, cycle, |current| {
        let mut next = current.clone();
        next.status = Status::Archived;
        Ok(next)
    })
    .await
}

/// The dossier without its CV (a `dossier.updated` when it had one), for erasing the CV.
pub async fn detach_cv(
    db: &Db,
    org: Uuid,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Dossier, ApiError> {
    modify(db, org, id, Cycle::at(now), |current| {
        let mut next = current.clone();
        next.cv_url = None;
        Ok(next)
    })
    .await
}

/// Records a CV stored under `key`: a new or replaced CV is always a `dossier.updated`.
pub async fn attach_cv(
    db: &Db,
    org: Uuid,
    id: Uuid,
    key: &str,
    now: OffsetDateTime,
) -> Result<Dossier, ApiError> {
    let cycle = Cycle {
        always_updated: true,
        ..Cycle::at(now)
    };
    modify(db, org, id, cycle, |current| {
        let mut next = current.clone();
        next.cv_url = Some(key.to_string());
        Ok(next)
    })
    .await
}
