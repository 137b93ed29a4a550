//! Contact search by index. Each contact has one entry per word it is found by
//! ([`contact_words`]), written and removed in the contact's own transaction. An entry
//! carries all of the contact's words, kinds and pool date, so a search reads the entries
//! of one query word only, its most selective, and checks everything else on them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Contact, Kind};
use crate::table::keys::{org_pk, search_prefix, search_sk};
use crate::table::query::{Query, SortKey};
use crate::table::store::Db;
use crate::table::txn;
use crate::ApiError;

/// How many distinct words of a contact are indexed (the first ones, in the order name,
/// email, company, role): each is an item in the contact's transactions.
pub const MAX_WORDS: usize = 24;

/// The longest `search` accepted, in characters and in words: each word is a query.
pub const MAX_SEARCH_CHARS: usize = 200;
pub const MAX_SEARCH_WORDS: usize = 8;

/// The entries read per query word in the first round trip while looking for the most
/// selective word; each further round reads twice as many, up to DynamoDB's 1,000. A word
/// that matches many contacts so costs about as much as the rarest one.
const FIRST_ROUND: usize = 25;

/// The words a contact is found by: those of its name, its email (the local part split on
/// `.`, `_`, `-` and `+`, and the domain's labels), company and role, without repeats.
pub fn contact_words(contact: &Contact) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let fields = [
        Some(&contact.full_name),
        contact.email.as_ref(),
        contact.company.as_ref(),
        contact.role.as_ref(),
    ];
    for word in fields
        .into_iter()
        .flatten()
        .flat_map(|f| crate::text::words(f))
    {
        if words.len() < MAX_WORDS && !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// What a search entry says about its contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub contact_id: Uuid,
    pub words: Vec<String>,
    #[serde(default)]
    pub kind: Vec<Kind>,
    #[serde(with = "crate::clock::rfc3339::option", default)]
    pub pool_expires_at: Option<OffsetDateTime>,
}

impl Entry {
    fn of(contact: &Contact) -> Self {
        Self {
            contact_id: contact.id,
            words: contact_words(contact),
            kind: contact.kind.clone(),
            pool_expires_at: contact.pool_expires_at,
        }
    }
}

/// The entry writes for a contact going from `before` to `after` (`None` for absent or
/// being deleted), to be written in the same transaction: nothing when no entry changes,
/// else every entry of `after` and the removal of words it no longer has.
pub fn entry_changes(
    org: Uuid,
    before: Option<&Contact>,
    after: Option<&Contact>,
) -> Result<Vec<crate::table::txn::Write>, ApiError> {
    let entry = |c: Option<&Contact>| c.filter(|c| !c.deleting).map(Entry::of);
    let (old, new) = (entry(before), entry(after));
    if old == new {
        return Ok(Vec::new());
    }
    let pk = org_pk(org);
    let mut items = Vec::new();
    if let Some(old) = &old {
        let kept = |word: &String| new.as_ref().is_some_and(|n| n.words.contains(word));
        for word in old.words.iter().filter(|w| !kept(w)) {
            items.push(txn::delete(&pk, &search_sk(word, old.contact_id), None));
        }
    }
    if let Some(new) = &new {
        for word in &new.words {
            let item = crate::table::store::to_item(
                new,
                &pk,
                &search_sk(word, new.contact_id),
                "contact_search",
            )?;
            items.push(txn::put(item, None));
        }
    }
    Ok(items)
}

/// A parsed `search` value: every word must match. A word with `@` is a whole email
/// address, matched exactly; any other is split like a contact's words, and each piece
/// must begin one of the contact's words.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Search {
    pub emails: Vec<String>,
    pub prefixes: Vec<String>,
}

impl Search {
    /// The query `raw` asks for, if it is within the limits.
    pub fn from_query(raw: &str) -> Result<Self, ApiError> {
        let search = Self::parse(raw);
        if raw.chars().count() > MAX_SEARCH_CHARS
            || search.emails.len() + search.prefixes.len() > MAX_SEARCH_WORDS
        {
            return Err(ApiError::query(
                "search",
                format_args!(
                    "takes at most {MAX_SEARCH_CHARS} characters and {MAX_SEARCH_WORDS} words."
                ),
            ));
        }
        Ok(search)
    }

    pub fn parse(raw: &str) -> Self {
        let mut search = Self::default();
        for word in raw.split_whitespace() {
            if word.contains('@') {
                search.emails.push(crate::text::fold(word));
            } else {
                for piece in crate::text::words(word) {
                    if !search.prefixes.contains(&piece) {
                        search.prefixes.push(piece);
                    }
                }
            }
        }
        search
    }

    /// The documented semantics, on a contact.
    pub fn matches(&self, contact: &Contact) -> bool {
        self.matching_entry(contact).is_some()
    }

    /// The contact's entry, when the contact matches.
    fn matching_entry(&self, contact: &Contact) -> Option<Entry> {
        let email = contact.email.as_deref().map(crate::text::fold);
        let entry = Entry::of(contact);
        self.matches_entry(&entry, email.as_deref())
            .then_some(entry)
    }

    fn matches_entry(&self, entry: &Entry, folded_email: Option<&str>) -> bool {
        (!self.emails.is_empty() || !self.prefixes.is_empty())
            && self.emails.iter().all(|e| folded_email == Some(e.as_str()))
            && self
                .prefixes
                .iter()
                .all(|p| entry.words.iter().any(|w| w.starts_with(p.as_str())))
    }
}

/// The entries that can match `search`, one per contact: for an email, the contact the
/// email marker names; otherwise the entries of the query word with the fewest, found by
/// reading every word's entries in growing rounds and stopping when the first runs out.
pub async fn candidates(db: &Db, org: Uuid, search: &Search) -> Result<Vec<Entry>, ApiError> {
    if let Some(email) = search.emails.first() {
        let found = super::find_by_email(db, org, email).await?;
        return Ok(found
            .and_then(|contact| search.matching_entry(&contact))
            .into_iter()
            .collect());
    }
    if search.prefixes.is_empty() {
        return Ok(Vec::new());
    }
    let pk = org_pk(org);
    let mut streams: Vec<_> = search
        .prefixes
        .iter()
        .map(|p| {
            (
                db.pages(Query::table(&pk).sort(SortKey::BeginsWith(search_prefix(p)))),
                Vec::new(),
            )
        })
        .collect();
    let mut round = FIRST_ROUND;
    let most_selective = loop {
        let rounds = futures_util::future::try_join_all(
            streams.iter_mut().map(|(pages, _)| pages.next(Some(round))),
        )
        .await?;
        round = (round * 2).min(1000);
        for ((_, read), page) in streams.iter_mut().zip(rounds) {
            read.extend(page.unwrap_or_default());
        }
        if let Some(done) = streams
            .iter()
            .enumerate()
            .filter(|(_, (pages, _))| pages.is_done())
            .min_by_key(|(_, (_, read))| read.len())
            .map(|(i, _)| i)
        {
            break std::mem::take(&mut streams[done].1);
        }
    };
    let mut entries = Vec::new();
    for item in most_selective {
        let entry: Entry = crate::table::store::from_item(item)?;
        if search.matches_entry(&entry, None) {
            entries.push(entry);
        }
    }
    // A contact has one entry per word, so a prefix can reach it more than once.
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.contact_id));
    entries.dedup_by_key(|entry| entry.contact_id);
    Ok(entries)
}
