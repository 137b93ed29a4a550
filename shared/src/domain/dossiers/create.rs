//! `POST /dossiers`: validate and read what the request refers to, then write the dossier,
//! its counters, its primary contact (new or reused), the link and `dossier.created` in one
//! transaction.

use serde::Deserialize;
use uuid::Uuid;

use crate::ids::Id;

use crate::domain::contacts::{self, Contact, Kind, Link, LinkRole};
use crate::domain::fields::{Currency, DealSize, Email, Line, Name, Phone, Prose};
use crate::domain::flows::{self, DossierType, Flow};
use crate::domain::orgs::{self, Org};
use crate::domain::outbox::{outbox_item, EventType};
use crate::ids::new_id;
use crate::table::store::Db;
use crate::table::txn::{self, Step, Transaction};
use crate::ApiError;

use super::{counters_update, require_member, sales_only, Dossier, Status};

/// `POST /dossiers` as JSON (and the text fields of the multipart form).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDossier {
    #[serde(rename = "type")]
    pub kind: Option<DossierType>,
    pub name: Option<Name>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub company: Option<Line>,
    pub role: Option<Line>,
    pub contact_id: Option<Id>,
    pub flow_id: Option<Id>,
    pub assigned_to: Option<Id>,
    pub intake_notes: Option<Prose>,
    pub contact_person: Option<Line>,
    pub deal_size: Option<DealSize>,
    pub deal_currency: Option<Currency>,
}

impl CreateDossier {
    /// Whether the request may link or change a contact that already exists: one named by
    /// `contact_id`, or matched by `email`. Such a request needs `contacts:write` besides
    /// `dossiers:write`, whether or not a match is found, so that the answer never tells a
    /// key without it whether an email is in the address book.
    pub fn reaches_existing_contacts(&self) -> bool {
        self.contact_id.is_some() || self.email.is_some()
    }
}

async fn flow_for(
    db: &Db,
    org: &Org,
    kind: DossierType,
    flow_id: Option<Uuid>,
) -> Result<Flow, ApiError> {
    match flow_id {
        Some(id) => {
            let flow = flows::get(db, org.id, id).await?.ok_or_else(|| {
                ApiError::field("flow_id", "does not name a flow of your organization.")
            })?;
            if flow.kind != kind {
                return Err(ApiError::field(
                    "flow_id",
                    format_args!(
                        "names a {} flow; this dossier is {}.",
                        flow.kind.as_str(),
                        kind.as_str()
                    ),
                ));
            }
            Ok(flow)
        }
        None => flows::list(db, org.id)
            .await?
            .into_iter()
            .find(|f| f.is_default && f.kind == kind)
            .ok_or_else(|| {
                ApiError::internal(format!(
                    "organization {} has no default {} flow",
                    org.id,
                    kind.as_str()
                ))
            }),
    }
}

/// Who becomes the new dossier's primary contact.
enum ContactPlan {
    None,
    /// The contact as read, and as it will be written.
    Existing(Box<(Contact, Contact)>),
    New(Box<Contact>),
}

/// A create request that passed validation, with what it needs from the table.
pub struct Prepared {
    input: CreateDossier,
    org: Org,
    dossier: Dossier,
}

/// Validates a create request and reads what it refers to; nothing is written.
pub async fn prepare(
    db: &Db,
    org_id: Uuid,
    input: CreateDossier,
    now: time::OffsetDateTime,
) -> Result<Prepared, ApiError> {
    let kind = input
        .kind
        .ok_or_else(|| ApiError::field("type", "is required ('candidate' or 'sales')."))?;
    let name = input
        .name
        .clone()
        .ok_or_else(|| ApiError::field("name", "is required."))?
        .into_string();
    sales_only(
        kind,
        &[
            ("contact_person", input.contact_person.is_some()),
            ("deal_size", input.deal_size.is_some()),
            ("deal_currency", input.deal_currency.is_some()),
        ],
    )?;
    let optional = |field: &Option<Line>| field.clone().and_then(Option::from);

    let org = orgs::get_org(db, org_id)
        .await?
        .ok_or_else(|| ApiError::internal("organization vanished"))?;
    let flow = flow_for(db, &org, kind, input.flow_id.map(Id::uuid)).await?;
    require_member(db, org_id, input.assigned_to.map(Id::uuid)).await?;
    if let Some(id) = input.contact_id {
        if contacts::get(db, org_id, id.uuid()).await?.is_none() {
            return Err(ApiError::field(
                "contact_id",
                "does not name a contact of your organization.",
            ));
        }
    }
    let dossier = Dossier {
        id: new_id(),
        kind,
        name,
        email: input.email.clone().map(Email::into_string),
        phone: input.phone.clone().and_then(Option::from),
        company: optional(&input.company),
        role: optional(&input.role),
        contact_person: optional(&input.contact_person),
        deal_size: input.deal_size.clone().and_then(Option::from),
        deal_currency: input.deal_currency.clone().and_then(Option::from),
        status: Status::Active,
        flow_id: flow.id,
        current_stage_id: flow.first_stage().id,
        assigned_to: input.assigned_to.map(Id::uuid),
        intake_notes: input.intake_notes.clone().and_then(Option::from),
        cv_url: None,
        primary_contact_id: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    Ok(Prepared {
        input,
        org,
        dossier,
    })
}

impl Prepared {
    /// The id the dossier will have, known before it is written (the CV's key needs it).
    pub fn id(&self) -> Uuid {
        self.dossier.id
    }
}

/// Creates the dossier, its counters, its primary contact link (creating or reusing the
/// contact) and its `dossier.created` event in one transaction.
pub async fn create(
    db: &Db,
    org_id: Uuid,
    input: CreateDossier,
    now: time::OffsetDateTime,
) -> Result<Dossier, ApiError> {
    let prepared = prepare(db, org_id, input, now).await?;
    commit(db, org_id, prepared, None).await
}

/// Writes a prepared dossier, with `cv_url` when a CV was stored for it first.
pub async fn commit(
    db: &Db,
    org_id: Uuid,
    prepared: Prepared,
    cv_url: Option<String>,
) -> Result<Dossier, ApiError> {
    let Prepared {
        input,
        org,
        mut dossier,
    } = prepared;
    dossier.cv_url = cv_url;
    let now = dossier.created_at;
    // A failed condition means the contact changed, or someone created one with this email
    // meanwhile: read again and link to what is there now. Nothing refuses a create here.
    txn::until_written(db, "dossier create", || async {
        let mut dossier = dossier.clone();
        let plan = plan_contact(db, org_id, input.contact_id.map(Id::uuid), &dossier, &org).await?;
        let (mut transaction, primary) = contact_writes(org_id, plan, now)?;
        dossier.primary_contact_id = primary;
        if let Some(contact_id) = primary {
            let link = Link {
                dossier_id: dossier.id,
                contact_id,
                role_on_dossier: LinkRole::Primary,
                is_primary: true,
                created_at: now,
            };
            transaction.push(txn::put(link.item(org_id)?, None));
        }
        transaction.push(txn::put(
            dossier.item(org_id)?,
            Some("attribute_not_exists(PK)"),
        ));
        transaction.extend(counters_update(org_id, None, Some(&dossier)));
        let created = outbox_item(org_id, EventType::DossierCreated, &dossier, now)?;
        transaction.push(txn::put(created, None));
        Ok(Step::Write(dossier, transaction))
    })
    .await
}

/// Who becomes the new dossier's primary contact, as the table stands now: the contact
/// named by `contact_id`; or for a candidate the person (for a sales dossier the
/// `contact_person`), matched by email to an existing contact or created. However it is
/// found, the contact joins the dossier the same way ([`Contact::join_dossier`]).
async fn plan_contact(
    db: &Db,
    org_id: Uuid,
    contact_id: Option<Uuid>,
    dossier: &Dossier,
    org: &Org,
) -> Result<ContactPlan, ApiError> {
    let now = dossier.created_at;
    let contact_kind = match dossier.kind {
        DossierType::Candidate => Kind::Candidate,
        DossierType::Sales => Kind::Prospect,
    };
    if let Some(id) = contact_id {
        let read = contacts::get(db, org_id, id).await?.ok_or_else(|| {
            ApiError::field(
                "contact_id",
                "does not name a contact of your organization.",
            )
        })?;
        let mut contact = read.clone();
        contact.join_dossier(contact_kind, now, org.pool_days);
        return Ok(ContactPlan::Existing(Box::new((read, contact))));
    }
    let (full_name, contact_role) = match dossier.kind {
        DossierType::Candidate => (Some(dossier.name.clone()), dossier.role.clone()),
        DossierType::Sales => (dossier.contact_person.clone(), None),
    };
    let Some(full_name) = full_name else {
        return Ok(ContactPlan::None);
    };
    let existing = match &dossier.email {
        Some(email) => contacts::find_by_email(db, org_id, email).await?,
        None => None,
    };
    Ok(match existing {
        Some(read) => {
            let mut contact = read.clone();
            contact.join_dossier(contact_kind, now, org.pool_days);
            ContactPlan::Existing(Box::new((read, contact)))
        }
        None => {
            let mut contact = Contact {
                email: dossier.email.clone(),
                phone: dossier.phone.clone(),
                company: dossier.company.clone(),
                role: contact_role,
                ..Contact::new(full_name, now)
            };
            contact.join_dossier(contact_kind, now, org.pool_days);
            ContactPlan::New(Box::new(contact))
        }
    })
}

/// The writes that give the planned contact one more dossier, and the contact's id.
fn contact_writes(
    org_id: Uuid,
    plan: ContactPlan,
    now: time::OffsetDateTime,
) -> Result<(Transaction, Option<Uuid>), ApiError> {
    let mut items = Transaction::new();
    let contact = match plan {
        ContactPlan::None => return Ok((items, None)),
        ContactPlan::Existing(plan) => {
            let (read, mut contact) = *plan;
            contact.version += 1;
            contact.dossier_count += 1;
            contact.updated_at = now;
            items.push(txn::put_versioned(contact.item(org_id)?, read.version));
            items.extend(contacts::index_writes(org_id, Some(&read), Some(&contact))?);
            let updated = outbox_item(org_id, EventType::ContactUpdated, &contact, now)?;
            items.push(txn::put(updated, None));
            contact
        }
        ContactPlan::New(contact) => {
            let mut contact = *contact;
            contact.version = 1;
            contact.dossier_count = 1;
            items.push(txn::put(
                contact.item(org_id)?,
                Some("attribute_not_exists(PK)"),
            ));
            items.extend(contacts::index_writes(org_id, None, Some(&contact))?);
            let created = outbox_item(org_id, EventType::ContactCreated, &contact, now)?;
            items.push(txn::put(created, None));
            if let Some(email) = &contact.email {
                items.push(txn::put(
                    contacts::email_marker(org_id, email, contact.id),
                    Some("attribute_not_exists(PK)"),
                ));
            }
            contact
        }
    };
    Ok((items, Some(contact.id)))
}
