//! Managing webhook endpoints: the one implementation behind both `/webhook_endpoints` and
//! `leadgrid-admin webhook …`. Creating one checks the destination policy, and the
//! organization's cap in the same transaction that writes it; deleting one gives its place
//! back; every change is conditioned on the version it read.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Destinations, Endpoint, SecretVersion, Subscription, WebhookUrl};
use crate::domain::fields::{Patch, Text};
use crate::ids::new_id;
use crate::table::keys::{endpoint_sk, endpoint_url_sk, org_pk, ORG_SK, WEBHOOK_COUNTERS_SK};
use crate::table::store::{n, s, Db, Expression};
use crate::table::txn::{self, Precondition, Step, Transaction, UpdateSpec};
use crate::ApiError;

mod deliveries;
mod recover;
pub use deliveries::attempts;
#[cfg(feature = "sqs")]
pub use deliveries::{replay, send_test};
#[cfg(feature = "sqs")]
pub use recover::recover;
pub use recover::{Recovery, Resume, MAX_EXAMINED_PER_CALL, MAX_RECOVERED_PER_CALL};

/// The most endpoints one organization may have: enough for every integration it runs,
/// few enough that one event's fan-out stays small.
pub const MAX_ENDPOINTS: u64 = 16;
pub const MAX_DESCRIPTION: usize = 500;
/// The longest a rotated-out secret may keep signing: a week.
pub const MAX_GRACE_HOURS: u32 = 168;

/// What creating an endpoint takes. `events` defaults to `["*"]`: every type, today's and
/// any added later.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    pub url: String,
    #[serde(default)]
    pub events: Option<Vec<Subscription>>,
    #[serde(default)]
    pub description: Option<Text<MAX_DESCRIPTION>>,
}

/// An endpoint as it is shown: never a secret.
#[derive(Debug, Serialize)]
pub struct EndpointView {
    pub id: Uuid,
    pub url: WebhookUrl,
    pub events: Vec<Subscription>,
    pub description: Option<String>,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    /// Why nothing is sent: the receiver answered 410, every delivery failed for five
    /// days, or the endpoint was disabled through the API.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; null once one is delivered.
    #[serde(with = "crate::clock::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    /// When the previous secret stops signing, during a rotation's grace window.
    #[serde(with = "crate::clock::rfc3339::option")]
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// Sent as its ETag.
    #[serde(skip)]
    pub version: u64,
}

impl EndpointView {
    pub fn of(endpoint: Endpoint, now: OffsetDateTime) -> Self {
        Self {
            previous_secret_expires_at: endpoint
                .secrets
                .iter()
                .skip(1)
                .filter_map(|version| version.expires_at)
                .filter(|at| *at > now)
                .max(),
            id: endpoint.id,
            url: endpoint.url,
            events: endpoint.events,
            description: endpoint.description,
            created_at: endpoint.created_at,
            disabled_at: endpoint.disabled_at,
            disabled_reason: endpoint.disabled_reason,
            failing_since: endpoint.failing_since,
            version: endpoint.version,
        }
    }
}

/// A new endpoint and its secret, which is shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    pub secret: String,
    /// Which version `secret` is ([`SecretVersion::digest`]).
    #[serde(skip)]
    pub secret_version: String,
}

/// What a replay or a test answers: the delivery it queued.
#[derive(Debug, Serialize)]
pub struct Queued {
    pub event_id: String,
    pub event_type: super::WebhookType,
    pub endpoint_id: Uuid,
    pub queued: bool,
}

impl From<super::Delivery> for Queued {
    fn from(delivery: super::Delivery) -> Self {
        Self {
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            endpoint_id: delivery.endpoint_id,
            queued: true,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RotatedSecret {
    pub id: Uuid,
    pub secret: String,
    /// Which version `secret` is ([`SecretVersion::digest`]).
    #[serde(skip)]
    pub secret_version: String,
}

/// The endpoint's secret again, for a repeat of the request that showed it: only while
/// the version `digest` names is still the current one.
pub async fn current_secret(
    db: &Db,
    org: Uuid,
    id: Uuid,
    digest: &str,
    master_key: &[u8],
) -> Result<Option<String>, ApiError> {
    Ok(super::get(db, org, id)
        .await?
        .and_then(|endpoint| endpoint.secrets.into_iter().next())
        .filter(|current| current.digest() == digest)
        .map(|current| current.secret(master_key)))
}

/// What an endpoint asks for: every type when nothing is named, each once; `*` with types
/// beside it is `*`.
pub fn event_types(requested: Option<Vec<Subscription>>) -> Result<Vec<Subscription>, ApiError> {
    let Some(requested) = requested else {
        return Ok(vec![Subscription::Every]);
    };
    if requested.contains(&Subscription::Every) {
        return Ok(vec![Subscription::Every]);
    }
    let mut types = Vec::new();
    for kind in requested {
        if !types.contains(&kind) {
            types.push(kind);
        }
    }
    if types.is_empty() {
        return Err(ApiError::field(
            "events",
            "must name at least one event type, or `*` for every type.",
        ));
    }
    Ok(types)
}

pub async fn create(
    db: &Db,
    org: Uuid,
    input: NewEndpoint,
    destinations: &Destinations,
    master_key: &[u8],
    now: OffsetDateTime,
) -> Result<CreatedEndpoint, ApiError> {
    let endpoint = Endpoint {
        id: new_id(),
        url: checked_url(destinations, &input.url)?,
        events: event_types(input.events)?,
        description: input.description.and_then(Option::from),
        created_at: now,
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        secrets: vec![SecretVersion::generate(now)],
        enabled_at: None,
        version: 1,
        slow_until: None,
        eligible_since: None,
        first_delivered_at: None,
    };
    let count = UpdateSpec {
        pk: org_pk(org),
        sk: WEBHOOK_COUNTERS_SK.into(),
        expression: "ADD endpoints :one".into(),
        condition: Some("attribute_not_exists(endpoints) OR endpoints < :max".into()),
        names: Vec::new(),
        values: vec![(":one".into(), n(1)), (":max".into(), n(MAX_ENDPOINTS))],
    };
    refuse_duplicate_url(db, org, None, endpoint.url.as_str()).await?;
    let mut transaction = Transaction::new();
    transaction.push_refusing(
        txn::exists(&org_pk(org), ORG_SK),
        ApiError::not_found(format!("Organization {org} does not exist.")),
    );
    transaction.push_refusing(
        txn::put(url_marker(org, &endpoint), Some("attribute_not_exists(PK)")),
        duplicate_url(endpoint.url.as_str()),
    );
    transaction.push_refusing(
        txn::update(count),
        ApiError::LimitReached(format!(
            "An organization may have at most {MAX_ENDPOINTS} webhook endpoints; delete one first."
        )),
    );
    transaction.push(txn::put(
        endpoint.item(org)?,
        Some("attribute_not_exists(PK)"),
    ));
    txn::read_modify_write(db, "webhook endpoint create", || async {
        Ok(Step::Write((), transaction.clone()))
    })
    .await??;
    Ok(CreatedEndpoint {
        secret: endpoint.secrets[0].secret(master_key),
        secret_version: endpoint.secrets[0].digest(),
        endpoint: EndpointView::of(endpoint, now),
    })
}

/// The item that keeps an organization's endpoint URLs unique: at most one endpoint per URL,
/// so that one event is sent to one URL once.
fn url_marker(org: Uuid, endpoint: &Endpoint) -> crate::table::store::Item {
    let mut item = crate::table::store::key(
        &org_pk(org),
        &endpoint_url_sk(&url_digest(endpoint.url.as_str())),
    );
    item.insert("entity".into(), s("webhook_url"));
    item.insert("endpoint_id".into(), s(endpoint.id.to_string()));
    item
}

fn url_digest(url: &str) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(url.as_bytes()))
}

fn duplicate_url(url: &str) -> ApiError {
    ApiError::DuplicateEndpoint(format!(
        "Another webhook endpoint of this organization already has the URL {url}; subscribe that endpoint to more events instead."
    ))
}

/// Refuses `url` if another endpoint than `except` has it. The markers keep this true for
/// concurrent writes; this read also finds endpoints made before there were markers.
async fn refuse_duplicate_url(
    db: &Db,
    org: Uuid,
    except: Option<Uuid>,
    url: &str,
) -> Result<(), ApiError> {
    let taken = super::list(db, org)
        .await?
        .iter()
        .any(|other| Some(other.id) != except && other.url.as_str() == url);
    if taken {
        return Err(duplicate_url(url));
    }
    Ok(())
}

/// `url` as it is stored, if the destination policy allows it.
fn checked_url(destinations: &Destinations, url: &str) -> Result<WebhookUrl, ApiError> {
    destinations
        .check_url(url)
        .map_err(|why| ApiError::field("url", format_args!("is refused: {why}")))
}

pub async fn list(db: &Db, org: Uuid, now: OffsetDateTime) -> Result<Vec<EndpointView>, ApiError> {
    Ok(super::list(db, org)
        .await?
        .into_iter()
        .map(|endpoint| EndpointView::of(endpoint, now))
        .collect())
}

pub async fn get(db: &Db, org: Uuid, id: Uuid) -> Result<Endpoint, ApiError> {
    super::get(db, org, id).await?.ok_or_else(|| not_found(id))
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::not_found(format!("Webhook endpoint {id} does not exist."))
}

/// Deletes an endpoint if its current version is one `precondition` names. Its queued
/// deliveries are dropped: delivery finds it gone.
pub async fn delete(
    db: &Db,
    org: Uuid,
    id: Uuid,
    precondition: &Precondition,
) -> Result<(), ApiError> {
    let uncount = txn::update(UpdateSpec {
        pk: org_pk(org),
        sk: WEBHOOK_COUNTERS_SK.into(),
        expression: "ADD endpoints :minus_one".into(),
        condition: Some("endpoints > :zero".into()),
        names: Vec::new(),
        values: vec![(":minus_one".into(), n(-1)), (":zero".into(), n(0))],
    });
    let uncount = &uncount;
    let removal = |counted: bool| async move {
        let read = get(db, org, id).await?;
        precondition.check(read.version, "webhook endpoint")?;
        let mut transaction = Transaction::new();
        transaction.push(if read.version == 0 {
            txn::delete(
                &org_pk(org),
                &endpoint_sk(id),
                Some("attribute_exists(PK) AND attribute_not_exists(version)"),
            )
        } else {
            txn::delete_versioned(&org_pk(org), &endpoint_sk(id), read.version)
        });
        transaction.push(txn::delete(
            &org_pk(org),
            &endpoint_url_sk(&url_digest(read.url.as_str())),
            None,
        ));
        if counted {
            transaction.push_refusing(uncount.clone(), Uncounted);
        }
        Ok(Step::Write((), transaction))
    };
    let what = "webhook endpoint delete";
    if let Err(Uncounted) = txn::read_modify_write(db, what, || removal(true)).await? {
        // Made before endpoints were counted: nothing to give back.
        let uncounted = txn::read_modify_write(db, what, || removal(false)).await?;
        uncounted.map_err(|Uncounted| ApiError::internal("an uncounted removal refused"))?;
    }
    Ok(())
}

/// The refusal of an endpoint's deletion that gives back a place it never took: it was
/// made before endpoints were counted.
#[derive(Clone, Debug)]
struct Uncounted;

/// A new current secret. The one it replaces keeps signing for `grace_hours` (0: stops
/// now, at most [`MAX_GRACE_HOURS`]); any secret rotated out before that stops at once, so
/// a delivery carries at most [`super::MAX_SIGNING_SECRETS`] signatures however often the
/// secret is rotated (Stripe's roll keeps one previous secret too).
pub async fn rotate_secret(
    db: &Db,
    org: Uuid,
    id: Uuid,
    grace_hours: u32,
    master_key: &[u8],
    now: OffsetDateTime,
) -> Result<RotatedSecret, ApiError> {
    if grace_hours > MAX_GRACE_HOURS {
        return Err(ApiError::field(
            "grace_hours",
            format_args!("must be from 0 to {MAX_GRACE_HOURS}."),
        ));
    }
    let mut endpoint = get(db, org, id).await?;
    let grace_end = now + time::Duration::hours(grace_hours.into());
    let replaced = endpoint.secrets.first().cloned().map(|mut version| {
        version.expires_at = Some(version.expires_at.map_or(grace_end, |at| at.min(grace_end)));
        version
    });
    endpoint.secrets = std::iter::once(SecretVersion::generate(now))
        .chain(replaced.filter(|version| version.expires_at.is_some_and(|at| at > now)))
        .collect();
    let read = endpoint.clone();
    endpoint.version += 1;
    // The write replaces exactly what was read: a rotation or change made meanwhile wins,
    // and this one is refused rather than undoing it.
    let unchanged = unchanged_since(&read);
    if db.put_if(endpoint.item(org)?, &unchanged).await?.is_err() {
        return Err(ApiError::PreconditionFailed(
            "The webhook endpoint changed meanwhile (deleted, rotated or updated); read it and try again."
                .into(),
        ));
    }
    Ok(RotatedSecret {
        id,
        secret: endpoint.secrets[0].secret(master_key),
        secret_version: endpoint.secrets[0].digest(),
    })
}

/// The condition that an endpoint is as it was read: at its version (endpoints made before
/// versions were kept have none), and with the failure streak delivery had recorded, which
/// changes without a new version.
fn unchanged_since(read: &Endpoint) -> Expression<'static> {
    let text = match (read.version == 0, read.failing_since.is_some()) {
        (true, false) => "attribute_exists(PK) AND attribute_not_exists(version) AND attribute_not_exists(failing_since)",
        (true, true) => "attribute_exists(PK) AND attribute_not_exists(version) AND failing_since = :failing_since",
        (false, false) => "version = :version AND attribute_not_exists(failing_since)",
        (false, true) => "version = :version AND failing_since = :failing_since",
    };
    let mut values = Vec::new();
    if read.version > 0 {
        values.push((":version", n(read.version)));
    }
    if let Some(since) = read.failing_since {
        values.push((":failing_since", s(crate::clock::format(since))));
    }
    Expression {
        text,
        values,
        ..Default::default()
    }
}

/// What `PATCH` may change. Absent fields stay as they are; `description: null` clears it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointChanges {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<Subscription>>,
    #[serde(default)]
    pub description: Patch<Text<MAX_DESCRIPTION>>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

impl EndpointChanges {
    /// Disabling or enabling, and nothing else.
    pub fn disabled(disabled: bool) -> Self {
        Self {
            disabled: Some(disabled),
            ..Self::default()
        }
    }
}

/// Applies `changes` to the endpoint if its current version is one `precondition` names.
/// Enabling a disabled endpoint resumes delivery of the events made from then on only;
/// disabling one stops every delivery to it, queued ones included.
pub async fn update(
    db: &Db,
    org: Uuid,
    id: Uuid,
    changes: EndpointChanges,
    destinations: &Destinations,
    precondition: &Precondition,
    now: OffsetDateTime,
) -> Result<Endpoint, ApiError> {
    let url = changes
        .url
        .as_deref()
        .map(|url| checked_url(destinations, url))
        .transpose()?;
    let events = changes
        .events
        .map(|events| event_types(Some(events)))
        .transpose()?;
    txn::read_modify_write(db, "webhook endpoint update", || async {
        let read = get(db, org, id).await?;
        precondition.check(read.version, "webhook endpoint")?;
        let mut endpoint = read.clone();
        if let Some(url) = url.as_ref().filter(|url| **url != read.url) {
            endpoint.point_to(url, now);
        }
        if let Some(events) = events.as_ref().filter(|events| **events != read.events) {
            endpoint.events.clone_from(events);
            endpoint.eligible_since = Some(now);
        }
        changes
            .description
            .clone()
            .update(&mut endpoint.description);
        match changes.disabled {
            Some(true) => endpoint.disable(now),
            Some(false) => endpoint.enable(now),
            None => {}
        }
        if endpoint == read {
            return Ok(Step::Done(read));
        }
        endpoint.version = read.version + 1;
        moved(db, org, &read, endpoint).await
    })
    .await?
}

/// Writes `endpoint` over `read`, exactly as read. Another URL moves its marker in the same
/// transaction; the same URL is one conditional put.
async fn moved(
    db: &Db,
    org: Uuid,
    read: &Endpoint,
    endpoint: Endpoint,
) -> Result<Step<Endpoint, ApiError>, ApiError> {
    if endpoint.url == read.url {
        return Ok(
            match db
                .put_if(endpoint.item(org)?, &unchanged_since(read))
                .await?
            {
                Ok(()) => Step::Done(endpoint),
                // Deleted, rotated or changed meanwhile: read it again.
                Err(_) => Step::ReadAgain,
            },
        );
    }
    refuse_duplicate_url(db, org, Some(endpoint.id), endpoint.url.as_str()).await?;
    let mut transaction = Transaction::new();
    transaction.push(txn::put_when(endpoint.item(org)?, &unchanged_since(read)));
    transaction.push(txn::delete(
        &org_pk(org),
        &endpoint_url_sk(&url_digest(read.url.as_str())),
        None,
    ));
    transaction.push_refusing(
        txn::put(url_marker(org, &endpoint), Some("attribute_not_exists(PK)")),
        duplicate_url(endpoint.url.as_str()),
    );
    Ok(Step::Write(endpoint, transaction))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outbox::EventType;

    #[test]
    fn event_types_default_to_every_type_and_keep_each_once() {
        assert_eq!(event_types(None).unwrap(), [Subscription::Every]);
        let note = Subscription::Only(EventType::NoteCreated);
        assert_eq!(event_types(Some(vec![note, note])).unwrap(), [note]);
        assert_eq!(
            event_types(Some(vec![note, Subscription::Every])).unwrap(),
            [Subscription::Every]
        );
        let parsed: Vec<Subscription> = serde_json::from_str(r#"["*", "note.created"]"#).unwrap();
        assert_eq!(parsed, [Subscription::Every, note]);
        assert!(serde_json::from_str::<Subscription>(r#""dossier.*""#).is_err());
        assert!(serde_json::from_str::<Subscription>(r#"{"note.created": null}"#).is_err());
        assert_eq!(
            event_types(Some(Vec::new())).unwrap_err().code(),
            "invalid_body"
        );
    }
}
