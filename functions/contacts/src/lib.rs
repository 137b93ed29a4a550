//! `/contacts…` and the dossier links under `/dossiers/{id}/contacts…`.

use axum::routing::{delete, get};
use axum::Router;
use shared::http::{api, scopes, Authorized, Core};
use shared::ApiError;

pub fn app(sdk: &aws_config::SdkConfig, config: &shared::config::Config) -> Router {
    router(Core::new(sdk, config))
}

pub fn router(core: Core) -> Router {
    let routes = Router::new()
        .route("/contacts", get(read).post(write))
        .route("/contacts/{id}", get(read).patch(write).delete(write))
        .route("/dossiers/{id}/contacts", get(read).post(link))
        .route("/dossiers/{id}/contacts/{contact_id}", delete(link));
    api(routes, core)
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
