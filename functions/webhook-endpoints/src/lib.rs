//! `/webhook_endpoints…`: integrations subscribe and unsubscribe through the API, as
//! operators do with `leadgrid-admin webhook …`, through the same domain functions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use shared::domain::fields::Instant;
use shared::domain::outbox::EventId;
use shared::domain::pagination::encode_cursor;
use shared::secrets::{SecretSource, WebhookMasterKey};
use shared::web::idempotency::{RestoreSecret, ShownSecret};
use shared::web::{
    api, created, list, ok, ok_versioned, scopes, with_etag, Authorized, Core, IfMatch, JsonBody,
    OptionalJsonBody, PathId, QueryParams,
};
use shared::webhooks::endpoints::{self, EndpointChanges, EndpointView, NewEndpoint};
use shared::webhooks::Destinations;
use shared::{ApiError, ApiResult};

/// What the routes need beyond the core: the key every endpoint secret derives from, where
/// deliveries may go, and the queue a replay goes to.
#[derive(Clone)]
pub struct Endpoints {
    pub core: Core,
    pub master_key: SecretSource<WebhookMasterKey>,
    pub destinations: Destinations,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

/// Gives a repeat of a create or rotation (same `Idempotency-Key`) its secret again, which
/// the stored response leaves out.
struct SecretRestorer(Endpoints);

impl RestoreSecret for SecretRestorer {
    fn restore<'a>(
        &'a self,
        org: uuid::Uuid,
        shown: &'a ShownSecret,
    ) -> Pin<Box<dyn Future<Output = ApiResult<Option<String>>> + Send + 'a>> {
        Box::pin(async move {
            let master = self.0.master_key.get().await?;
            endpoints::current_secret(
                &self.0.core.db,
                org,
                shown.endpoint_id,
                &shown.version,
                master.bytes(),
            )
            .await
        })
    }
}

/// The response showing `secret` (of `version`) once, marked so that it is stored without it.
fn showing_secret(mut response: Response, endpoint_id: uuid::Uuid, version: String) -> Response {
    response.extensions_mut().insert(ShownSecret {
        endpoint_id,
        version,
    });
    response
}

pub fn router(endpoints: Endpoints) -> Router {
    let routes = Router::new()
        .route("/webhook_endpoints", get(list_endpoints).post(create))
        .route(
            "/webhook_endpoints/{id}",
            get(show).patch(update).delete(remove),
        )
        .route("/webhook_endpoints/{id}/rotate_secret", post(rotate_secret))
        .route("/webhook_endpoints/{id}/replay", post(replay))
        .route("/webhook_endpoints/{id}/test", post(send_test))
        .route("/webhook_endpoints/{id}/attempts", get(attempts))
        .route("/webhook_endpoints/{id}/recover", post(recover))
        .with_state(endpoints.clone());
    let restorer: Arc<dyn RestoreSecret> = Arc::new(SecretRestorer(endpoints.clone()));
    api(routes, endpoints.core).layer(Extension(restorer))
}

async fn create(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    JsonBody(input): JsonBody<NewEndpoint>,
) -> ApiResult<Response> {
    let master = state.master_key.get().await?;
    let endpoint = endpoints::create(
        &state.core.db,
        principal.org_id,
        input,
        &state.destinations,
        master.bytes(),
        state.core.clock.now(),
    )
    .await?;
    let (version, id) = (endpoint.endpoint.version, endpoint.endpoint.id);
    let secret_version = endpoint.secret_version.clone();
    Ok(showing_secret(
        with_etag(created(endpoint), version),
        id,
        secret_version,
    ))
}

async fn list_endpoints(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let position = query.position()?;
    query.finish()?;
    let all = endpoints::list(&state.core.db, principal.org_id, state.core.clock.now()).await?;
    let total = all.len() as u64;
    let (items, next_cursor) = position.page_of(all, |endpoint| endpoint.id)?;
    Ok(list(items, position.meta(total, next_cursor)))
}

async fn show(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let endpoint = endpoints::get(&state.core.db, principal.org_id, id).await?;
    Ok(ok_versioned(EndpointView::of(
        endpoint,
        state.core.clock.now(),
    )))
}

async fn update(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    PathId(id): PathId,
    IfMatch(precondition): IfMatch,
    JsonBody(changes): JsonBody<EndpointChanges>,
) -> ApiResult<Response> {
    let now = state.core.clock.now();
    let endpoint = endpoints::update(
        &state.core.db,
        principal.org_id,
        id,
        changes,
        &state.destinations,
        &precondition,
        now,
    )
    .await?;
    Ok(ok_versioned(EndpointView::of(endpoint, now)))
}

async fn remove(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    PathId(id): PathId,
    IfMatch(precondition): IfMatch,
) -> ApiResult<Response> {
    endpoints::delete(&state.core.db, principal.org_id, id, &precondition).await?;
    Ok(ok(json!({ "id": id, "deleted": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotation {
    #[serde(default = "default_grace_hours")]
    grace_hours: u32,
}

fn default_grace_hours() -> u32 {
    24
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            grace_hours: default_grace_hours(),
        }
    }
}

async fn rotate_secret(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    PathId(id): PathId,
    OptionalJsonBody(rotation): OptionalJsonBody<Rotation>,
) -> ApiResult<Response> {
    let master = state.master_key.get().await?;
    let rotated = endpoints::rotate_secret(
        &state.core.db,
        principal.org_id,
        id,
        rotation.grace_hours,
        master.bytes(),
        state.core.clock.now(),
    )
    .await?;
    let secret_version = rotated.secret_version.clone();
    Ok(showing_secret(ok(rotated), id, secret_version))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Replay {
    event_id: EventId,
}

/// Sends a past event (kept for the deployment's retention) to the endpoint again: same id and body, its own retry
/// schedule.
async fn replay(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    PathId(id): PathId,
    JsonBody(replay): JsonBody<Replay>,
) -> ApiResult<Response> {
    let queued = endpoints::replay(
        &state.core.db,
        &state.sqs,
        &state.queue_url,
        principal.org_id,
        id,
        &replay.event_id,
        state.core.clock.now(),
    )
    .await?;
    Ok(ok(queued))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Recover {
    since: Instant,
    #[serde(default)]
    after: Option<EventId>,
}

/// Queues again, once each, the events since `since` that the endpoint missed; the answer's
/// `next`, when `has_more`, is the body that goes on.
async fn recover(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    PathId(id): PathId,
    JsonBody(asked): JsonBody<Recover>,
) -> ApiResult<Response> {
    let recovery = endpoints::recover(
        &state.core.db,
        &state.sqs,
        &state.queue_url,
        principal.org_id,
        id,
        asked.since.0,
        asked.after.as_ref(),
        state.core.clock.now(),
    )
    .await?;
    Ok(ok(recovery))
}

/// Queues a signed `ping` to the endpoint; `GET …/attempts?event_id=` shows how it went.
async fn send_test(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    PathId(id): PathId,
    OptionalJsonBody(_): OptionalJsonBody<NoFields>,
) -> ApiResult<Response> {
    let queued = endpoints::send_test(
        &state.core.db,
        &state.sqs,
        &state.queue_url,
        principal.org_id,
        id,
        state.core.clock.now(),
    )
    .await?;
    Ok(ok(queued))
}

/// A body that must be absent or `{}`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

/// The attempt log, newest first, by cursor; `event_id` narrows it to one event.
async fn attempts(
    Authorized(principal, ..): Authorized<scopes::WebhooksManage>,
    State(state): State<Endpoints>,
    PathId(id): PathId,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let (cursor, per_page) = query.cursor_page()?;
    let event_id = query
        .take("event_id")?
        .map(|raw| EventId::parse(&raw).map_err(|rule| ApiError::query("event_id", rule)))
        .transpose()?;
    query.finish()?;
    let (page, next) = endpoints::attempts(
        &state.core.db,
        principal.org_id,
        id,
        event_id.as_ref(),
        cursor.map(|cursor| cursor.id),
        per_page as usize,
    )
    .await?;
    let next_cursor = next.map(|id| encode_cursor(id.into()));
    Ok(list(
        page,
        json!({ "per_page": per_page, "next_cursor": next_cursor }),
    ))
}
