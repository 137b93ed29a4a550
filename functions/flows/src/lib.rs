//! `GET /flows` and `GET /flows/{id}/stages`; also the public reference (`reference`, no key
//! needed) and the answer for every unknown route.

mod reference;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use shared::domain::flows::{self, DossierType};
use shared::web::{api, list, scopes, Authorized, Core, PathId, QueryParams};
use shared::{ApiError, ApiResult};

pub fn router(core: Core) -> Router {
    let routes = Router::new()
        .route("/flows", get(list_flows))
        .route("/flows/{id}/stages", get(list_stages))
        .with_state(core.clone());
    // Merged outside the shell's layers: the reference is public.
    api(routes, core).merge(reference::routes())
}

pub use reference::OPENAPI_JSON;

async fn list_flows(
    Authorized(principal, ..): Authorized<scopes::FlowsRead>,
    State(core): State<Core>,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let kind = match query.take("type")? {
        Some(raw) => Some(
            DossierType::parse(&raw)
                .ok_or_else(|| ApiError::query("type", "must be 'candidate' or 'sales'."))?,
        ),
        None => None,
    };
    let page = query.page()?;
    query.finish()?;
    let matching: Vec<flows::Flow> = flows::list(&core.db, principal.org_id)
        .await?
        .into_iter()
        .filter(|flow| kind.is_none_or(|k| flow.kind == k))
        .collect();
    Ok(list(page.slice(&matching), page.meta(matching.len())))
}

async fn list_stages(
    Authorized(principal, ..): Authorized<scopes::FlowsRead>,
    State(core): State<Core>,
    PathId(id): PathId,
    query: QueryParams,
) -> ApiResult<Response> {
    query.finish()?;
    let flow = flows::get(&core.db, principal.org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Flow not found."))?;
    let total = flow.stages.len();
    let meta = serde_json::json!({ "total": total, "page": 1, "per_page": total });
    Ok(list(flow.stages, meta))
}
