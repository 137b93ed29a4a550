//! Contacts, their per-organization email uniqueness markers, and dossier links.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::org_pk;
use crate::store::{s, to_item, Db, Item};
use crate::table::{index_pk, index_sk};
use crate::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Candidate,
    Prospect,
    Client,
    Supplier,
    Partner,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRole {
    Primary,
    HiringManager,
    DecisionMaker,
    Champion,
    Gatekeeper,
    Introducer,
    Other,
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
}

pub fn contact_sk(id: Uuid) -> String {
    format!("CONTACT#{id}")
}

pub fn email_sk(email: &str) -> String {
    format!("EMAIL#{}", email.to_lowercase())
}

pub fn link_sk(dossier: Uuid, contact: Uuid) -> String {
    format!("LINK#{dossier}#{contact}")
}

pub fn link_prefix(dossier: Uuid) -> String {
    format!("LINK#{dossier}#")
}

impl Contact {
    /// The stored item; `version` is written explicitly since the API never shows it.
    pub fn item(&self, org: Uuid) -> Result<Item, ApiError> {
        let mut item = to_item(self, &org_pk(org), &contact_sk(self.id), "contact")?;
        item.insert("version".into(), crate::store::n(self.version));
        Ok(item)
    }

    /// Adds `kind` if missing; entering the talent pool starts its window.
    pub fn add_kind(&mut self, kind: Kind, now: OffsetDateTime, pool_days: u32) -> bool {
        if self.kind.contains(&kind) {
            return false;
        }
        self.kind.push(kind);
        if kind == Kind::Candidate {
            self.pool_expires_at = Some(now + time::Duration::days(pool_days as i64));
        }
        true
    }
}

/// The marker that makes an email unique within an organization.
pub fn email_marker(org: Uuid, email: &str, contact: Uuid) -> Item {
    let mut item = crate::store::key(&org_pk(org), &email_sk(email));
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
            index_pk(1),
            s(format!("ORG#{org}#CONTACT#{}#LINKS", self.contact_id)),
        );
        item.insert(index_sk(1), s(self.dossier_id.to_string()));
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

/// Makes a contact invisible before its links are cleaned up in batches.
pub async fn hide(db: &Db, org: Uuid, id: Uuid) -> Result<(), ApiError> {
    db.client
        .update_item()
        .table_name(&db.table)
        .set_key(Some(crate::store::key(&org_pk(org), &contact_sk(id))))
        .update_expression("SET deleting = :t")
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .send()
        .await?;
    Ok(())
}

/// The contact that holds `email` in the organization, if any.
pub async fn find_by_email(db: &Db, org: Uuid, email: &str) -> Result<Option<Contact>, ApiError> {
    #[derive(Deserialize)]
    struct Marker {
        contact_id: Uuid,
    }
    let Some(marker) = db.get::<Marker>(&org_pk(org), &email_sk(email)).await? else {
        return Ok(None);
    };
    get(db, org, marker.contact_id).await
}

/// The writable fields of a contact, for `POST` (absent means unset) and `PATCH` (absent
/// means unchanged, `null` clears).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub full_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub linkedin_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub role: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub kind: Option<Option<Vec<Kind>>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::validate::nullable")]
    pub pool_expires_at: Option<Option<String>>,
}

pub const MAX_URL: usize = 500;

fn linkedin(value: &str) -> Result<String, ApiError> {
    let value = crate::validate::text("linkedin_url", value, MAX_URL)?;
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.starts_with('/')
                && !value.chars().any(char::is_whitespace) =>
        {
            Ok(value)
        }
        _ => Err(ApiError::invalid(
            "Field `linkedin_url` must be an http(s) URL.",
        )),
    }
}

fn dedupe(kinds: Vec<Kind>) -> Vec<Kind> {
    let mut out = Vec::new();
    for kind in kinds {
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    out
}

impl ContactInput {
    /// Applies the input to `contact`; `now` and `pool_days` start the talent-pool window
    /// of a contact that becomes a candidate without an explicit `pool_expires_at`.
    pub fn apply(
        self,
        contact: &mut Contact,
        now: OffsetDateTime,
        pool_days: u32,
    ) -> Result<(), ApiError> {
        use crate::validate::{
            email, optional_text, required_text, MAX_PHONE, MAX_SHORT, MAX_TEXT,
        };
        let was_candidate = contact.kind.contains(&Kind::Candidate);
        if let Some(name) = self.full_name {
            let name =
                name.ok_or_else(|| ApiError::invalid("Field `full_name` cannot be null."))?;
            contact.full_name = required_text("full_name", &name, MAX_SHORT)?;
        }
        if let Some(value) = self.email {
            contact.email = value.as_deref().map(|e| email("email", e)).transpose()?;
        }
        if let Some(value) = self.phone {
            contact.phone = optional_text("phone", value.as_deref(), MAX_PHONE)?;
        }
        if let Some(value) = self.linkedin_url {
            contact.linkedin_url = value.as_deref().map(linkedin).transpose()?;
        }
        if let Some(value) = self.company {
            contact.company = optional_text("company", value.as_deref(), MAX_SHORT)?;
        }
        if let Some(value) = self.role {
            contact.role = optional_text("role", value.as_deref(), MAX_SHORT)?;
        }
        if let Some(value) = self.city {
            contact.city = optional_text("city", value.as_deref(), MAX_SHORT)?;
        }
        if let Some(value) = self.notes {
            contact.notes = optional_text("notes", value.as_deref(), MAX_TEXT)?;
        }
        if let Some(kinds) = self.kind {
            contact.kind = dedupe(kinds.unwrap_or_default());
        }
        match self.pool_expires_at {
            Some(Some(raw)) => {
                contact.pool_expires_at = Some(crate::clock::parse(&raw).ok_or_else(|| {
                    ApiError::invalid(
                        "Field `pool_expires_at` must be an RFC 3339 timestamp or null.",
                    )
                })?)
            }
            Some(None) => contact.pool_expires_at = None,
            None if !was_candidate && contact.kind.contains(&Kind::Candidate) => {
                contact.pool_expires_at = Some(now + time::Duration::days(pool_days as i64));
            }
            None => {}
        }
        Ok(())
    }
}

fn duplicate(existing: Uuid) -> ApiError {
    ApiError::DuplicateContact(format!(
        "A contact with this email already exists in your organization: {existing}."
    ))
}

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

/// Creates a contact and its email marker in one transaction: of two racing creates with
/// the same email, exactly one commits; the other gets 409 `duplicate_contact`.
pub async fn create(db: &Db, org: Uuid, input: ContactInput) -> Result<Contact, ApiError> {
    if !matches!(input.full_name, Some(Some(_))) {
        return Err(ApiError::invalid("Field `full_name` is required."));
    }
    let pool_days = crate::orgs::get_org(db, org)
        .await?
        .map(|o| o.pool_days)
        .unwrap_or(crate::orgs::DEFAULT_POOL_DAYS);
    let now = crate::clock::now();
    let mut contact = Contact {
        id: crate::ids::new_id(),
        full_name: String::new(),
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
        version: 1,
        deleting: false,
    };
    input.apply(&mut contact, now, pool_days)?;
    let mut items = vec![crate::txn::put(
        db,
        contact.item(org)?,
        Some("attribute_not_exists(PK)"),
    )];
    if let Some(email) = &contact.email {
        items.push(crate::txn::put(
            db,
            email_marker(org, email, contact.id),
            Some("attribute_not_exists(PK)"),
        ));
    }
    for attempt in 0..crate::txn::MAX_ATTEMPTS {
        if attempt > 0 {
            crate::txn::backoff(attempt).await;
        }
        match crate::txn::write(db, items.clone()).await? {
            Ok(()) => return Ok(contact),
            Err(crate::txn::Outcome::ConditionFailed(_)) => {
                let email = contact.email.as_deref().unwrap_or_default();
                let owner = marker_owner(db, org, email).await?;
                return Err(owner
                    .map(duplicate)
                    .unwrap_or_else(|| ApiError::internal("contact create condition failed")));
            }
            Err(crate::txn::Outcome::Conflict) => continue,
        }
    }
    Err(ApiError::internal("contact create kept conflicting"))
}

/// Applies a PATCH with a version check; a changed email moves its marker in the same
/// transaction (freeing the old address, claiming the new one or answering 409).
pub async fn update(
    db: &Db,
    org: Uuid,
    id: Uuid,
    patch: ContactInput,
    precondition: &crate::http::IfMatch,
) -> Result<Contact, ApiError> {
    let pool_days = crate::orgs::get_org(db, org)
        .await?
        .map(|o| o.pool_days)
        .unwrap_or(crate::orgs::DEFAULT_POOL_DAYS);
    for attempt in 0..crate::txn::MAX_ATTEMPTS {
        if attempt > 0 {
            crate::txn::backoff(attempt).await;
        }
        let current = get(db, org, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Contact not found."))?;
        precondition.check(current.version, "contact")?;
        let mut next = current.clone();
        let now = crate::clock::now();
        patch.clone().apply(&mut next, now, pool_days)?;
        let mut unchanged = next.clone();
        unchanged.updated_at = current.updated_at;
        if unchanged == current {
            return Ok(current);
        }
        next.updated_at = now;
        next.version = current.version + 1;
        let mut items = vec![crate::txn::put_versioned(
            db,
            next.item(org)?,
            current.version,
        )];
        let old_email = current.email.as_deref().map(str::to_lowercase);
        let new_email = next.email.as_deref().map(str::to_lowercase);
        if old_email != new_email {
            if let Some(old) = &current.email {
                items.push(crate::txn::delete(db, &org_pk(org), &email_sk(old), None));
            }
            if let Some(new) = &next.email {
                items.push(crate::txn::put(
                    db,
                    email_marker(org, new, id),
                    Some("attribute_not_exists(PK)"),
                ));
            }
        }
        match crate::txn::write(db, items).await? {
            Ok(()) => return Ok(next),
            Err(crate::txn::Outcome::ConditionFailed(reasons))
                if reasons.first().is_some_and(Option::is_none) =>
            {
                let email = next.email.as_deref().unwrap_or_default();
                if let Some(owner) = marker_owner(db, org, email)
                    .await?
                    .filter(|owner| *owner != id)
                {
                    return Err(duplicate(owner));
                }
            }
            Err(_) => {}
        }
    }
    Err(ApiError::internal("contact update kept conflicting"))
}

/// `GET /contacts` filters.
pub struct ContactFilter {
    pub kinds: Vec<Kind>,
    pub pool: Option<Pool>,
    pub search: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    InPool,
    Expired,
}

impl ContactFilter {
    fn matches(&self, contact: &Contact, now: OffsetDateTime) -> bool {
        let kind_ok = self.kinds.is_empty() || contact.kind.iter().any(|k| self.kinds.contains(k));
        let pool_ok = match (self.pool, contact.pool_expires_at) {
            (None, _) => true,
            (Some(Pool::InPool), Some(at)) => at > now,
            (Some(Pool::Expired), Some(at)) => at <= now,
            (Some(_), None) => false,
        };
        let search_ok = self.search.as_ref().is_none_or(|needle| {
            [
                Some(&contact.full_name),
                contact.email.as_ref(),
                contact.company.as_ref(),
                contact.role.as_ref(),
            ]
            .into_iter()
            .flatten()
            .any(|field| field.to_lowercase().contains(needle))
        });
        kind_ok && pool_ok && search_ok
    }
}

/// Every contact of the organization matching `filter`, newest first (ties by id).
/// This reads all of the organization's contacts: one paged Query.
pub async fn matching(
    db: &Db,
    org: Uuid,
    filter: &ContactFilter,
) -> Result<Vec<Contact>, ApiError> {
    let now = crate::clock::now();
    let mut contacts: Vec<Contact> = db
        .query_prefix::<Contact>(&org_pk(org), "CONTACT#")
        .await?
        .into_iter()
        .filter(|c| !c.deleting && filter.matches(c, now))
        .collect();
    contacts.reverse();
    Ok(contacts)
}
