//! `/dossiers`, `/dossiers/{id}` and the CV routes.

use axum::routing::{get, post};
use axum::Router;
use shared::http::{api, scopes, Authorized, Core};
use shared::ApiError;

pub fn app(sdk: &aws_config::SdkConfig, config: &shared::config::Config) -> Router {
    router(Core::new(sdk, config))
}

pub fn router(core: Core) -> Router {
    let routes = Router::new()
        .route("/dossiers", get(read).post(write))
        .route("/dossiers/{id}", get(read).patch(write).delete(write))
        .route("/dossiers/{id}/cv", post(write));
    api(routes, core)
}

async fn read(_: Authorized<scopes::DossiersRead>) -> ApiError {
    ApiError::NotImplemented
}

async fn write(_: Authorized<scopes::DossiersWrite>) -> ApiError {
    ApiError::NotImplemented
}
