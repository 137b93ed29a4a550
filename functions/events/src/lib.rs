//! `GET /events` and `GET /events/{id}`: the organization's domain events, exactly as
//! webhooks deliver them, for as long as the deployment keeps them. A key sees the events
//! of the resources its scopes read.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;
use shared::domain::events::{self, Selection};
use shared::domain::fields::Instant;
use shared::domain::outbox::{EventId, EventType};
use shared::domain::pagination::encode_cursor;
use shared::web::auth::{Principal, Scope};
use shared::web::{api, list, ok, scopes, Authorized, Core, QueryParams};
use shared::{ApiError, ApiResult};

pub fn router(core: Core) -> Router {
    let routes = Router::new()
        .route("/events", get(list_events))
        .route("/events/{id}", get(show))
        .with_state(core.clone());
    api(routes, core)
}

/// Newest first, by cursor; `type` (repeatable), `since` and `until` narrow the list.
async fn list_events(
    Authorized(principal, ..): Authorized<scopes::AnyScope>,
    State(core): State<Core>,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let (cursor, per_page) = query.cursor_page()?;
    let mut asked: Vec<EventType> = Vec::new();
    for raw in query.take_all("type") {
        let kind = EventType::parse(&raw).ok_or_else(|| {
            ApiError::query("type", format_args!("must be one of {}.", type_names()))
        })?;
        if !asked.contains(&kind) {
            asked.push(kind);
        }
    }
    let since = instant(&mut query, "since")?;
    let until = instant(&mut query, "until")?;
    query.finish()?;
    if let (Some(since), Some(until)) = (since, until) {
        if until <= since {
            return Err(ApiError::query("until", "must be later than `since`."));
        }
    }
    let selection = Selection {
        types: readable(&principal, asked)?,
        since,
        until,
        after: cursor.map(|cursor| cursor.id),
        newest_first: true,
    };
    let per_page = per_page as usize;
    let mut page = events::read(&core.db, principal.org_id, &selection, per_page + 1).await?;
    let next_cursor = (page.len() > per_page)
        .then(|| events::event_uuid(&page[per_page - 1].id))
        .flatten()
        .map(|id| encode_cursor(id.into()));
    page.truncate(per_page);
    Ok(list(
        page,
        json!({ "per_page": per_page, "next_cursor": next_cursor }),
    ))
}

async fn show(
    Authorized(principal, ..): Authorized<scopes::AnyScope>,
    State(core): State<Core>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    query: QueryParams,
) -> ApiResult<Response> {
    query.finish()?;
    // A key that reads no events learns nothing, not even whether one exists.
    readable(&principal, Vec::new())?;
    let not_found = || {
        let days = shared::domain::outbox::retention().whole_days();
        ApiError::not_found(format!("Event not found (events are kept {days} days)."))
    };
    let id = id
        .ok()
        .and_then(|Path(raw)| EventId::parse(&raw).ok())
        .ok_or_else(not_found)?;
    // An event of what the key may not read is not one it sees: not even its type shows.
    let event = events::get(&core.db, principal.org_id, &id)
        .await?
        .filter(|event| principal.scopes.contains(&Scope::reading(event.kind)))
        .ok_or_else(not_found)?;
    Ok(ok(event))
}

/// The types asked for, each of which the key must read; or, when none is asked for, every
/// type it reads.
fn readable(principal: &Principal, asked: Vec<EventType>) -> Result<Vec<EventType>, ApiError> {
    if asked.is_empty() {
        let types: Vec<EventType> = EventType::ALL
            .into_iter()
            .filter(|kind| principal.scopes.contains(&Scope::reading(*kind)))
            .collect();
        if types.is_empty() {
            return Err(ApiError::Forbidden(
                "This API key lacks the required scope: one of dossiers:read, notes:read or contacts:read.".into(),
            ));
        }
        return Ok(types);
    }
    for kind in &asked {
        principal.require(&[Scope::reading(*kind)])?;
    }
    Ok(asked)
}

fn instant(query: &mut QueryParams, name: &str) -> Result<Option<time::OffsetDateTime>, ApiError> {
    query
        .take(name)?
        .map(|raw| {
            Instant::parse(&raw)
                .map(|instant| instant.0)
                .map_err(|rule| ApiError::query(name, rule))
        })
        .transpose()
}

fn type_names() -> String {
    EventType::ALL
        .iter()
        .map(|kind| format!("'{}'", kind.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
