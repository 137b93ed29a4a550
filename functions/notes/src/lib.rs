//! `/dossiers/{id}/notes`.

use axum::routing::get;
use axum::Router;
use shared::http::{api, scopes, Authorized, Core};
use shared::ApiError;

pub fn app(sdk: &aws_config::SdkConfig, config: &shared::config::Config) -> Router {
    router(Core::new(sdk, config))
}

pub fn router(core: Core) -> Router {
    let routes = Router::new().route("/dossiers/{id}/notes", get(read).post(write));
    api(routes, core)
}

async fn read(_: Authorized<scopes::NotesRead>) -> ApiError {
    ApiError::NotImplemented
}

async fn write(_: Authorized<scopes::NotesWrite>) -> ApiError {
    ApiError::NotImplemented
}
