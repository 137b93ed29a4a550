//! Dossiers: validation, the single-table items, exact per-filter counters, listing, and
//! the transactions that keep dossier, counters, contact, link and domain events together.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::contacts::{self, Contact, Kind, Link, LinkRole};
use crate::domain::flows::{self, DossierType, Flow};
use crate::domain::orgs::{self, Org};
use crate::domain::outbox::{outbox_item, EventType};
use crate::domain::validate::{self, MAX_PHONE, MAX_SHORT, MAX_TEXT};
use crate::ids::new_id;
use crate::table::keys::org_pk;
use crate::table::keys::{
    dossier_lists_pk, Index, DOSSIERS_BY_STAGE, DOSSIERS_BY_STAGE_AND_STATUS, DOSSIERS_BY_STATUS,
    DOSSIERS_BY_TYPE, DOSSIERS_BY_TYPE_AND_STATUS,
};
use crate::table::store::{n, s, to_item, Db, Item, Query, SortKey};
use crate::table::txn::Precondition;
use crate::table::txn::{self, Outcome, UpdateSpec};
use crate::{clock, ApiError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Won,
    Lost,
    Archived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Won => "won",
            Self::Lost => "lost",
            Self::Archived => "archived",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Active, Self::Won, Self::Lost, Self::Archived]
            .into_iter()
            .find(|s| s.as_str() == raw)
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
    let base = dossier_lists_pk(org);
    let (index, pk, counter) = match (kind, status, stage) {
        (_, None, Some(st)) => (
            Some(DOSSIERS_BY_STAGE),
            format!("{base}#ST#{st}"),
            format!("st_{st}"),
        ),
        (_, Some(s), Some(st)) => (
            Some(DOSSIERS_BY_STAGE_AND_STATUS),
            format!("{base}#ST#{st}#S#{}", s.as_str()),
            format!("sts_{st}_{}", s.as_str()),
        ),
        (Some(t), None, None) => (
            Some(DOSSIERS_BY_TYPE),
            format!("{base}#T#{}", t.as_str()),
            format!("t_{}", t.as_str()),
        ),
        (None, Some(s), None) => (
            Some(DOSSIERS_BY_STATUS),
            format!("{base}#S#{}", s.as_str()),
            format!("s_{}", s.as_str()),
        ),
        (Some(t), Some(s), None) => (
            Some(DOSSIERS_BY_TYPE_AND_STATUS),
            format!("{base}#T#{}#S#{}", t.as_str(), s.as_str()),
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

/// `POST /dossiers` as JSON (and the text fields of the multipart form).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDossier {
    #[serde(rename = "type")]
    pub kind: Option<DossierType>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub role: Option<String>,
    pub contact_id: Option<Uuid>,
    pub flow_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    pub intake_notes: Option<String>,
    pub contact_person: Option<String>,
    pub deal_size: Option<serde_json::Number>,
    pub deal_currency: Option<String>,
}

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
    pub assigned_to: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub intake_notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub current_stage_id: Option<Option<Uuid>>,
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

async fn flow_for(
    db: &Db,
    org: &Org,
    kind: DossierType,
    flow_id: Option<Uuid>,
) -> Result<Flow, ApiError> {
    match flow_id {
        Some(id) => {
            let flow = flows::get(db, org.id, id).await?.ok_or_else(|| {
                ApiError::invalid("Field `flow_id` does not name a flow of your organization.")
            })?;
            if flow.kind != kind {
                return Err(ApiError::invalid(format!(
                    "Field `flow_id` names a {} flow; this dossier is {}.",
                    flow.kind.as_str(),
                    kind.as_str()
                )));
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
pub async fn prepare(db: &Db, org_id: Uuid, input: CreateDossier) -> Result<Prepared, ApiError> {
    let kind = input
        .kind
        .ok_or_else(|| ApiError::invalid("Field `type` is required ('candidate' or 'sales')."))?;
    let name = validate::required_text(
        "name",
        input
            .name
            .as_deref()
            .ok_or_else(|| ApiError::invalid("Field `name` is required."))?,
        MAX_SHORT,
    )?;
    sales_only(
        kind,
        &[
            ("contact_person", input.contact_person.is_some()),
            ("deal_size", input.deal_size.is_some()),
            ("deal_currency", input.deal_currency.is_some()),
        ],
    )?;
    let email = input
        .email
        .as_deref()
        .map(|e| validate::email("email", e))
        .transpose()?;
    let phone = validate::optional_text("phone", input.phone.as_deref(), MAX_PHONE)?;
    let company = validate::optional_text("company", input.company.as_deref(), MAX_SHORT)?;
    let role = validate::optional_text("role", input.role.as_deref(), MAX_SHORT)?;
    let contact_person =
        validate::optional_text("contact_person", input.contact_person.as_deref(), MAX_SHORT)?;
    let intake_notes =
        validate::optional_text("intake_notes", input.intake_notes.as_deref(), MAX_TEXT)?;
    let deal_size = input.deal_size.as_ref().map(deal_size).transpose()?;
    let deal_currency = input
        .deal_currency
        .as_deref()
        .map(|c| validate::currency("deal_currency", c))
        .transpose()?;

    let org = orgs::get_org(db, org_id)
        .await?
        .ok_or_else(|| ApiError::internal("organization vanished"))?;
    let flow = flow_for(db, &org, kind, input.flow_id).await?;
    require_member(db, org_id, input.assigned_to).await?;
    if let Some(id) = input.contact_id {
        if contacts::get(db, org_id, id).await?.is_none() {
            return Err(ApiError::invalid(
                "Field `contact_id` does not name a contact of your organization.",
            ));
        }
    }
    let now = clock::now();
    let dossier = Dossier {
        id: new_id(),
        kind,
        name,
        email,
        phone,
        company,
        role,
        contact_person,
        deal_size,
        deal_currency,
        status: Status::Active,
        flow_id: flow.id,
        current_stage_id: flow.first_stage().id,
        assigned_to: input.assigned_to,
        intake_notes,
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
pub async fn create(db: &Db, org_id: Uuid, input: CreateDossier) -> Result<Dossier, ApiError> {
    let prepared = prepare(db, org_id, input).await?;
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
    let role = dossier.role.clone();
    dossier.cv_url = cv_url;
    let kind = dossier.kind;
    let now = dossier.created_at;
    let (email, phone, company, contact_person) = (
        dossier.email.clone(),
        dossier.phone.clone(),
        dossier.company.clone(),
        dossier.contact_person.clone(),
    );
    let mut retry = txn::Retry::default();
    while retry.next().await {
        let plan = match input.contact_id {
            Some(id) => {
                let contact = contacts::get(db, org_id, id).await?.ok_or_else(|| {
                    ApiError::invalid(
                        "Field `contact_id` does not name a contact of your organization.",
                    )
                })?;
                ContactPlan::Existing(Box::new((contact.clone(), contact)))
            }
            None => {
                let (full_name, contact_kind, contact_role) = match kind {
                    DossierType::Candidate => {
                        (Some(dossier.name.clone()), Kind::Candidate, role.clone())
                    }
                    DossierType::Sales => (contact_person.clone(), Kind::Prospect, None),
                };
                match full_name {
                    None => ContactPlan::None,
                    Some(full_name) => {
                        let existing = match &email {
                            Some(email) => contacts::find_by_email(db, org_id, email).await?,
                            None => None,
                        };
                        match existing {
                            Some(read) => {
                                let mut contact = read.clone();
                                contact.add_kind(contact_kind, now, org.pool_days);
                                ContactPlan::Existing(Box::new((read, contact)))
                            }
                            None => {
                                let mut contact = Contact {
                                    id: new_id(),
                                    full_name,
                                    email: email.clone(),
                                    phone: phone.clone(),
                                    linkedin_url: None,
                                    company: company.clone(),
                                    role: contact_role,
                                    city: None,
                                    kind: Vec::new(),
                                    notes: None,
                                    pool_expires_at: None,
                                    dossier_count: 0,
                                    created_at: now,
                                    updated_at: now,
                                    version: 0,
                                    deleting: false,
                                };
                                contact.add_kind(contact_kind, now, org.pool_days);
                                ContactPlan::New(Box::new(contact))
                            }
                        }
                    }
                }
            }
        };

        let mut items = Vec::new();
        let mut contact_for_link = None;
        match plan {
            ContactPlan::None => {}
            ContactPlan::Existing(plan) => {
                let (read, mut contact) = *plan;
                contact.version += 1;
                contact.dossier_count += 1;
                contact.updated_at = now;
                items.push(txn::put_versioned(db, contact.item(org_id)?, read.version));
                items.extend(contacts::count_change(
                    db,
                    org_id,
                    Some(&read),
                    Some(&contact),
                ));
                contact_for_link = Some(contact.id);
            }
            ContactPlan::New(mut contact) => {
                contact.version = 1;
                contact.dossier_count = 1;
                items.push(txn::put(
                    db,
                    contact.item(org_id)?,
                    Some("attribute_not_exists(PK)"),
                ));
                items.extend(contacts::count_change(db, org_id, None, Some(&contact)));
                if let Some(email) = &contact.email {
                    items.push(txn::put(
                        db,
                        contacts::email_marker(org_id, email, contact.id),
                        Some("attribute_not_exists(PK)"),
                    ));
                }
                contact_for_link = Some(contact.id);
            }
        }
        dossier.primary_contact_id = contact_for_link;
        if let Some(contact_id) = contact_for_link {
            let link = Link {
                dossier_id: dossier.id,
                contact_id,
                role_on_dossier: LinkRole::Primary,
                is_primary: true,
                created_at: now,
            };
            items.push(txn::put(db, link.item(org_id)?, None));
        }
        items.push(txn::put(
            db,
            dossier.item(org_id)?,
            Some("attribute_not_exists(PK)"),
        ));
        items.extend(counters_update(db, org_id, None, Some(&dossier)));
        items.push(txn::put(
            db,
            outbox_item(org_id, EventType::DossierCreated, &dossier, now)?,
            None,
        ));

        match txn::write(db, items).await? {
            Ok(()) => return Ok(dossier),
            // The contact changed, or someone created one with this email meanwhile:
            // read again and link to what is there now.
            Err(Outcome::Conflict) | Err(Outcome::ConditionFailed(_)) => continue,
        }
    }
    Err(ApiError::internal("dossier create kept conflicting"))
}

pub async fn get(db: &Db, org: Uuid, id: Uuid) -> Result<Option<Dossier>, ApiError> {
    db.get(&org_pk(org), &dossier_sk(id)).await
}

fn not_found() -> ApiError {
    ApiError::not_found("Dossier not found.")
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
        next.assigned_to = *assigned;
    }
    if let Some(notes) = &patch.intake_notes {
        next.intake_notes = validate::optional_text("intake_notes", notes.as_deref(), MAX_TEXT)?;
    }
    if let Some(stage) = patch.current_stage_id {
        let stage = stage.ok_or_else(|| cannot_be_null("current_stage_id"))?;
        if stage != current.current_stage_id {
            let in_flow = flow
                .is_some_and(|f| f.id == current.flow_id && f.stages.iter().any(|s| s.id == stage));
            if !in_flow {
                return Err(ApiError::invalid(
                    "Field `current_stage_id` must be a stage of the dossier's flow.",
                ));
            }
        }
        next.current_stage_id = stage;
    }
    Ok(next)
}

fn cannot_be_null(field: &str) -> ApiError {
    ApiError::invalid(format!("Field `{field}` cannot be null."))
}

pub fn check_immutable(patch: &PatchDossier) -> Result<(), ApiError> {
    if patch.kind.is_some() {
        return Err(ApiError::invalid("Field `type` cannot be changed."));
    }
    if patch.flow_id.is_some() {
        return Err(ApiError::invalid("Field `flow_id` cannot be changed."));
    }
    Ok(())
}

/// Applies `change` to the current dossier and writes the result with its counters and
/// events, retrying from a fresh read when a concurrent write got there first. A change
/// that alters nothing writes nothing and emits nothing.
async fn modify<F>(
    db: &Db,
    org: Uuid,
    id: Uuid,
    always_updated: bool,
    precondition: &Precondition,
    change: F,
) -> Result<Dossier, ApiError>
where
    F: Fn(&Dossier) -> Result<Dossier, ApiError>,
{
    let mut retry = txn::Retry::default();
    while retry.next().await {
        let current = get(db, org, id).await?.ok_or_else(not_found)?;
        // Checked against the version this cycle writes on, so the write's own version
        // condition makes the check and the write one atomic step.
        precondition.check(current.version, "dossier")?;
        let mut next = change(&current)?;
        if next.same_content(&current) && !always_updated {
            return Ok(current);
        }
        let now = clock::now();
        next.updated_at = now;
        next.version = current.version + 1;
        let mut items = vec![txn::put_versioned(db, next.item(org)?, current.version)];
        items.extend(counters_update(db, org, Some(&current), Some(&next)));
        let archived = next.status == Status::Archived && current.status != Status::Archived;
        let only_archived = archived && {
            let mut probe = current.clone();
            probe.status = Status::Archived;
            probe.same_content(&next)
        };
        if always_updated || !only_archived {
            items.push(txn::put(
                db,
                outbox_item(org, EventType::DossierUpdated, &next, now)?,
                None,
            ));
        }
        if next.current_stage_id != current.current_stage_id {
            items.push(txn::put(
                db,
                outbox_item(org, EventType::DossierStageChanged, &next, now)?,
                None,
            ));
        }
        if archived {
            items.push(txn::put(
                db,
                outbox_item(org, EventType::DossierDeleted, &next, now)?,
                None,
            ));
        }
        match txn::write(db, items).await? {
            Ok(()) => return Ok(next),
            Err(_) => continue,
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
        require_member(db, org, Some(user)).await?;
    }
    // A dossier never changes flow, so its flow can be read once, before the write cycle.
    let flow = match patch.current_stage_id {
        Some(Some(_)) => {
            let current = get(db, org, id).await?.ok_or_else(not_found)?;
            flows::get(db, org, current.flow_id).await?
        }
        _ => None,
    };
    modify(db, org, id, false, precondition, |current| {
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
) -> Result<Dossier, ApiError> {
    modify(db, org, id, false, precondition, |current| {
        let mut next = current.clone();
        next.status = Status::Archived;
        Ok(next)
    })
    .await
}

/// Records a CV stored under `key`: a new or replaced CV is always a `dossier.updated`.
pub async fn attach_cv(db: &Db, org: Uuid, id: Uuid, key: &str) -> Result<Dossier, ApiError> {
    modify(db, org, id, true, &Precondition::default(), |current| {
        let mut next = current.clone();
        next.cv_url = Some(key.to_string());
        Ok(next)
    })
    .await
}

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
        read_counters(db, org, &access.counter, filter.stage),
        query_page(db, &access, skip, per_page + 1, after)
    );
    let (mut total, stage_kind, counter_capacity) = counters?;
    let (mut items, query_capacity) = page?;
    // A stage holds dossiers of one type only: a mismatched `type` filter matches none.
    if filter.stage.is_some() && filter.kind.is_some() && stage_kind != filter.kind {
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

async fn read_counters(
    db: &Db,
    org: Uuid,
    counter: &str,
    stage: Option<Uuid>,
) -> Result<(u64, Option<DossierType>, f64), ApiError> {
    let stage_type = stage.map(|stage| format!("stt_{stage}"));
    let mut attributes = vec![counter.to_string()];
    attributes.extend(stage_type.clone());
    let (item, consumed) = db.read_item(&org_pk(org), COUNTERS_SK, &attributes).await?;
    let item = item.unwrap_or_default();
    let total = match item.get(counter) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().unwrap_or(0).max(0) as u64,
        _ => 0,
    };
    let kind = stage_type.and_then(|name| match item.get(&name) {
        Some(AttributeValue::S(t)) => DossierType::parse(t),
        _ => None,
    });
    Ok((total, kind, consumed))
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
    let mut pages = db.pages(query.newest_first());
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let db = Db::new(
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::Config::builder()
                    .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                    .build(),
            ),
            "t",
        );
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
