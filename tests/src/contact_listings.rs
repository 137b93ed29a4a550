//! The reference contact listings are checked against: the documented semantics of
//! `GET /contacts` judged on every contact the table holds, with no index involved.

use shared::domain::contacts::{search::Search, Contact, ContactFilter, Kind, Pool};
use time::OffsetDateTime;
use uuid::Uuid;

/// Every visible contact of the organization, read from the table.
pub async fn all_contacts(org: Uuid) -> Vec<Contact> {
    crate::stack()
        .await
        .core()
        .db
        .query_prefix::<Contact>(
            &shared::table::keys::org_pk(org),
            shared::domain::contacts::CONTACT_PREFIX,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|c| !c.deleting)
        .collect()
}

/// The filter a `GET /contacts` query string asks for, read as the handler reads it.
pub fn filter(query: &str) -> ContactFilter {
    let mut filter = ContactFilter {
        kinds: Vec::new(),
        pool: None,
        search: None,
    };
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "kind" => filter.kinds.push(Kind::parse(&value).unwrap()),
            "pool" => filter.pool = Some(Pool::parse(&value).unwrap()),
            "search" if !value.trim().is_empty() => filter.search = Some(Search::parse(&value)),
            "search" => {}
            other => panic!("not a contact filter: {other}"),
        }
    }
    filter
}

/// The ids and total the documented semantics give for `query` at `now`, in the
/// documented order: newest first; with `pool=in_pool` soonest expiry first, with
/// `pool=expired` latest expiry first, ties by id in the same direction.
pub fn expected(all: &[Contact], query: &str, now: OffsetDateTime) -> (Vec<String>, u64) {
    let filter = filter(query);
    let mut found: Vec<(Option<OffsetDateTime>, Uuid)> = all
        .iter()
        .filter(|c| filter.matches(c, now))
        .map(|c| (c.pool_expires_at, c.id))
        .collect();
    match filter.pool {
        None => found.sort_unstable_by_key(|(_, id)| std::cmp::Reverse(*id)),
        Some(Pool::InPool) => found.sort_unstable(),
        Some(Pool::Expired) => found.sort_unstable_by(|a, b| b.cmp(a)),
    }
    let total = found.len() as u64;
    (
        found.into_iter().map(|(_, id)| id.to_string()).collect(),
        total,
    )
}
