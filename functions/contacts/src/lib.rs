//! `/contacts…` and the dossier links under `/dossiers/{id}/contacts…`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Router;
use shared::contacts::{self, ContactInput};
use shared::http::{api, created, ok, scopes, Authorized, Core, JsonBody, PathIds};
use shared::{ApiError, ApiResult};

pub fn app(sdk: &aws_config::SdkConfig, config: &shared::config::Config) -> Router {
    router(Core::new(sdk, config))
}

pub fn router(core: Core) -> Router {
    let routes = Router::new()
        .route("/contacts", get(read).post(create))
        .route("/contacts/{id}", get(show).patch(update).delete(write))
        .route("/dossiers/{id}/contacts", get(read).post(link))
        .route("/dossiers/{id}/contacts/{contact_id}", delete(link))
        .with_state(core.clone());
    api(routes, core)
}

async fn create(
    Authorized(principal, ..): Authorized<scopes::ContactsWrite>,
    State(core): State<Core>,
    JsonBody(input): JsonBody<ContactInput>,
) -> ApiResult<Response> {
    Ok(created(
        contacts::create(&core.db, principal.org_id, input).await?,
    ))
}

async fn show(
    Authorized(principal, ..): Authorized<scopes::ContactsRead>,
    State(core): State<Core>,
    PathIds(ids): PathIds,
) -> ApiResult<Response> {
    let contact = contacts::get(&core.db, principal.org_id, ids[0])
        .await?
        .ok_or_else(|| ApiError::not_found("Contact not found."))?;
    Ok(ok(contact))
}

async fn update(
    Authorized(principal, ..): Authorized<scopes::ContactsWrite>,
    State(core): State<Core>,
    PathIds(ids): PathIds,
    JsonBody(patch): JsonBody<ContactInput>,
) -> ApiResult<Response> {
    Ok(ok(contacts::update(
        &core.db,
        principal.org_id,
        ids[0],
        patch,
    )
    .await?))
}

async fn read(_: Authorized<scopes::ContactsRead>) -> ApiError {
    ApiError::NotImplemented
}

async fn write(_: Authorized<scopes::ContactsWrite>) -> ApiError {
    ApiError::NotImplemented
}

async fn link(_: Authorized<scopes::LinkContacts>) -> ApiError {
    ApiError::NotImplemented
}
