//! Contact search, kind and pool listings against a full scan: a few thousand contacts with
//! random names, emails, companies, roles, kinds and pool dates; every combination must
//! return exactly the set, total and order that the documented semantics give when judged
//! on every contact, also after updates, deletes and a move of the clock.

use futures_util::StreamExt;
use integration_tests::contact_listings::{all_contacts, expected, filter};
use integration_tests::{growth_org, stack, TestOrg};
use serde_json::{json, Value};
use shared::clock::Clock;
use shared::domain::contacts::Contact;
use shared::domain::pagination::Position;
use time::{Duration, OffsetDateTime};

/// A small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const FIRST: &[&str] = &[
    "Sophie", "Sofia", "Mark", "Marco", "José", "Jose", "Anna", "Anne", "Ann", "Ben", "Benoît",
    "Li", "Lin", "Zoë", "Øyvind", "Jean-Luc", "Marie", "María",
];
const LAST: &[&str] = &[
    "van Dijk", "de Vries", "Janssen", "García", "Garcia", "O'Brien", "Müller", "Mueller",
    "Bakker", "Smit", "Li", "Nguyen",
];
const COMPANY: &[&str] = &[
    "Adyen",
    "Acme",
    "Rabobank",
    "Bol.com",
    "ING",
    "Ahold Delhaize",
    "Booking",
    "Mollie",
];
const ROLE: &[&str] = &[
    "Senior Frontend Engineer",
    "CTO",
    "Recruiter",
    "Sales Lead",
    "Data Engineer",
    "Head of Sales",
];
const DOMAIN: &[&str] = &["example.com", "mail.nl", "adyen.com", "booking.com"];
const KINDS: &[&str] = &["candidate", "prospect", "client", "supplier", "partner"];

fn random_contact(rng: &mut Rng, i: usize, now: OffsetDateTime) -> Value {
    let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
    let kinds: Vec<&str> = KINDS
        .iter()
        .copied()
        .filter(|_| rng.below(3) == 0)
        .collect();
    let mut body = json!({
        "full_name": format!("{first} {last}"),
        "kind": kinds,
    });
    if rng.below(5) != 0 {
        let local = format!("{}.{}+{i}", first.to_lowercase(), last.replace(' ', "_"));
        body["email"] = json!(format!("{local}@{}", rng.pick(DOMAIN)));
    }
    if rng.below(4) != 0 {
        body["company"] = json!(rng.pick(COMPANY));
    }
    if rng.below(3) != 0 {
        body["role"] = json!(rng.pick(ROLE));
    }
    if kinds.contains(&"candidate") && rng.below(2) == 0 {
        // From ten days ago to twenty days on, so that moving the clock moves contacts:
        // some on whole hours from now (a few exactly at a moment the listings are
        // checked), some anywhere in their hour, and a quarter within two hours or one
        // minute of a moment checked (now, and ten days on), so that every level of
        // expiry bucket and the current minute hold contacts on both sides.
        let offset = if rng.below(4) == 0 {
            let moment = Duration::days(10 * rng.below(2) as i64);
            let spread = [120_000, 4 * 3_600_000][rng.below(2)];
            moment + Duration::milliseconds(rng.below(spread) as i64 - spread as i64 / 2)
        } else {
            let hours = Duration::hours(rng.below(24 * 30) as i64 - 24 * 10);
            hours + Duration::milliseconds([0, rng.below(3_600_000) as i64][rng.below(2)])
        };
        body["pool_expires_at"] = json!((now + offset)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap());
    }
    body
}

/// Every id the listing returns for `query`, following its cursors, and its total. The
/// domain call behind `GET /contacts`, so that thousands of listings meet no rate limit.
async fn listed(org: &TestOrg, query: &str, now: OffsetDateTime) -> (Vec<String>, u64) {
    let db = stack().await.core().db;
    let filter = filter(query);
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let position = Position::After {
            cursor,
            per_page: 100,
        };
        let page = shared::domain::contacts::list(&db, org.id, &filter, &position, now)
            .await
            .unwrap();
        ids.extend(page.items.iter().map(|c| c.id.to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (ids, page.total),
        }
    }
}

/// Searches drawn from what the contacts hold: word prefixes of every length, whole words
/// with and without accents, two words, an email in another case, and words that match
/// nothing.
fn searches(rng: &mut Rng, all: &[Contact]) -> Vec<String> {
    let mut out = vec![
        "jose".to_string(),
        "JOSÉ".to_string(),
        "garc".to_string(),
        "van dijk".to_string(),
        "o'brien".to_string(),
        "muller".to_string(),
        "bol.com".to_string(),
        "senior engineer".to_string(),
        "example".to_string(),
        "zzzz".to_string(),
        "---".to_string(),
        "phie".to_string(),
    ];
    for _ in 0..12 {
        let contact = &all[rng.below(all.len())];
        let words = shared::text::words(&contact.full_name);
        let word = &words[rng.below(words.len())];
        let cut = 1 + rng.below(word.chars().count());
        out.push(word.chars().take(cut).collect());
    }
    for _ in 0..4 {
        let contact = &all[rng.below(all.len())];
        if let (Some(email), Some(company)) = (&contact.email, &contact.company) {
            out.push(email.to_uppercase());
            out.push(format!(
                "{} {company}",
                contact.full_name.split(' ').next().unwrap()
            ));
        }
    }
    out
}

async fn check_all(org: &TestOrg, now: OffsetDateTime, searches: &[String]) -> usize {
    let all = all_contacts(org.id).await;
    let mut queries = Vec::new();
    for kinds in ["", "kind=candidate&", "kind=client&kind=partner&"] {
        for pool in ["", "pool=in_pool&", "pool=expired&"] {
            queries.push(format!("{kinds}{pool}").trim_end_matches('&').to_string());
            for search in searches {
                let search: String = form_urlencoded::byte_serialize(search.as_bytes()).collect();
                queries.push(format!("{kinds}{pool}search={search}"));
            }
        }
    }
    let checked = queries.len();
    let results: Vec<_> = futures_util::stream::iter(queries)
        .map(|query| async move {
            let got = listed(org, &query, now).await;
            (query, got)
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut nonempty = 0;
    for (query, (ids, total)) in results {
        let (want, want_total) = expected(&all, &query, now);
        let first_difference = ids
            .iter()
            .zip(&want)
            .enumerate()
            .find(|(_, (got, wanted))| got != wanted)
            .map(|(i, _)| {
                let shown = |id: &String| {
                    let c = all.iter().find(|c| c.id.to_string() == *id);
                    format!("{id} (pool_expires_at {:?})", c.map(|c| c.pool_expires_at))
                };
                let window = |list: &[String]| {
                    list[i.saturating_sub(2)..(i + 3).min(list.len())]
                        .iter()
                        .map(shown)
                        .collect::<Vec<_>>()
                };
                format!("at {i}: {:#?}, expected {:#?}", window(&ids), window(&want))
            });
        assert!(
            ids == want && total == want_total,
            "{query}: total {total}, expected {want_total}; {} ids, expected {}; first difference {first_difference:?}",
            ids.len(),
            want.len()
        );
        nonempty += usize::from(!ids.is_empty());
    }
    assert!(
        nonempty * 2 > checked,
        "most queries match something: {nonempty} of {checked}"
    );
    checked
}

#[tokio::test]
async fn search_kind_and_pool_listings_equal_a_full_scan_through_changes_and_time() {
    let org = growth_org().await;
    let core = stack().await.core();
    let now = shared::clock::now();
    let mut rng = Rng(20261129);
    let bodies: Vec<Value> = (0..2_000)
        .map(|i| random_contact(&mut rng, i, now))
        .collect();
    let created: Vec<Contact> = futures_util::stream::iter(bodies)
        .map(|body| {
            let db = core.db.clone();
            async move {
                let input = serde_json::from_value(body).unwrap();
                shared::domain::contacts::create(&db, org.id, input, shared::clock::now())
                    .await
                    .unwrap()
            }
        })
        // Modest concurrency: the webhook pipeline tests share DynamoDB Local with this one.
        .buffer_unordered(4)
        .collect()
        .await;
    let all = all_contacts(org.id).await;
    assert_eq!(all.len(), created.len());
    let searches = searches(&mut rng, &all);
    let checked = check_all(&org, now, &searches).await;

    // Updates that change every indexed field, and deletes, through the API.
    let router = contacts::router(stack().await.core_at(Clock::Fixed(now)));
    for i in 0..150 {
        let contact = &created[rng.below(created.len())];
        let mut body = random_contact(&mut rng, 10_000 + i, now);
        if i % 3 == 0 {
            body = json!({"full_name": format!("Renamed {} Person", rng.pick(FIRST)), "email": null, "kind": []});
        }
        let reply = integration_tests::patch(&format!("/api/v1/contacts/{}", contact.id))
            .key(&org.key)
            .json(&body)
            .send(&router)
            .await;
        assert!(
            reply.status == 200 || reply.status == 404,
            "{body}: {}",
            reply.body
        );
    }
    for _ in 0..100 {
        let contact = &created[rng.below(created.len())];
        let reply = integration_tests::delete(&format!("/api/v1/contacts/{}", contact.id))
            .key(&org.key)
            .send(&router)
            .await;
        assert!(
            reply.status == 200 || reply.status == 404,
            "{}: {}",
            reply.status,
            reply.body
        );
    }
    let mut after_changes = searches.clone();
    after_changes.extend(["renamed".to_string(), "renamed person".to_string()]);
    check_all(&org, now, &after_changes).await;
    // Ten days on, contacts have left the pool without being written.
    check_all(&org, now + Duration::days(10), &after_changes).await;
    println!(
        "contact search equivalence: 2000 contacts, {checked} queries per pass, 3 passes (after 150 updates and 100 deletes, then 10 days on)"
    );
}
