//! Domain events. Every committing write puts an outbox item (`SK = EVT#<event_id>`) in the
//! same transaction as the change it describes, so an event exists exactly when its change
//! committed. The table's stream carries those inserts to the `fanout` function; the event
//! source mapping's filter lets only them through.

use serde::{Deserialize, Serialize};

pub use crate::table::keys::OUTBOX_PREFIX;

/// The event source mapping's filter, as `template.yaml` declares it: outbox inserts only.
pub const STREAM_FILTER_PATTERN: &str =
    r#"{"eventName":["INSERT"],"dynamodb":{"Keys":{"SK":{"S":[{"prefix":"EVT#"}]}}}}"#;

crate::wire_enum! {
    pub enum EventType {
        DossierCreated = "dossier.created",
        DossierUpdated = "dossier.updated",
        DossierStageChanged = "dossier.stage_changed",
        DossierDeleted = "dossier.deleted",
        NoteCreated = "note.created",
        ContactCreated = "contact.created",
        ContactUpdated = "contact.updated",
        ContactDeleted = "contact.deleted",
    }
}

/// The webhook payload, exactly as the spec shows it. The same event keeps the same `id`
/// on every delivery attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub created_at: String,
    pub data: serde_json::Value,
}

/// The attribute holding the envelope as compact JSON text: a DynamoDB map would not keep
/// the order of `data`'s fields, and receivers get exactly the API's representation.
pub const PAYLOAD_ATTRIBUTE: &str = "payload";

fn envelope_from_payload(payload: Option<&str>) -> Result<Envelope, String> {
    let payload = payload.ok_or("outbox item has no payload")?;
    serde_json::from_str(payload).map_err(|e| format!("outbox payload: {e}"))
}

/// The envelope an outbox item carries, with the organization it belongs to, from its
/// partition key and its payload attribute (as a stream record's image holds them).
pub fn envelope_of(
    pk: Option<&str>,
    payload: Option<&str>,
) -> Result<(uuid::Uuid, Envelope), String> {
    let pk = pk.ok_or("outbox item has no PK")?;
    let org = crate::table::keys::parse_org_pk(pk)
        .ok_or_else(|| format!("outbox item has a malformed PK {pk:?}"))?;
    Ok((org, envelope_from_payload(payload)?))
}

/// An outbox item as read from the table.
#[derive(Deserialize)]
pub struct OutboxItem {
    payload: String,
    #[serde(default)]
    redriven_at: Option<String>,
}

impl OutboxItem {
    pub fn envelope(&self) -> Result<Envelope, String> {
        envelope_from_payload(Some(&self.payload))
    }
}

/// An organization's events still kept, oldest first.
pub async fn retained(
    db: &crate::table::store::Db,
    org: uuid::Uuid,
) -> Result<Vec<Envelope>, crate::ApiError> {
    let items: Vec<OutboxItem> = db
        .query_prefix(&crate::table::keys::org_pk(org), OUTBOX_PREFIX)
        .await?;
    items
        .iter()
        .map(|item| item.envelope().map_err(crate::ApiError::internal))
        .collect()
}

/// Set on an outbox item once `leadgrid-admin events redrive` has fanned its event out, so
/// that redriving the same stream records again sends nothing twice. The stream carries
/// this change as a `MODIFY`, which the stream filter drops.
pub const REDRIVEN_ATTRIBUTE: &str = "redriven_at";

/// An outbox item found again from a stream record's keys.
pub struct Redrivable {
    pub org: uuid::Uuid,
    pub envelope: Envelope,
    pub already_redriven: bool,
}

/// The outbox item at `pk`/`sk` (a stream record's keys), read consistently; `None` once
/// its retention has passed and DynamoDB has removed it.
pub async fn find(
    db: &crate::table::store::Db,
    pk: &str,
    sk: &str,
) -> Result<Option<Redrivable>, crate::ApiError> {
    let org = crate::table::keys::parse_org_pk(pk).ok_or_else(|| {
        crate::ApiError::internal(format!("outbox key has a malformed PK {pk:?}"))
    })?;
    let Some(stored) = db.get::<OutboxItem>(pk, sk).await? else {
        return Ok(None);
    };
    Ok(Some(Redrivable {
        org,
        envelope: stored.envelope().map_err(crate::ApiError::internal)?,
        already_redriven: stored.redriven_at.is_some(),
    }))
}

/// Records that the event at `pk`/`sk` was redriven; nothing if the item has expired since.
pub async fn mark_redriven(
    db: &crate::table::store::Db,
    pk: &str,
    sk: &str,
    now: time::OffsetDateTime,
) -> Result<(), crate::ApiError> {
    let update = crate::table::store::Expression {
        text: "SET #at = :at",
        names: &[("#at", REDRIVEN_ATTRIBUTE)],
        values: vec![(":at", crate::table::store::s(crate::clock::format(now)))],
    };
    db.update_if(pk, sk, &update, Some("attribute_exists(PK)"))
        .await
        .map(|_| ())
}

/// How long events stay in the table after the stream has carried them: the deployment's
/// `EventRetentionDays`, read once (a function with a bad value stopped at init).
pub fn retention() -> time::Duration {
    static RETENTION: std::sync::OnceLock<time::Duration> = std::sync::OnceLock::new();
    *RETENTION.get_or_init(|| {
        crate::config::event_retention().unwrap_or(time::Duration::days(
            crate::config::DEFAULT_EVENT_RETENTION_DAYS,
        ))
    })
}

/// `evt_` and a UUIDv7's 32 hexadecimal digits.
pub fn new_event_id() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// An event id as a client names one: `evt_` and 32 lowercase hexadecimal digits, the one
/// spelling [`new_event_id`] writes, so that nothing else is ever built into a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventId(String);

impl EventId {
    pub const RULE: &'static str = "must be an event id: `evt_` and 32 hexadecimal digits.";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let well_formed = raw.strip_prefix("evt_").is_some_and(|hex| {
            hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if well_formed {
            Ok(Self(raw.to_string()))
        } else {
            Err(Self::RULE)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UUIDv7 its digits spell: events sort by it in the order they were recorded.
    pub fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::try_parse(&self.0["evt_".len()..]).unwrap_or_default()
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(|rule| {
            serde::de::Error::custom(format_args!("{}{rule}", crate::domain::fields::RULE))
        })
    }
}

/// The outbox item for an event about `data`, to be written in the transaction that
/// makes the change.
pub fn outbox_item<T: Serialize>(
    org: uuid::Uuid,
    kind: EventType,
    data: &T,
    now: time::OffsetDateTime,
) -> Result<crate::table::store::Item, crate::ApiError> {
    let envelope = Envelope {
        id: new_event_id(),
        kind,
        created_at: crate::clock::format(now),
        data: serde_json::to_value(data).map_err(crate::ApiError::internal)?,
    };
    let payload = serde_json::to_string(&envelope).map_err(crate::ApiError::internal)?;
    let mut item = crate::table::store::key(
        &crate::table::keys::org_pk(org),
        &crate::table::keys::event_sk(&envelope.id),
    );
    item.insert("entity".into(), crate::table::store::s("event"));
    item.insert("id".into(), crate::table::store::s(&envelope.id));
    item.insert("type".into(), crate::table::store::s(kind.as_str()));
    item.insert(PAYLOAD_ATTRIBUTE.into(), crate::table::store::s(payload));
    let by_type = crate::table::keys::EVENTS_BY_TYPE;
    item.insert(
        by_type.pk.into(),
        crate::table::store::s(crate::table::keys::events_of_type_pk(org, kind.as_str())),
    );
    item.insert(by_type.sk.into(), crate::table::store::s(&envelope.id));
    item.insert(
        crate::table::schema::TTL_ATTRIBUTE.into(),
        crate::table::store::n((now + retention()).unix_timestamp()),
    );
    Ok(item)
}

/// Whether a stream record in Lambda's JSON shape passes [`STREAM_FILTER_PATTERN`]. The
/// local stream poller applies it the way the deployed event source mapping does.
pub fn passes_stream_filter(record: &serde_json::Value) -> bool {
    record["eventName"] == "INSERT"
        && record["dynamodb"]["Keys"]["SK"]["S"]
            .as_str()
            .is_some_and(|sk| sk.starts_with(OUTBOX_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_event_ids_are_built_into_keys() {
        assert!(EventId::parse("evt_01a24a3f258272afbcd964ff29a50437").is_ok());
        assert!(EventId::parse("evt_missing").is_err());
        assert!(
            EventId::parse("evt_01A24A3F258272AFBCD964FF29A50437").is_err(),
            "one spelling"
        );
        assert!(EventId::parse("evt_01a24a3f258272afbcd964ff29a5043").is_err());
        assert!(EventId::parse("evt_01a24a3f258272afbcd964ff29a50437#").is_err());
        assert!(EventId::parse("01a24a3f258272afbcd964ff29a50437").is_err());
        assert!(EventId::parse("evt_é1a24a3f258272afbcd964ff29a5043").is_err());
    }

    #[test]
    fn event_type_names_are_the_specs() {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "dossier.created",
                "dossier.updated",
                "dossier.stage_changed",
                "dossier.deleted",
                "note.created",
                "contact.created",
                "contact.updated",
                "contact.deleted"
            ]
        );
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn filter_matches_the_declared_pattern() {
        let pattern: serde_json::Value = serde_json::from_str(STREAM_FILTER_PATTERN).unwrap();
        assert_eq!(pattern["eventName"], json!(["INSERT"]));
        let prefix = pattern["dynamodb"]["Keys"]["SK"]["S"][0]["prefix"]
            .as_str()
            .unwrap();
        assert_eq!(prefix, OUTBOX_PREFIX);

        let record = |name: &str, sk: &str| json!({"eventName": name, "dynamodb": {"Keys": {"SK": {"S": sk}}}});
        assert!(passes_stream_filter(&record("INSERT", "EVT#1")));
        assert!(!passes_stream_filter(&record("MODIFY", "EVT#1")));
        assert!(!passes_stream_filter(&record("INSERT", "DOSSIER#1")));
        assert!(!passes_stream_filter(&json!({})));
    }

    #[test]
    fn template_declares_the_same_filter() {
        let template = include_str!("../../../template.yaml");
        assert!(template.contains(&format!("Pattern: '{STREAM_FILTER_PATTERN}'")));
    }
}
