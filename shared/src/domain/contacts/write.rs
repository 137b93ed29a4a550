//! Creating and updating a contact, with its email marker, counters and pool window in the
//! same transaction.

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::fields::{
    not_null, Email, Instant, Line, LinkedInUrl, Name, Patch, Phone, Prose,
};
use crate::domain::outbox::{outbox_item, EventType};
use crate::table::keys::org_pk;
use crate::table::store::Db;
use crate::table::txn::{self, Step, Transaction};
use crate::ApiError;

use super::{email_marker, email_sk, get, index_writes, marker_owner, Contact, Kind};

/// The writable fields of a contact, for `POST` (absent means unset) and `PATCH` (absent
/// means unchanged, `null` clears).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default, deserialize_with = "not_null")]
    pub full_name: Option<Name>,
    #[serde(default)]
    pub email: Patch<Email>,
    #[serde(default)]
    pub phone: Patch<Phone>,
    #[serde(default)]
    pub linkedin_url: Patch<LinkedInUrl>,
    #[serde(default)]
    pub company: Patch<Line>,
    #[serde(default)]
    pub role: Patch<Line>,
    #[serde(default)]
    pub city: Patch<Line>,
    #[serde(default)]
    pub kind: Patch<Kinds>,
    #[serde(default)]
    pub notes: Patch<Prose>,
    #[serde(default)]
    pub pool_expires_at: Patch<Instant>,
}

/// A contact's kinds as given: repeats dropped, at most [`Kinds::MAX_VALUES`] values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Kinds(Vec<Kind>);

impl Kinds {
    /// Twice the number of kinds: room for repeats, none for a list no person wrote.
    pub const MAX_VALUES: usize = 2 * Kind::ALL.len();
}

impl<'de> Deserialize<'de> for Kinds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let given = Vec::<Kind>::deserialize(deserializer)?;
        if given.len() > Self::MAX_VALUES {
            return Err(serde::de::Error::custom(format_args!(
                "{}lists at most {} values.",
                crate::domain::fields::RULE,
                Self::MAX_VALUES
            )));
        }
        let mut kinds = Vec::new();
        for kind in given {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        Ok(Self(kinds))
    }
}

impl ContactInput {
    /// Applies the input to `contact`; `now` and `pool_days` start the talent-pool window
    /// of a contact that becomes a candidate without an explicit `pool_expires_at`. Only
    /// an input with `kind` can do that, so only such an input needs `pool_days` (the
    /// organization's, a read).
    pub fn apply(
        self,
        contact: &mut Contact,
        now: OffsetDateTime,
        pool_days: Option<u32>,
    ) -> Result<(), ApiError> {
        let was_candidate = contact.kind.contains(&Kind::Candidate);
        if let Some(name) = self.full_name {
            contact.full_name = name.into_string();
        }
        self.email.update(&mut contact.email);
        self.phone.update(&mut contact.phone);
        self.linkedin_url.update(&mut contact.linkedin_url);
        self.company.update(&mut contact.company);
        self.role.update(&mut contact.role);
        self.city.update(&mut contact.city);
        self.notes.update(&mut contact.notes);
        match self.kind {
            Patch::Absent => {}
            Patch::Null => contact.kind = Vec::new(),
            Patch::Set(Kinds(kinds)) => contact.kind = kinds,
        }
        // The talent pool holds candidates only: a contact that is not one has no window.
        let is_candidate = contact.kind.contains(&Kind::Candidate);
        match self.pool_expires_at {
            Patch::Set(Instant(at)) => {
                if !is_candidate {
                    return Err(ApiError::field("pool_expires_at", "applies to candidates only: give the contact the kind 'candidate', or send null."));
                }
                contact.pool_expires_at = Some(at);
            }
            Patch::Null => contact.pool_expires_at = None,
            Patch::Absent if !is_candidate => contact.pool_expires_at = None,
            Patch::Absent if !was_candidate => {
                let days = pool_days.ok_or_else(|| {
                    ApiError::internal("a contact became a candidate without its pool days")
                })?;
                contact.pool_expires_at = Some(now + time::Duration::days(days as i64));
            }
            Patch::Absent => {}
        }
        Ok(())
    }
}

/// What a contact's write may be refused for.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The email's marker was held when `contact` tried to claim it.
    EmailTaken { email: String, contact: Uuid },
}

impl Refusal {
    /// The error for the client, 409 `duplicate_contact` naming the contact that has the
    /// email; `None` when no other contact holds it any more (it was freed meanwhile), and
    /// the write may be tried again.
    pub async fn explain(self, db: &Db, org: Uuid) -> Result<Option<ApiError>, ApiError> {
        let Refusal::EmailTaken { email, contact } = self;
        Ok(marker_owner(db, org, &email)
            .await?
            .filter(|owner| *owner != contact)
            .map(|owner| {
                ApiError::DuplicateContact(format!(
                    "A contact with this email already exists in your organization: {owner}."
                ))
            }))
    }
}

/// [`txn::read_modify_write`] of a write that claims an email, until it commits or another
/// contact holds the address: a refusal whose address was freed meanwhile (its holder
/// deleted or changed) is decided again, within the same retry budget.
pub async fn claiming_email<T, F, Fut>(
    db: &Db,
    org: Uuid,
    what: &str,
    mut decide: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Step<T, Refusal>, ApiError>>,
{
    let mut retry = txn::Retry::default();
    loop {
        match txn::read_modify_write_within(db, what, &mut retry, &mut decide).await? {
            Ok(written) => return Ok(written),
            Err(refusal) => {
                if let Some(taken) = refusal.explain(db, org).await? {
                    return Err(taken);
                }
            }
        }
    }
}

/// Creates a contact and its email marker in one transaction: of two racing creates with
/// the same email, exactly one commits; the other gets 409 `duplicate_contact`.
pub async fn create(
    db: &Db,
    org: Uuid,
    input: ContactInput,
    now: OffsetDateTime,
) -> Result<Contact, ApiError> {
    let (contact, transaction) = creation(db, org, input, now).await?;
    claiming_email(db, org, "contact create", || async {
        Ok(Step::Write(contact.clone(), transaction.clone()))
    })
    .await
}

/// A new contact from `input`, and the transaction that creates it.
pub async fn creation(
    db: &Db,
    org: Uuid,
    input: ContactInput,
    now: OffsetDateTime,
) -> Result<(Contact, Transaction<Refusal>), ApiError> {
    if input.full_name.is_none() {
        return Err(ApiError::field("full_name", "is required."));
    }
    let pool_days = pool_days(db, org).await?;
    let mut contact = Contact {
        version: 1,
        ..Contact::new(String::new(), now)
    };
    input.apply(&mut contact, now, Some(pool_days))?;
    let mut transaction = Transaction::new();
    transaction.push(txn::put(
        contact.item(org)?,
        Some("attribute_not_exists(PK)"),
    ));
    transaction.push(txn::put(
        outbox_item(org, EventType::ContactCreated, &contact, now)?,
        None,
    ));
    transaction.extend(index_writes(org, None, Some(&contact))?);
    if let Some(email) = &contact.email {
        transaction.push_refusing(
            txn::put(
                email_marker(org, email, contact.id),
                Some("attribute_not_exists(PK)"),
            ),
            Refusal::EmailTaken {
                email: email.clone(),
                contact: contact.id,
            },
        );
    }
    Ok((contact, transaction))
}

/// The talent-pool window an organization gives new candidates, in days.
pub async fn pool_days(db: &Db, org: Uuid) -> Result<u32, ApiError> {
    Ok(crate::domain::orgs::get_org(db, org)
        .await?
        .map(|o| o.pool_days)
        .unwrap_or(crate::domain::orgs::DEFAULT_POOL_DAYS))
}

/// A contact's next version and the transaction that writes it: the contact under a
/// version condition, its index entries, and a changed email's marker moved (the old
/// address freed, the new one claimed, refused if another contact has it). Its own
/// transaction, or part of a dossier's.
#[derive(Clone, Debug)]
pub struct ContactChange {
    pub next: Contact,
    pub transaction: Transaction<Refusal>,
}

impl ContactChange {
    /// `patch` applied to `current`; `None` when it alters nothing.
    pub fn of(
        org: Uuid,
        current: &Contact,
        patch: ContactInput,
        pool_days: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<Option<Self>, ApiError> {
        let mut next = current.clone();
        patch.apply(&mut next, now, pool_days)?;
        let mut unchanged = next.clone();
        unchanged.updated_at = current.updated_at;
        if unchanged == *current {
            return Ok(None);
        }
        next.updated_at = now;
        next.version = current.version + 1;
        let mut transaction = Transaction::new();
        transaction.push(txn::put_versioned(next.item(org)?, current.version));
        transaction.push(txn::put(
            outbox_item(org, EventType::ContactUpdated, &next, now)?,
            None,
        ));
        transaction.extend(index_writes(org, Some(current), Some(&next))?);
        let old_email = current.email.as_deref().map(crate::text::fold);
        let new_email = next.email.as_deref().map(crate::text::fold);
        if old_email != new_email {
            if let Some(old) = &current.email {
                transaction.push(txn::delete(&org_pk(org), &email_sk(old), None));
            }
            if let Some(new) = &next.email {
                transaction.push_refusing(
                    txn::put(
                        email_marker(org, new, current.id),
                        Some("attribute_not_exists(PK)"),
                    ),
                    Refusal::EmailTaken {
                        email: new.clone(),
                        contact: current.id,
                    },
                );
            }
        }
        Ok(Some(Self { next, transaction }))
    }
}

/// Applies a PATCH with a version check; a changed email moves its marker in the same
/// transaction (freeing the old address, claiming the new one or answering 409).
pub async fn update(
    db: &Db,
    org: Uuid,
    id: Uuid,
    patch: ContactInput,
    precondition: &crate::table::txn::Precondition,
    now: OffsetDateTime,
) -> Result<Contact, ApiError> {
    let pool_days = pool_days(db, org).await?;
    let patch = &patch;
    claiming_email(db, org, "contact update", || async {
        let current = get(db, org, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Contact not found."))?;
        precondition.check(current.version, "contact")?;
        Ok(
            match ContactChange::of(org, &current, patch.clone(), Some(pool_days), now)? {
                None => Step::Done(current),
                Some(change) => Step::Write(change.next, change.transaction),
            },
        )
    })
    .await
}
