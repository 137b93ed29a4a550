//! Contacts, their per-organization email uniqueness markers, and dossier links.

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
    db.get(&org_pk(org), &contact_sk(id)).await
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
