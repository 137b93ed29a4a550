//! Every key of the single table and every index, in the order of the README's
//! "Single-table layout" table. Each item's partition key is its organization's.

use time::OffsetDateTime;
use uuid::Uuid;

/// A global secondary index: its name and the attributes of its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

const fn index(name: &'static str, pk: &'static str, sk: &'static str) -> Index {
    Index { name, pk, sk }
}

pub const GSI1: Index = index("GSI1", "GSI1PK", "GSI1SK");
pub const GSI2: Index = index("GSI2", "GSI2PK", "GSI2SK");
pub const GSI3: Index = index("GSI3", "GSI3PK", "GSI3SK");
pub const GSI4: Index = index("GSI4", "GSI4PK", "GSI4SK");
pub const GSI5: Index = index("GSI5", "GSI5PK", "GSI5SK");

/// The table's indexes. Items of different kinds share them, each under partitions of its
/// own: the names below say which listing each serves.
pub const INDEXES: [Index; 5] = [GSI1, GSI2, GSI3, GSI4, GSI5];

pub const DOSSIERS_BY_TYPE: Index = GSI1;
pub const DOSSIERS_BY_STATUS: Index = GSI2;
pub const DOSSIERS_BY_TYPE_AND_STATUS: Index = GSI3;
pub const DOSSIERS_BY_STAGE: Index = GSI4;
pub const DOSSIERS_BY_STAGE_AND_STATUS: Index = GSI5;
/// One index per contact kind, in `Kind::ALL`'s order, so one contact can be on every list.
pub const CONTACTS_BY_KIND: [Index; 5] = [GSI1, GSI2, GSI3, GSI4, GSI5];
pub const LINKS_BY_CONTACT: Index = GSI1;
pub const ATTEMPTS_BY_ENDPOINT: Index = GSI1;
pub const ATTEMPTS_BY_EVENT: Index = GSI2;
pub const EVENTS_BY_TYPE: Index = GSI1;

// organization
pub fn org_pk(org: Uuid) -> String {
    format!("ORG#{org}")
}

/// The organization of an `ORG#<org_id>` partition key.
pub fn parse_org_pk(pk: &str) -> Option<Uuid> {
    pk.strip_prefix("ORG#")
        .and_then(|id| Uuid::parse_str(id).ok())
}

pub const ORG_SK: &str = "ORG";

/// Every organization, for operators (`org list`): each organization's item is in this
/// GSI1 partition, sorted by its id, which is time-ordered (UUIDv7).
pub const ORG_DIRECTORY: Index = GSI1;
pub const ORG_DIRECTORY_PK: &str = "ORGS";

pub fn org_directory_sk(org: Uuid) -> String {
    org.to_string()
}

// member
pub fn member_sk(user: Uuid) -> String {
    format!("MEMBER#{user}")
}

// API key
pub const API_KEY_PREFIX: &str = "KEY#";

pub fn api_key_sk(key: Uuid) -> String {
    format!("{API_KEY_PREFIX}{key}")
}

// flow
pub const FLOW_PREFIX: &str = "FLOW#";

pub fn flow_sk(flow: Uuid) -> String {
    format!("{FLOW_PREFIX}{flow}")
}

// dossier
pub const DOSSIER_PREFIX: &str = "DOSSIER#";

pub fn dossier_sk(id: Uuid) -> String {
    format!("{DOSSIER_PREFIX}{id}")
}

/// The dossiers of one type, on [`DOSSIERS_BY_TYPE`].
pub fn dossiers_of_type_pk(org: Uuid, kind: &str) -> String {
    format!("ORG#{org}#D#T#{kind}")
}

/// The dossiers in one status, on [`DOSSIERS_BY_STATUS`].
pub fn dossiers_in_status_pk(org: Uuid, status: &str) -> String {
    format!("ORG#{org}#D#S#{status}")
}

/// On [`DOSSIERS_BY_TYPE_AND_STATUS`].
pub fn dossiers_of_type_in_status_pk(org: Uuid, kind: &str, status: &str) -> String {
    format!("ORG#{org}#D#T#{kind}#S#{status}")
}

/// The dossiers in one stage, on [`DOSSIERS_BY_STAGE`].
pub fn dossiers_in_stage_pk(org: Uuid, stage: Uuid) -> String {
    format!("ORG#{org}#D#ST#{stage}")
}

/// On [`DOSSIERS_BY_STAGE_AND_STATUS`].
pub fn dossiers_in_stage_and_status_pk(org: Uuid, stage: Uuid, status: &str) -> String {
    format!("ORG#{org}#D#ST#{stage}#S#{status}")
}

// counters split over shards
/// Counters that every write of a kind touches are split over this many items, each write
/// adding to the one its entity's id picks: DynamoDB cancels transactions that overlap on
/// an item instead of queuing them, so one item per organization would let only one of its
/// concurrent writes through at a time. A total is the sum of the shards, read with one
/// Query.
pub const COUNTER_SHARDS: u128 = 8;

/// The shard of a counted entity: the low bits of its id, which are random in a v7 id.
pub fn counter_shard(id: Uuid) -> u128 {
    id.as_u128() % COUNTER_SHARDS
}

/// The shard of the counters at `base` that `id` adds to. Shard 0 keeps the key the unsplit
/// item had, so that counts made before the split still count.
pub fn shard_sk(base: &str, id: Uuid) -> String {
    match counter_shard(id) {
        0 => base.to_string(),
        shard => format!("{base}#{shard}"),
    }
}

/// The counters a shard's key belongs to: its key without the shard.
pub fn shard_base(sk: &str) -> &str {
    match sk.rsplit_once('#') {
        Some((base, shard)) if shard.len() == 1 && shard.as_bytes()[0].is_ascii_digit() => base,
        _ => sk,
    }
}

/// The sort-key range holding every shard of the counters at `base`.
pub fn shards_range(base: &str) -> (String, String) {
    (base.to_string(), format!("{base}#~"))
}

// dossier counters: the totals by type and status, split over shards
pub const DOSSIER_COUNTERS_SK: &str = "COUNTERS#DOSSIERS";

pub fn dossier_counters_sk(dossier: Uuid) -> String {
    shard_sk(DOSSIER_COUNTERS_SK, dossier)
}

// stage counters: one stage's totals (by status) and its dossiers' type, split over shards
pub const STAGE_COUNTERS_PREFIX: &str = "COUNTERS#STAGE#";

pub fn stage_counters_base(stage: Uuid) -> String {
    format!("{STAGE_COUNTERS_PREFIX}{stage}")
}

pub fn stage_counters_sk(stage: Uuid, dossier: Uuid) -> String {
    shard_sk(&stage_counters_base(stage), dossier)
}

// contact
pub const CONTACT_PREFIX: &str = "CONTACT#";

pub fn contact_sk(id: Uuid) -> String {
    format!("{CONTACT_PREFIX}{id}")
}

/// A kind's list on [`CONTACTS_BY_KIND`].
pub fn contacts_of_kind_pk(org: Uuid, kind: &str) -> String {
    format!("ORG#{org}#CONTACTS#{kind}")
}

// contact counters, split over shards
pub const CONTACT_COUNTERS_SK: &str = "COUNTERS#CONTACTS";

pub fn contact_counters_sk(contact: Uuid) -> String {
    shard_sk(CONTACT_COUNTERS_SK, contact)
}

// contact search entry: one per word a contact is found by
pub const SEARCH_PREFIX: &str = "SEARCH#";

/// Every entry of a word starting with `prefix`: a query word matches words it begins.
pub fn search_prefix(prefix: &str) -> String {
    format!("{SEARCH_PREFIX}{prefix}")
}

/// Words are letters and digits only, so `#` ends the word.
pub fn search_sk(word: &str, contact: Uuid) -> String {
    format!("{SEARCH_PREFIX}{word}#{contact}")
}

// contact pool entry: one per kind of a contact with a pool date
pub const POOL_PREFIX: &str = "POOL#";

/// A kind's pool entries, in expiry order.
pub fn pool_prefix(kind: &str) -> String {
    format!("{POOL_PREFIX}{kind}#")
}

pub fn pool_sk(kind: &str, expires_at: OffsetDateTime, contact: Uuid) -> String {
    format!(
        "{}{}#{contact}",
        pool_prefix(kind),
        pool_instant(expires_at)
    )
}

/// Below every pool entry of `kind` at the instant `at` and above every earlier one.
pub fn pool_floor(kind: &str, at: OffsetDateTime) -> String {
    format!("{}{}", pool_prefix(kind), pool_instant(at))
}

/// Above every pool entry of `kind` at the instant `at`: `#` then a UUID sorts below `~`.
pub fn pool_ceiling(kind: &str, at: OffsetDateTime) -> String {
    format!("{}#~", pool_floor(kind, at))
}

/// The instant and contact a pool entry's sort key encodes.
pub fn parse_pool_sk(sk: &str) -> Option<(OffsetDateTime, Uuid)> {
    let rest = sk.strip_prefix(POOL_PREFIX)?;
    let (_kind, rest) = rest.split_once('#')?;
    let (instant, contact) = rest.split_once('#')?;
    if instant.len() != 22 || !instant.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds: i64 = instant[..13].parse().ok()?;
    let nanos: i128 = instant[13..].parse().ok()?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(seconds - POOL_EPOCH_SHIFT) * 1_000_000_000 + nanos,
    )
    .ok()?;
    Some((at, contact.parse().ok()?))
}

const POOL_EPOCH_SHIFT: i64 = 1_000_000_000_000;

/// Sorts like the instant it encodes (seconds shifted to stay positive, then
/// nanoseconds), so pool entries can be read by range.
fn pool_instant(at: OffsetDateTime) -> String {
    format!(
        "{:013}{:09}",
        at.unix_timestamp() + POOL_EPOCH_SHIFT,
        at.nanosecond()
    )
}

// contact pool counter: per expiry bucket (a year, month, day, hour or minute)
pub const POOL_COUNT_PREFIX: &str = "POOLCOUNT#";

/// `bucket` is a level letter and a UTC time cut to that level, as `D#2026-11-29`.
pub fn pool_count_sk(bucket: &str) -> String {
    format!("{POOL_COUNT_PREFIX}{bucket}")
}

// contact email marker
pub fn email_sk(email: &str) -> String {
    format!("EMAIL#{}", crate::text::fold(email))
}

// dossier–contact link
pub fn link_prefix(dossier: Uuid) -> String {
    format!("LINK#{dossier}#")
}

pub fn link_sk(dossier: Uuid, contact: Uuid) -> String {
    format!("{}{contact}", link_prefix(dossier))
}

/// A contact's links on [`LINKS_BY_CONTACT`].
pub fn links_of_contact_pk(org: Uuid, contact: Uuid) -> String {
    format!("ORG#{org}#CONTACT#{contact}#LINKS")
}

// note
pub fn note_prefix(dossier: Uuid) -> String {
    format!("NOTE#{dossier}#")
}

pub fn note_sk(dossier: Uuid, note: Uuid) -> String {
    format!("{}{note}", note_prefix(dossier))
}

// note counter
pub fn note_counter_sk(dossier: Uuid) -> String {
    format!("COUNTERS#NOTES#{dossier}")
}

// domain event (outbox)
pub const OUTBOX_PREFIX: &str = "EVT#";

pub fn event_sk(event: &str) -> String {
    format!("{OUTBOX_PREFIX}{event}")
}

/// The events of one type on [`EVENTS_BY_TYPE`], sorted by event id.
pub fn events_of_type_pk(org: Uuid, kind: &str) -> String {
    format!("ORG#{org}#EVT#{kind}")
}

/// Sorts below the id of every event recorded at or after `at` and above every earlier
/// one: an event id is `evt_` and a UUIDv7, whose first 48 bits are its Unix milliseconds.
pub fn event_id_floor(at: OffsetDateTime) -> String {
    let millis = (at.unix_timestamp_nanos() / 1_000_000).clamp(0, (1 << 48) - 1) as u128;
    format!("evt_{:032x}", millis << 80)
}

// recovery marker
/// Put when `POST /webhook_endpoints/{id}/recover` queues `event` to `endpoint` again.
pub fn recovery_sk(endpoint: Uuid, event: &str) -> String {
    format!("WHREC#{endpoint}#{event}")
}

// webhook endpoint
pub const ENDPOINT_PREFIX: &str = "WEBHOOK#";

pub fn endpoint_sk(endpoint: Uuid) -> String {
    format!("{ENDPOINT_PREFIX}{endpoint}")
}

// webhook endpoint counter
pub const WEBHOOK_COUNTERS_SK: &str = "COUNTERS#WEBHOOKS";

// webhook URL marker
/// One per URL an organization's endpoints have: `digest` is the SHA-256 (hex) of the URL
/// as stored.
pub fn endpoint_url_sk(digest: &str) -> String {
    format!("WHURL#{digest}")
}

// webhook attempt
pub const ATTEMPT_PREFIX: &str = "WHATT#";

/// Sorted per endpoint, then event, then the moment written (`nanos`), then the attempt.
pub fn attempt_sk(endpoint: Uuid, event: &str, nanos: i128, attempt: u32) -> String {
    format!(
        "{}{nanos:020}#{attempt:03}",
        attempts_prefix(endpoint, event)
    )
}

/// An endpoint's attempts for one event.
pub fn attempts_prefix(endpoint: Uuid, event: &str) -> String {
    format!("{ATTEMPT_PREFIX}{endpoint}#{event}#")
}

/// An endpoint's attempts on [`ATTEMPTS_BY_ENDPOINT`].
pub fn attempts_of_endpoint_pk(org: Uuid, endpoint: Uuid) -> String {
    format!("ORG#{org}#WHATT#{endpoint}")
}

/// An endpoint's attempts for one event on [`ATTEMPTS_BY_EVENT`].
pub fn attempts_of_event_pk(org: Uuid, endpoint: Uuid, event: &str) -> String {
    format!("{}#{event}", attempts_of_endpoint_pk(org, endpoint))
}

// idempotency key
pub fn idempotency_sk(api_key: Uuid, digest: &str) -> String {
    format!("IDEM#{api_key}#{digest}")
}

// egress window
/// The requests sent to `host` in one minute (`minute`: Unix seconds / 60).
pub fn egress_window_sk(host: &str, minute: i64) -> String {
    format!("EGRESS#{host}#{minute}")
}

// test window
/// The test pings sent to one endpoint in one minute.
pub fn test_window_sk(endpoint: Uuid, minute: i64) -> String {
    format!("WHTEST#{endpoint}#{minute}")
}

// recovery window
/// The recoveries one organization asked for in one minute.
pub fn recovery_window_sk(minute: i64) -> String {
    format!("WHRECOVER#{minute}")
}

// requeue claim
/// Claimed by the first copy received of the delivery messages queued again from the SQS
/// message `message`.
pub fn requeued_from_sk(message: &str) -> String {
    format!("WHCOPY#{message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders every item kind's keys with placeholder ids, in the README table's order,
    /// and finds each rendering in that table's row for the item.
    #[test]
    fn every_item_kind_renders_as_the_readme_table_says() {
        let readme = include_str!("../../../README.md");
        let table: Vec<&str> = readme
            .split("### Single-table layout")
            .nth(1)
            .expect("the README has the single-table layout")
            .split("\n#")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|line| line.starts_with("| ") && !line.starts_with("| item"))
            .collect();
        let id = |n: u128| Uuid::from_u128(n);
        let (org, a, b) = (id(1), id(2), id(3));
        let placeholders = |key: String| {
            key.replace(&org.to_string(), "<org>")
                .replace(&a.to_string(), "<a>")
                .replace(&b.to_string(), "<b>")
        };
        let items: Vec<(&str, String, String)> = vec![
            ("organization", org_pk(org), ORG_SK.into()),
            ("member", org_pk(org), member_sk(a)),
            ("API key", org_pk(org), api_key_sk(a)),
            ("flow (stages inside)", org_pk(org), flow_sk(a)),
            ("dossier", org_pk(org), dossier_sk(a)),
            ("dossier counters", org_pk(org), dossier_counters_sk(id(8))),
            ("stage counters", org_pk(org), stage_counters_sk(a, id(8))),
            ("contact", org_pk(org), contact_sk(a)),
            ("contact counters", org_pk(org), contact_counters_sk(id(8))),
            ("contact search entry", org_pk(org), search_sk("ada", b)),
            (
                "contact pool entry",
                org_pk(org),
                format!("{}<expiry>#<b>", pool_prefix("<kind>")),
            ),
            (
                "contact pool counter",
                org_pk(org),
                pool_count_sk("<bucket>"),
            ),
            (
                "contact email marker",
                org_pk(org),
                email_sk("Ada@Example.com"),
            ),
            ("dossier–contact link", org_pk(org), link_sk(a, b)),
            ("note", org_pk(org), note_sk(a, b)),
            ("note counter", org_pk(org), note_counter_sk(a)),
            ("domain event (outbox)", org_pk(org), event_sk("evt_x")),
            ("recovery marker", org_pk(org), recovery_sk(a, "evt_x")),
            ("webhook endpoint", org_pk(org), endpoint_sk(a)),
            (
                "webhook endpoint counter",
                org_pk(org),
                WEBHOOK_COUNTERS_SK.into(),
            ),
            (
                "webhook URL marker",
                org_pk(org),
                endpoint_url_sk("<sha256>"),
            ),
            (
                "webhook attempt",
                org_pk(org),
                format!("{ATTEMPT_PREFIX}<a>#"),
            ),
            (
                "idempotency key",
                org_pk(org),
                idempotency_sk(a, "<sha256>"),
            ),
            (
                "egress window",
                org_pk(org),
                egress_window_sk("<host>", 29_443_200),
            ),
            ("test window", org_pk(org), test_window_sk(a, 29_443_200)),
            (
                "recovery window",
                org_pk(org),
                recovery_window_sk(29_443_200),
            ),
            ("requeue claim", org_pk(org), requeued_from_sk("<message>")),
        ];
        assert_eq!(table.len(), items.len(), "one README row per item kind");
        for (row, (item, pk, sk)) in table.iter().zip(items) {
            let cells: Vec<&str> = row.split(" | ").collect();
            assert_eq!(cells[0].trim_start_matches("| "), item, "README order");
            let shape = |cell: &str| {
                cell.trim_matches('`')
                    .replace("<dossier>", "<a>")
                    .replace("<contact>", "<b>")
                    .replace("<note>", "<b>")
                    .replace("<endpoint>", "<a>")
                    .replace("<event>", "evt_x")
                    .replace("<api key>", "<a>")
                    .replace("<sha256 of the key>", "<sha256>")
                    .replace("<sha256 of the URL>", "<sha256>")
                    .replace("<minute>", "29443200")
                    .replace("<folded email>", "ada@example.com")
                    .replace("<word>", "ada")
                    .replace("<user>", "<a>")
                    .replace("<key>", "<a>")
                    .replace("<flow>", "<a>")
                    .replace("<stage>", "<a>")
                    .replace("<id>", "<a>")
            };
            assert_eq!(placeholders(pk), shape(cells[1]), "{item}: PK");
            let sk = placeholders(sk);
            assert!(
                shape(cells[2]).starts_with(&sk),
                "{item}: SK {sk} is not {}",
                cells[2]
            );
        }
    }

    /// The index partitions the README names, rendered by their builders.
    #[test]
    fn index_partitions_render_as_the_readme_says() {
        let readme = include_str!("../../../README.md");
        let org = Uuid::from_u128(1);
        let stage = Uuid::from_u128(2);
        let contact = Uuid::from_u128(3);
        let endpoint = Uuid::from_u128(4);
        let shown = |key: String| {
            key.replace(&org.to_string(), "<org>")
                .replace(&stage.to_string(), "<stage>")
                .replace(&contact.to_string(), "<contact>")
                .replace(&endpoint.to_string(), "<endpoint>")
        };
        let full = [
            shown(dossiers_of_type_pk(org, "<type>")),
            shown(contacts_of_kind_pk(org, "candidate")),
            shown(links_of_contact_pk(org, contact)),
            shown(attempts_of_endpoint_pk(org, endpoint)),
            shown(events_of_type_pk(org, "<type>")),
        ];
        for key in full {
            assert!(readme.contains(&format!("`{key}`")), "{key}");
        }
        let abbreviated = [
            shown(dossiers_in_status_pk(org, "<status>")),
            shown(dossiers_of_type_in_status_pk(org, "<type>", "<status>")),
            shown(dossiers_in_stage_pk(org, stage)),
            shown(dossiers_in_stage_and_status_pk(org, stage, "<status>")),
            shown(attempts_of_event_pk(org, endpoint, "<event>")),
        ];
        for key in abbreviated {
            let tail = key.trim_start_matches("ORG#<org>");
            assert!(readme.contains(&format!("`…{tail}`")), "{key}");
        }
    }

    #[test]
    fn event_id_floors_sort_between_the_ids_of_their_millisecond() {
        let at = time::macros::datetime!(2026-12-07 04:30:00.123456 UTC);
        let uuid_at = |at: OffsetDateTime| {
            let ts = uuid::Timestamp::from_unix(
                uuid::NoContext,
                at.unix_timestamp() as u64,
                at.nanosecond(),
            );
            format!("evt_{}", Uuid::new_v7(ts).simple())
        };
        let millisecond = time::Duration::milliseconds(1);
        assert!(event_id_floor(at) <= uuid_at(at));
        assert!(uuid_at(at - millisecond) < event_id_floor(at));
        assert!(uuid_at(at) < event_id_floor(at + millisecond));
        assert_eq!(
            event_id_floor(OffsetDateTime::UNIX_EPOCH),
            format!("evt_{}", "0".repeat(32))
        );
    }

    #[test]
    fn index_names_follow_their_attributes() {
        for (n, index) in INDEXES.iter().enumerate() {
            let name = format!("GSI{}", n + 1);
            assert_eq!(index.name, name);
            assert_eq!(index.pk, format!("{name}PK"));
            assert_eq!(index.sk, format!("{name}SK"));
        }
    }
}
