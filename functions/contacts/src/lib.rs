//! `/contacts…` and the dossier links under `/dossiers/{id}/contacts…`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Router;
use serde_json::json;
use shared::domain::contacts::search::Search;
use shared::domain::contacts::{self, ContactFilter, ContactInput, Kind, Pool};
use shared::domain::links::{self, NewLink};
use shared::web::{
    api, created, created_versioned, list, ok, ok_versioned, scopes, Authorized, Core, IfMatch,
    JsonBody, PathId, PathIds, QueryParams,
};
use shared::{ApiError, ApiResult};

pub fn router(core: Core) -> Router {
    let routes = Router::new()
        .route("/contacts", get(list_contacts).post(create))
        .route("/contacts/{id}", get(show).patch(update).delete(remove))
        .route("/dossiers/{id}/contacts", get(linked).post(link))
        .route("/dossiers/{id}/contacts/{contact_id}", delete(unlink))
        .with_state(core.clone());
    api(routes, core)
}

async fn create(
    Authorized(principal, ..): Authorized<scopes::ContactsWrite>,
    State(core): State<Core>,
    JsonBody(input): JsonBody<ContactInput>,
) -> ApiResult<Response> {
    let contact = contacts::create(&core.db, principal.org_id, input, core.clock.now()).await?;
    Ok(created_versioned(contact))
}

async fn show(
    Authorized(principal, ..): Authorized<scopes::ContactsRead>,
    State(core): State<Core>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let contact = contacts::get(&core.db, principal.org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Contact not found."))?;
    Ok(ok_versioned(contact))
}

/// Needs `contacts:read` too: it answers the whole contact, which `PATCH {}` would otherwise
/// read for a key that may only write.
async fn update(
    Authorized(principal, ..): Authorized<scopes::ContactsReadWrite>,
    State(core): State<Core>,
    PathId(id): PathId,
    IfMatch(precondition): IfMatch,
    JsonBody(patch): JsonBody<ContactInput>,
) -> ApiResult<Response> {
    let contact = contacts::update(
        &core.db,
        principal.org_id,
        id,
        patch,
        &precondition,
        core.clock.now(),
    )
    .await?;
    Ok(ok_versioned(contact))
}

async fn remove(
    Authorized(principal, ..): Authorized<scopes::ContactsWrite>,
    State(core): State<Core>,
    PathId(id): PathId,
    IfMatch(precondition): IfMatch,
) -> ApiResult<Response> {
    links::delete_contact(
        &core.db,
        principal.org_id,
        id,
        &precondition,
        core.clock.now(),
    )
    .await?;
    Ok(ok(json!({ "id": id, "deleted": true })))
}

async fn linked(
    Authorized(principal, ..): Authorized<scopes::ContactsRead>,
    State(core): State<Core>,
    PathId(id): PathId,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let position = query.position()?;
    query.finish()?;
    let all = links::list(&core.db, principal.org_id, id).await?;
    let total = all.len() as u64;
    let (items, next_cursor) = position.page_of(all, |linked| linked.contact_id)?;
    Ok(list(items, position.meta(total, next_cursor)))
}

async fn link(
    Authorized(principal, ..): Authorized<scopes::LinkContacts>,
    State(core): State<Core>,
    PathId(id): PathId,
    JsonBody(input): JsonBody<NewLink>,
) -> ApiResult<Response> {
    let (link, is_new) =
        links::link(&core.db, principal.org_id, id, input, core.clock.now()).await?;
    let body = json!({
        "dossier_id": link.dossier_id,
        "contact_id": link.contact_id,
        "role_on_dossier": link.role_on_dossier,
        "is_primary": link.is_primary,
    });
    Ok(if is_new { created(body) } else { ok(body) })
}

async fn unlink(
    Authorized(principal, ..): Authorized<scopes::LinkContacts>,
    State(core): State<Core>,
    PathIds(dossier, contact): PathIds,
) -> ApiResult<Response> {
    links::unlink(
        &core.db,
        principal.org_id,
        dossier,
        contact,
        core.clock.now(),
    )
    .await?;
    Ok(ok(
        json!({ "dossier_id": dossier, "contact_id": contact, "unlinked": true }),
    ))
}

async fn list_contacts(
    Authorized(principal, ..): Authorized<scopes::ContactsRead>,
    State(core): State<Core>,
    mut query: QueryParams,
) -> ApiResult<Response> {
    // A repeated value asks for nothing more, so it must not cost another index query.
    let mut kinds: Vec<Kind> = Vec::new();
    for raw in query.take_all("kind") {
        let kind = Kind::parse(&raw).ok_or_else(|| {
            ApiError::query(
                "kind",
                "must be 'candidate', 'prospect', 'client', 'supplier' or 'partner'.",
            )
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let pool = query
        .take("pool")?
        .map(|raw| {
            Pool::parse(&raw)
                .ok_or_else(|| ApiError::query("pool", "must be 'in_pool' or 'expired'."))
        })
        .transpose()?;
    let search = query
        .take("search")?
        .filter(|s| !s.trim().is_empty())
        .map(|s| Search::from_query(&s))
        .transpose()?;
    let position = query.position()?;
    query.finish()?;
    let filter = ContactFilter {
        kinds,
        pool,
        search,
    };
    let listing = contacts::list(
        &core.db,
        principal.org_id,
        &filter,
        &position,
        core.clock.now(),
    )
    .await?;
    let meta = position.meta(listing.total, listing.next_cursor);
    Ok(list(listing.items, meta))
}
