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

/// The ids (newest first) and total the documented semantics give for `query` at `now`.
pub fn expected(all: &[Contact], query: &str, now: OffsetDateTime) -> (Vec<String>, u64) {
    let filter = filter(query);
    let mut ids: Vec<Uuid> = all
        .iter()
        .filter(|c| filter.matches(c, now))
        .map(|c| c.id)
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let total = ids.len() as u64;
    (ids.into_iter().map(|id| id.to_string()).collect(), total)
}
