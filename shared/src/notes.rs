//! Notes: the oldest-first timeline of a dossier.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::dossiers::dossier_sk;
use crate::events::{outbox_item, EventType};
use crate::ids::new_id;
use crate::pagination::PageParams;
use crate::table::keys::org_pk;
use crate::table::store::{from_item, key, n, s, to_item, Db};
use crate::table::txn::{self, Outcome, UpdateSpec};
use crate::validate::{self, MAX_TEXT};
use crate::{clock, ApiError};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: Uuid,
    pub dossier_id: Uuid,
    pub content: String,
    pub is_internal: bool,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    pub content: Option<String>,
    pub is_internal: Option<bool>,
}

use crate::table::keys::{note_counter_sk as counter_sk, note_prefix, note_sk};

fn dossier_not_found() -> ApiError {
    ApiError::not_found("Dossier not found.")
}

/// Adds a note, its dossier's note count and its `note.created` event in one
/// transaction that also proves the dossier exists. Archived dossiers take notes too.
pub async fn create(db: &Db, org: Uuid, dossier: Uuid, input: NewNote) -> Result<Note, ApiError> {
    let content = input
        .content
        .ok_or_else(|| ApiError::invalid("Field `content` is required."))?;
    let content = validate::required_text("content", &content, MAX_TEXT)?;
    let now = clock::now();
    let note = Note {
        id: new_id(),
        dossier_id: dossier,
        content,
        is_internal: input.is_internal.unwrap_or(true),
        created_at: now,
    };
    let pk = org_pk(org);
    let items = vec![
        txn::exists(db, &pk, &dossier_sk(dossier)),
        txn::put(
            db,
            to_item(&note, &pk, &note_sk(dossier, note.id), "note")?,
            None,
        ),
        txn::update(
            db,
            UpdateSpec {
                pk: pk.clone(),
                sk: counter_sk(dossier),
                expression: "ADD notes :one".into(),
                condition: None,
                names: Vec::new(),
                values: vec![(":one".into(), n(1))],
            },
        ),
        txn::put(
            db,
            outbox_item(org, EventType::NoteCreated, &note, now)?,
            None,
        ),
    ];
    let mut retry = txn::Retry::default();
    while retry.next().await {
        match txn::write(db, items.clone()).await? {
            Ok(()) => return Ok(note),
            Err(Outcome::ConditionFailed(_)) => return Err(dossier_not_found()),
            Err(Outcome::Conflict) => continue,
        }
    }
    Err(ApiError::internal("note create kept conflicting"))
}

pub struct NotePage {
    pub notes: Vec<Note>,
    pub total: u64,
}

/// One page of a dossier's notes, oldest first, with the exact total.
pub async fn list(
    db: &Db,
    org: Uuid,
    dossier: Uuid,
    page: PageParams,
) -> Result<NotePage, ApiError> {
    let pk = org_pk(org);
    let (exists, counter, notes) = tokio::join!(
        db.client
            .get_item()
            .table_name(&db.table)
            .set_key(Some(key(&pk, &dossier_sk(dossier))))
            .projection_expression("PK")
            .send(),
        db.client
            .get_item()
            .table_name(&db.table)
            .set_key(Some(key(&pk, &counter_sk(dossier))))
            .consistent_read(true)
            .send(),
        query(db, &pk, dossier, page)
    );
    if exists?.item.is_none() {
        return Err(dossier_not_found());
    }
    let total = match counter?.item.and_then(|mut item| item.remove("notes")) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    };
    Ok(NotePage {
        notes: notes?,
        total,
    })
}

async fn query(db: &Db, pk: &str, dossier: Uuid, page: PageParams) -> Result<Vec<Note>, ApiError> {
    let mut notes = Vec::new();
    let mut to_skip = page.offset();
    let mut start = None;
    loop {
        let out = db
            .client
            .query()
            .table_name(&db.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(note_prefix(dossier)))
            .limit((to_skip + page.per_page as usize - notes.len()).min(1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in out.items.unwrap_or_default() {
            if to_skip > 0 {
                to_skip -= 1;
                continue;
            }
            notes.push(from_item(item)?);
            if notes.len() == page.per_page as usize {
                return Ok(notes);
            }
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok(notes);
        }
    }
}
