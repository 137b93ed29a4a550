//! Creating and updating a contact, with its email marker, counters and pool window in the
//! same transaction.

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::table::keys::org_pk;
use crate::table::store::Db;
use crate::ApiError;

use super::{email_marker, email_sk, get, index_writes, marker_owner, Contact, Kind};

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

/// A LinkedIn profile's address, parsed as a URL: https, on linkedin.com or one of its
/// subdomains, without credentials or a port, and stored as the URL serializes (so that
/// what a page shows is what the parser understood, never markup or a script URL).
fn linkedin(value: &str) -> Result<String, ApiError> {
    let value = crate::domain::validate::text("linkedin_url", value, MAX_URL)?;
    let refused = || {
        ApiError::field(
            "linkedin_url",
            "must be an https URL on linkedin.com, such as https://www.linkedin.com/in/name.",
        )
    };
    let url = url::Url::parse(&value).map_err(|_| refused())?;
    let on_linkedin = url.host_str().is_some_and(|host| {
        host == "linkedin.com"
            || host
                .strip_suffix(".linkedin.com")
                .is_some_and(|sub| !sub.is_empty())
    });
    if url.scheme() != "https"
        || !on_linkedin
        || url.port().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(refused());
    }
    let stored = url.to_string();
    if stored.chars().count() > MAX_URL {
        return Err(ApiError::field(
            "linkedin_url",
            format_args!("is longer than {MAX_URL} characters once written as a URL."),
        ));
    }
    Ok(stored)
}

/// Twice the number of kinds: room for repeats, none for a list no person wrote.
const MAX_KIND_VALUES: usize = 2 * Kind::ALL.len();

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
    /// of a contact that becomes a candidate without an explicit `pool_expires_at`. Only
    /// an input with `kind` can do that, so only such an input needs `pool_days` (the
    /// organization's, a read).
    pub fn apply(
        self,
        contact: &mut Contact,
        now: OffsetDateTime,
        pool_days: Option<u32>,
    ) -> Result<(), ApiError> {
        use crate::domain::validate::{
            email, optional_text, required_text, MAX_PHONE, MAX_SHORT, MAX_TEXT,
        };
        let was_candidate = contact.kind.contains(&Kind::Candidate);
        if let Some(name) = self.full_name {
            let name = name.ok_or_else(|| ApiError::field("full_name", "cannot be null."))?;
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
            let kinds = kinds.unwrap_or_default();
            if kinds.len() > MAX_KIND_VALUES {
                return Err(ApiError::field(
                    "kind",
                    format_args!("lists at most {MAX_KIND_VALUES} values."),
                ));
            }
            contact.kind = dedupe(kinds);
        }
        // The talent pool holds candidates only: a contact that is not one has no window.
        let is_candidate = contact.kind.contains(&Kind::Candidate);
        match self.pool_expires_at {
            Some(Some(raw)) => {
                let at = crate::clock::parse(&raw).ok_or_else(|| {
                    ApiError::field(
                        "pool_expires_at",
                        "must be an RFC 3339 timestamp from year 0000 to 9999 in UTC, or null.",
                    )
                })?;
                if !is_candidate {
                    return Err(ApiError::field("pool_expires_at", "applies to candidates only: give the contact the kind 'candidate', or send null."));
                }
                contact.pool_expires_at = Some(at);
            }
            Some(None) => contact.pool_expires_at = None,
            None if !is_candidate => contact.pool_expires_at = None,
            None if !was_candidate => {
                let days = pool_days.ok_or_else(|| {
                    ApiError::internal("a contact became a candidate without its pool days")
                })?;
                contact.pool_expires_at = Some(now + time::Duration::days(days as i64));
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

/// Creates a contact and its email marker in one transaction: of two racing creates with
/// the same email, exactly one commits; the other gets 409 `duplicate_contact`.
pub async fn create(db: &Db, org: Uuid, input: ContactInput) -> Result<Contact, ApiError> {
    let (contact, items) = creation(db, org, input).await?;
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

/// A new contact from `input`, and the items of the transaction that creates it.
pub async fn creation(
    db: &Db,
    org: Uuid,
    input: ContactInput,
) -> Result<(Contact, Vec<aws_sdk_dynamodb::types::TransactWriteItem>), ApiError> {
    if !matches!(input.full_name, Some(Some(_))) {
        return Err(ApiError::field("full_name", "is required."));
    }
    let pool_days = pool_days(db, org).await?;
    let now = crate::clock::now();
    let mut contact = Contact {
        version: 1,
        ..Contact::new(String::new(), now)
    };
    input.apply(&mut contact, now, Some(pool_days))?;
    let mut items = vec![crate::table::txn::put(
        db,
        contact.item(org)?,
        Some("attribute_not_exists(PK)"),
    )];
    items.extend(index_writes(db, org, None, Some(&contact))?);
    if let Some(email) = &contact.email {
        items.push(crate::table::txn::put(
            db,
            email_marker(org, email, contact.id),
            Some("attribute_not_exists(PK)"),
        ));
    }
    Ok((contact, items))
}

/// The talent-pool window an organization gives new candidates, in days.
pub async fn pool_days(db: &Db, org: Uuid) -> Result<u32, ApiError> {
    Ok(crate::domain::orgs::get_org(db, org)
        .await?
        .map(|o| o.pool_days)
        .unwrap_or(crate::domain::orgs::DEFAULT_POOL_DAYS))
}

/// A contact's next version and the transaction items that write it: the contact under a
/// version condition, its index entries, and a changed email's marker moved (the old
/// address freed, the new one claimed). Its own transaction, or part of a dossier's.
#[derive(Clone, Debug)]
pub struct ContactChange {
    pub next: Contact,
    pub items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
}

impl ContactChange {
    /// `patch` applied to `current`; `None` when it alters nothing.
    pub fn of(
        db: &Db,
        org: Uuid,
        current: &Contact,
        patch: ContactInput,
        pool_days: Option<u32>,
    ) -> Result<Option<Self>, ApiError> {
        let mut next = current.clone();
        let now = crate::clock::now();
        patch.apply(&mut next, now, pool_days)?;
        let mut unchanged = next.clone();
        unchanged.updated_at = current.updated_at;
        if unchanged == *current {
            return Ok(None);
        }
        next.updated_at = now;
        next.version = current.version + 1;
        let mut items = vec![crate::table::txn::put_versioned(
            db,
            next.item(org)?,
            current.version,
        )];
        items.extend(index_writes(db, org, Some(current), Some(&next))?);
        let old_email = current.email.as_deref().map(crate::text::fold);
        let new_email = next.email.as_deref().map(crate::text::fold);
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
                    email_marker(org, new, current.id),
                    Some("attribute_not_exists(PK)"),
                ));
            }
        }
        Ok(Some(Self { next, items }))
    }

    /// After a transaction with this change failed a condition: 409 `duplicate_contact`
    /// when the new email belongs to another contact, `None` when the failure was a
    /// concurrent write, which a fresh read resolves.
    pub async fn refusal(&self, db: &Db, org: Uuid) -> Result<Option<ApiError>, ApiError> {
        let Some(email) = self.next.email.as_deref() else {
            return Ok(None);
        };
        Ok(marker_owner(db, org, email)
            .await?
            .filter(|owner| *owner != self.next.id)
            .map(duplicate))
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
) -> Result<Contact, ApiError> {
    let pool_days = pool_days(db, org).await?;
    let mut retry = crate::table::txn::Retry::default();
    while retry.next().await {
        let current = get(db, org, id)
            .await?
            .ok_or_else(|| ApiError::not_found("Contact not found."))?;
        precondition.check(current.version, "contact")?;
        let Some(change) = ContactChange::of(db, org, &current, patch.clone(), Some(pool_days))?
        else {
            return Ok(current);
        };
        match crate::table::txn::write(db, change.items.clone()).await? {
            Ok(()) => return Ok(change.next),
            Err(crate::table::txn::Outcome::ConditionFailed(reasons))
                if reasons.first().is_some_and(Option::is_none) =>
            {
                if let Some(refusal) = change.refusal(db, org).await? {
                    return Err(refusal);
                }
            }
            Err(_) => {}
        }
    }
    Err(ApiError::internal("contact update kept conflicting"))
}

#[cfg(test)]
mod tests {
    use super::linkedin;

    #[test]
    fn a_linkedin_url_is_an_https_url_on_linkedin_stored_as_parsed() {
        assert_eq!(
            linkedin("https://www.linkedin.com/in/sophie").unwrap(),
            "https://www.linkedin.com/in/sophie"
        );
        assert_eq!(
            linkedin("https://WWW.LinkedIn.com/in/sophie van dijk").unwrap(),
            "https://www.linkedin.com/in/sophie%20van%20dijk"
        );
        assert_eq!(
            linkedin("https://linkedin.com").unwrap(),
            "https://linkedin.com/"
        );
        for refused in [
            r#"https://x"><svg/onload=alert(1)>"#,
            "http://javascript:alert(1)//",
            "javascript:alert(1)",
            "https://evil.example/login",
            "https://linkedin.com.evil.example/in/x",
            "https://evillinkedin.com/in/x",
            "https://.linkedin.com/in/x",
            "http://www.linkedin.com/in/x",
            "https://user:pass@www.linkedin.com/in/x",
            "https://www.linkedin.com:8443/in/x",
            "linkedin.com/in/x",
        ] {
            let err = linkedin(refused).unwrap_err();
            assert_eq!(err.param(), Some("linkedin_url"), "{refused}");
        }
    }
}
