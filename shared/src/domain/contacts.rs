//! Contacts, their per-organization email uniqueness markers, and dossier links.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::pagination::Position;
use crate::table::keys::org_pk;
use crate::table::keys::{
    contacts_in_pool_pk, contacts_of_kind_pk, Index, CONTACTS_BY_KIND, CONTACTS_BY_POOL_EXPIRY,
    LINKS_BY_CONTACT,
};
use crate::table::store::{s, to_item, Db, Item, Query, SortKey};
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

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Candidate,
        Kind::Prospect,
        Kind::Client,
        Kind::Supplier,
        Kind::Partner,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Candidate => "candidate",
            Kind::Prospect => "prospect",
            Kind::Client => "client",
            Kind::Supplier => "supplier",
            Kind::Partner => "partner",
        }
    }

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
    contacts_of_kind_pk(org, kind.name())
}

/// Sorts like the instant it encodes (seconds shifted to stay positive, then
/// nanoseconds), so the pool index can be queried by range.
fn pool_instant(at: OffsetDateTime) -> String {
    format!(
        "{:013}{:09}",
        at.unix_timestamp() + 1_000_000_000_000,
        at.nanosecond()
    )
}

/// Above every pool key of that instant: `#` then a UUID sorts below `~`.
fn pool_bound(at: OffsetDateTime) -> String {
    format!("{}#~", pool_instant(at))
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

pub use crate::table::keys::{contact_sk, email_sk, link_prefix, link_sk, CONTACT_PREFIX};

impl Contact {
    /// The stored item; `version` and `deleting` are written explicitly since the API
    /// never shows them.
    /// The index keys put the contact on its kinds' lists and, with a pool date, on the
    /// pool index; a contact being deleted is on none.
    pub fn item(&self, org: Uuid) -> Result<Item, ApiError> {
        let mut item = to_item(self, &org_pk(org), &contact_sk(self.id), "contact")?;
        item.insert("version".into(), crate::table::store::n(self.version));
        if self.deleting {
            item.insert("deleting".into(), AttributeValue::Bool(true));
        } else {
            for kind in &self.kind {
                item.insert(kind.index().pk.into(), s(kind_list_pk(org, *kind)));
                item.insert(kind.index().sk.into(), s(self.id.to_string()));
            }
            if let Some(at) = self.pool_expires_at {
                item.insert(
                    CONTACTS_BY_POOL_EXPIRY.pk.into(),
                    s(contacts_in_pool_pk(org)),
                );
                item.insert(
                    CONTACTS_BY_POOL_EXPIRY.sk.into(),
                    s(format!("{}#{}", pool_instant(at), self.id)),
                );
            }
        }
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
/// and out of the totals, in one transaction. If the contact changed since `contact` was
/// read nothing is written; the caller reads it again either way.
pub async fn hide(db: &Db, org: Uuid, contact: &Contact) -> Result<(), ApiError> {
    let mut hidden = contact.clone();
    hidden.deleting = true;
    hidden.version += 1;
    let mut items = vec![crate::table::txn::put_versioned(
        db,
        hidden.item(org)?,
        contact.version,
    )];
    items.extend(count_change(db, org, Some(contact), None));
    let _changed_meanwhile = crate::table::txn::write(db, items).await?;
    Ok(())
}

/// Keeps the per-kinds totals exact: the counter change for a contact going from `before`
/// to `after` (`None` for absent or being deleted), to be written in the same transaction.
pub fn count_change(
    db: &Db,
    org: Uuid,
    before: Option<&Contact>,
    after: Option<&Contact>,
) -> Option<aws_sdk_dynamodb::types::TransactWriteItem> {
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
    Some(crate::table::txn::update(
        db,
        crate::table::txn::UpdateSpec {
            pk: org_pk(org),
            sk: COUNTERS_SK.to_string(),
            expression: format!("ADD {}", changes.join(", ")),
            condition: None,
            names: Vec::new(),
            values,
        },
    ))
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
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub full_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub linkedin_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub role: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub kind: Option<Option<Vec<Kind>>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::validate::nullable")]
    pub pool_expires_at: Option<Option<String>>,
}

pub const MAX_URL: usize = 500;

fn linkedin(value: &str) -> Result<String, ApiError> {
    let value = crate::domain::validate::text("linkedin_url", value, MAX_URL)?;
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
        use crate::domain::validate::{
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
    let pool_days = crate::domain::orgs::get_org(db, org)
        .await?
        .map(|o| o.pool_days)
        .unwrap_or(crate::domain::orgs::DEFAULT_POOL_DAYS);
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
    let mut items = vec![crate::table::txn::put(
        db,
        contact.item(org)?,
        Some("attribute_not_exists(PK)"),
    )];
    items.extend(count_change(db, org, None, Some(&contact)));
    if let Some(email) = &contact.email {
        items.push(crate::table::txn::put(
            db,
            email_marker(org, email, contact.id),
            Some("attribute_not_exists(PK)"),
        ));
    }
    let mut retry = crate::table::txn::Retry::default();
    while retry.next().await {
        match crate::table::txn::write(db, items.clone()).await? {
            Ok(()) => return Ok(contact),
            Err(crate::table::txn::Outcome::ConditionFailed(_)) => {
                let email = contact.email.as_deref().unwrap_or_default();
                let owner = marker_owner(db, org, email).await?;
                return Err(owner
                    .map(duplicate)
                    .unwrap_or_else(|| ApiError::internal("contact create condition failed")));
            }
            Err(crate::table::txn::Outcome::Conflict) => continue,
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
    precondition: &crate::table::txn::Precondition,
) -> Result<Contact, ApiError> {
    let pool_days = crate::domain::orgs::get_org(db, org)
        .await?
        .map(|o| o.pool_days)
        .unwrap_or(crate::domain::orgs::DEFAULT_POOL_DAYS);
    let mut retry = crate::table::txn::Retry::default();
    while retry.next().await {
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
        let mut items = vec![crate::table::txn::put_versioned(
            db,
            next.item(org)?,
            current.version,
        )];
        items.extend(count_change(db, org, Some(&current), Some(&next)));
        let old_email = current.email.as_deref().map(str::to_lowercase);
        let new_email = next.email.as_deref().map(str::to_lowercase);
        if old_email != new_email {
            if let Some(old) = &current.email {
                items.push(crate::table::txn::delete(
                    db,
                    &org_pk(org),
                    &email_sk(old),
                    None,
                ));
            }
            if let Some(new) = &next.email {
                items.push(crate::table::txn::put(
                    db,
                    email_marker(org, new, id),
                    Some("attribute_not_exists(PK)"),
                ));
            }
        }
        match crate::table::txn::write(db, items).await? {
            Ok(()) => return Ok(next),
            Err(crate::table::txn::Outcome::ConditionFailed(reasons))
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

/// One page of contacts, newest first (ties by id), and the exact total.
pub struct Listing<T = Contact> {
    pub items: Vec<T>,
    pub total: u64,
    pub next_cursor: Option<Uuid>,
}

/// Lists contacts. Without `search` and `pool`, the page comes from the newest entries of
/// the table (or of each requested kind's index, merged) and the total from the kinds
/// counters. `pool` reads the pool side asked for on the pool index (small entries, not
/// contacts) and then fetches the page. Only `search` reads every contact.
pub async fn list(
    db: &Db,
    org: Uuid,
    filter: &ContactFilter,
    position: &Position,
) -> Result<Listing, ApiError> {
    let (skip, per_page, after) = position.bounds();
    if filter.search.is_some() {
        let all = matching(db, org, filter).await?;
        return Ok(page_of(all, skip, per_page, after, |c| c.id));
    }
    if let Some(pool) = filter.pool {
        let ids = pool_ids(db, org, pool, &filter.kinds).await?;
        let Listing {
            items: ids,
            total,
            next_cursor,
        } = page_of(ids, skip, per_page, after, |id| *id);
        let mut found = by_ids(db, org, &ids).await?;
        let now = crate::clock::now();
        // The index may lag a change; what is shown is judged on the contact as it is.
        let items = ids
            .iter()
            .filter_map(|id| found.remove(id))
            .filter(|c| filter.matches(c, now))
            .collect();
        return Ok(Listing {
            items,
            total,
            next_cursor,
        });
    }
    let want = skip + per_page + 1;
    let sources: Vec<Option<Kind>> = if filter.kinds.is_empty() {
        vec![None]
    } else {
        filter.kinds.iter().copied().map(Some).collect()
    };
    let (total, newest) = tokio::join!(
        total(db, org, &filter.kinds),
        futures_util::future::try_join_all(
            sources
                .into_iter()
                .map(|kind| newest(db, org, kind, after, want))
        )
    );
    let mut merged: Vec<Contact> = newest?.into_iter().flatten().collect();
    merged.sort_by_key(|c| std::cmp::Reverse(c.id));
    merged.dedup_by_key(|c| c.id);
    let mut listing = page_of(merged, skip, per_page, None, |c| c.id);
    listing.total = total?;
    Ok(listing)
}

/// The page of an ordered, newest-first list that starts `skip` items in or after `after`.
/// `total` counts the whole list.
fn page_of<T>(
    all: Vec<T>,
    skip: usize,
    per_page: usize,
    after: Option<Uuid>,
    id: impl Fn(&T) -> Uuid,
) -> Listing<T>
where
    T: Clone,
{
    let total = all.len() as u64;
    let start = match after {
        Some(after) => all
            .iter()
            .position(|item| id(item) < after)
            .unwrap_or(all.len()),
        None => skip,
    };
    let mut items: Vec<T> = all.into_iter().skip(start).take(per_page + 1).collect();
    let next_cursor = (items.len() > per_page).then(|| id(&items[per_page - 1]));
    items.truncate(per_page);
    Listing {
        items,
        total,
        next_cursor,
    }
}

/// The exact number of contacts having any of `kinds` (all contacts when empty).
async fn total(db: &Db, org: Uuid, kinds: &[Kind]) -> Result<u64, ApiError> {
    let wanted = kinds_mask(kinds);
    let counters = db
        .get_item(&org_pk(org), COUNTERS_SK)
        .await?
        .unwrap_or_default();
    let total: i64 = (0..=u8::MAX >> 3)
        .filter(|mask| wanted == 0 || mask & wanted != 0)
        .filter_map(|mask| match counters.get(&mask_counter(mask)) {
            Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
            _ => None,
        })
        .sum();
    Ok(total.max(0) as u64)
}

/// Up to `want` contacts, newest first, from the table (no kind) or a kind's index.
async fn newest(
    db: &Db,
    org: Uuid,
    kind: Option<Kind>,
    after: Option<Uuid>,
    want: usize,
) -> Result<Vec<Contact>, ApiError> {
    let query = match (kind, after) {
        (Some(kind), None) => Query::index(kind.index(), &kind_list_pk(org, kind)),
        (Some(kind), Some(after)) => Query::index(kind.index(), &kind_list_pk(org, kind))
            .sort(SortKey::Below(after.to_string())),
        (None, after) => Query::table(&org_pk(org)).sort(SortKey::Between(
            CONTACT_PREFIX.to_string(),
            after.map_or_else(|| format!("{CONTACT_PREFIX}~"), contact_sk),
        )),
    };
    let mut pages = db.pages(query.newest_first());
    let mut found = Vec::new();
    while let Some(page) = pages.next(Some(want - found.len() + 1)).await? {
        for item in page {
            let contact: Contact = crate::table::store::from_item(item)?;
            if contact.deleting || Some(contact.id) == after {
                continue;
            }
            found.push(contact);
            if found.len() >= want {
                return Ok(found);
            }
        }
    }
    Ok(found)
}

/// The ids on one side of the pool (with any of `kinds`), newest first.
async fn pool_ids(db: &Db, org: Uuid, pool: Pool, kinds: &[Kind]) -> Result<Vec<Uuid>, ApiError> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "SK")]
        sk: String,
        #[serde(default)]
        kind: Vec<Kind>,
    }
    let now = pool_bound(crate::clock::now());
    let side = match pool {
        Pool::InPool => SortKey::Above(now),
        Pool::Expired => SortKey::Below(now),
    };
    let entries: Vec<Entry> = db
        .query_all(Query::index(CONTACTS_BY_POOL_EXPIRY, &contacts_in_pool_pk(org)).sort(side))
        .await?;
    let mut ids: Vec<Uuid> = entries
        .into_iter()
        .filter(|entry| kinds.is_empty() || entry.kind.iter().any(|k| kinds.contains(k)))
        .filter_map(|entry| entry.sk.strip_prefix(CONTACT_PREFIX)?.parse().ok())
        .collect();
    ids.sort_unstable_by(|a: &Uuid, b| b.cmp(a));
    Ok(ids)
}

/// The visible contacts among `ids`, read consistently.
pub async fn by_ids(db: &Db, org: Uuid, ids: &[Uuid]) -> Result<HashMap<Uuid, Contact>, ApiError> {
    let keys = ids
        .iter()
        .map(|id| crate::table::store::key(&org_pk(org), &contact_sk(*id)))
        .collect();
    let mut found = HashMap::new();
    for item in db.batch_get(keys).await? {
        let contact: Contact = crate::table::store::from_item(item)?;
        if !contact.deleting {
            found.insert(contact.id, contact);
        }
    }
    Ok(found)
}

/// Every contact of the organization matching `filter`, newest first (ties by id).
/// This reads all of the organization's contacts: one paged Query.
async fn matching(db: &Db, org: Uuid, filter: &ContactFilter) -> Result<Vec<Contact>, ApiError> {
    let now = crate::clock::now();
    let mut contacts: Vec<Contact> = db
        .query_prefix::<Contact>(&org_pk(org), CONTACT_PREFIX)
        .await?
        .into_iter()
        .filter(|c| !c.deleting && filter.matches(c, now))
        .collect();
    contacts.reverse();
    Ok(contacts)
}
