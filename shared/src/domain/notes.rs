//! Notes: the oldest-first timeline of a dossier.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::dossiers::dossier_sk;
use crate::domain::fields::{Filled, MAX_TEXT};
use crate::domain::outbox::{outbox_item, EventType};
use crate::domain::pagination::Position;
use crate::ids::new_id;
use crate::table::keys::org_pk;
use crate::table::query::{Query, SortKey};
use crate::table::store::{from_item, n, to_item, Db};
use crate::table::txn::{self, Step, Transaction, UpdateSpec};
use crate::ApiError;

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
    pub content: Option<Filled<MAX_TEXT>>,
    pub is_internal: Option<bool>,
}

use crate::table::keys::{note_counter_sk as counter_sk, note_prefix, note_sk};

/// Adds a note, its dossier's note count and its `note.created` event in one
/// transaction that also proves the dossier exists. Archived dossiers take notes too.
pub async fn create(
    db: &Db,
    org: Uuid,
    dossier: Uuid,
    input: NewNote,
    now: OffsetDateTime,
) -> Result<Note, ApiError> {
    let content = input
        .content
        .ok_or_else(|| ApiError::field("content", "is required."))?;
    let content = content.into_string();
    let note = Note {
        id: new_id(),
        dossier_id: dossier,
        content,
        is_internal: input.is_internal.unwrap_or(true),
        created_at: now,
    };
    let pk = org_pk(org);
    let mut transaction = Transaction::new();
    transaction.push_refusing(
        txn::exists(&pk, &dossier_sk(dossier)),
        ApiError::dossier_not_found(),
    );
    transaction.push(txn::put(
        to_item(&note, &pk, &note_sk(dossier, note.id), "note")?,
        None,
    ));
    transaction.push(txn::update(UpdateSpec {
        pk: pk.clone(),
        sk: counter_sk(dossier),
        expression: "ADD notes :one".into(),
        condition: None,
        names: Vec::new(),
        values: vec![(":one".into(), n(1))],
    }));
    transaction.push(txn::put(
        outbox_item(org, EventType::NoteCreated, &note, now)?,
        None,
    ));
    txn::read_modify_write(db, "note create", || async {
        Ok(Step::Write(note.clone(), transaction.clone()))
    })
    .await?
}

pub struct NotePage {
    pub notes: Vec<Note>,
    pub total: u64,
    pub next_cursor: Option<Uuid>,
}

/// One page of a dossier's notes, oldest first, with the exact total. A cursor page starts
/// at the note after the cursor's, read by key, so it costs the same at any depth.
pub async fn list(
    db: &Db,
    org: Uuid,
    dossier: Uuid,
    position: &Position,
) -> Result<NotePage, ApiError> {
    let pk = org_pk(org);
    // The dossier's existence is read consistently, like the notes: a dossier created a
    // moment ago lists its (no) notes rather than a 404.
    let dossier_key = [crate::table::schema::PK.to_string()];
    let (dossier_sk, counter_sk) = (dossier_sk(dossier), counter_sk(dossier));
    let (exists, counter, notes) = tokio::join!(
        db.read_item(&pk, &dossier_sk, &dossier_key),
        db.get_item(&pk, &counter_sk),
        query(db, &pk, dossier, position)
    );
    if exists?.0.is_none() {
        return Err(ApiError::dossier_not_found());
    }
    let total = counter?.map_or(0, |item| {
        crate::table::store::counter(&item, "notes").max(0) as u64
    });
    let (notes, next_cursor) = notes?;
    Ok(NotePage {
        notes,
        total,
        next_cursor,
    })
}

/// The page's notes, and the cursor to the next page when there is one.
async fn query(
    db: &Db,
    pk: &str,
    dossier: Uuid,
    position: &Position,
) -> Result<(Vec<Note>, Option<Uuid>), ApiError> {
    let (mut to_skip, per_page, after) = position.bounds();
    let sort = match after {
        // UUID text sorts below '~', so this reads every note key after the cursor's.
        Some(after) => SortKey::Between(
            note_sk(dossier, after),
            format!("{}~", note_prefix(dossier)),
        ),
        None => SortKey::BeginsWith(note_prefix(dossier)),
    };
    let mut pages = db.pages(Query::table(pk).sort(sort));
    let mut notes = Vec::new();
    while let Some(items) = pages
        .next(Some(to_skip + per_page + 1 - notes.len()))
        .await?
    {
        for item in items {
            if to_skip > 0 {
                to_skip -= 1;
                continue;
            }
            let note: Note = from_item(item)?;
            if Some(note.id) == after {
                continue;
            }
            notes.push(note);
            if notes.len() > per_page {
                notes.truncate(per_page);
                let next = notes.last().map(|note| note.id);
                return Ok((notes, next));
            }
        }
    }
    Ok((notes, None))
}
