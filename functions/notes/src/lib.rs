//! `/dossiers/{id}/notes`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use shared::domain::notes::{self, NewNote};
use shared::web::{api, created, list, scopes, Authorized, Core, JsonBody, PathId, QueryParams};
use shared::ApiResult;

pub fn router(core: Core) -> Router {
    let routes = Router::new()
        .route("/dossiers/{id}/notes", get(list_notes).post(add_note))
        .with_state(core.clone());
    api(routes, core)
}

async fn list_notes(
    Authorized(principal, ..): Authorized<scopes::NotesRead>,
    State(core): State<Core>,
    PathId(id): PathId,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let position = query.position()?;
    query.finish()?;
    let found = notes::list(&core.db, principal.org_id, id, &position).await?;
    Ok(list(
        found.notes,
        position.meta(found.total, found.next_cursor),
    ))
}

async fn add_note(
    Authorized(principal, ..): Authorized<scopes::NotesWrite>,
    State(core): State<Core>,
    PathId(id): PathId,
    JsonBody(input): JsonBody<NewNote>,
) -> ApiResult<Response> {
    let note = notes::create(&core.db, principal.org_id, id, input, core.clock.now()).await?;
    Ok(created(note))
}
