//! `/dossiers`, `/dossiers/{id}` and the CV routes.

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use shared::dossiers::{self, CreateDossier, Filter, PatchDossier, Position, Status};
use shared::flows::DossierType;
use shared::http::{
    api, created, ok, parse_json, read_body, require_content_type, scopes, Authorized, Core,
    JsonBody, PathIds, QueryParams,
};
use shared::pagination::{decode_cursor, encode_cursor, PageParams};
use shared::{ApiError, ApiResult};

pub fn app(sdk: &aws_config::SdkConfig, config: &shared::config::Config) -> Router {
    router(Core::new(sdk, config))
}

pub fn router(core: Core) -> Router {
    let routes = Router::new()
        .route("/dossiers", get(list).post(create))
        .route("/dossiers/{id}", get(show).patch(update).delete(archive))
        .route("/dossiers/{id}/cv", post(upload_cv))
        .with_state(core.clone());
    api(routes, core)
}

fn parse_filter(query: &mut QueryParams) -> ApiResult<Filter> {
    let kind = query
        .take("type")?
        .map(|raw| {
            DossierType::parse(&raw).ok_or_else(|| {
                ApiError::invalid("Query parameter `type` must be 'candidate' or 'sales'.")
            })
        })
        .transpose()?;
    let status = query
        .take("status")?
        .map(|raw| {
            Status::parse(&raw).ok_or_else(|| {
                ApiError::invalid(
                    "Query parameter `status` must be 'active', 'won', 'lost' or 'archived'.",
                )
            })
        })
        .transpose()?;
    let stage = query
        .take("stage_id")?
        .map(|raw| {
            uuid::Uuid::parse_str(&raw)
                .map_err(|_| ApiError::invalid("Query parameter `stage_id` must be a UUID."))
        })
        .transpose()?;
    Ok(Filter {
        kind,
        status,
        stage,
    })
}

async fn list(
    Authorized(principal, ..): Authorized<scopes::DossiersRead>,
    State(core): State<Core>,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let filter = parse_filter(&mut query)?;
    let cursor = query.take("cursor")?;
    let has_page = query.has("page");
    let page = PageParams::from_query(&mut query)?;
    query.finish()?;
    let position = match cursor {
        Some(_) if has_page => {
            return Err(ApiError::invalid(
                "Use either `cursor` or `page`, not both.",
            ))
        }
        Some(raw) => Position::After {
            cursor: Some(decode_cursor(&raw)?),
            per_page: page.per_page,
        },
        None => Position::Page(page),
    };
    let listing = dossiers::list(&core.db, principal.org_id, &filter, &position).await?;
    let next_cursor = listing.next_cursor.map(encode_cursor);
    let meta = match position {
        Position::Page(page) => {
            json!({ "total": listing.total, "page": page.page, "per_page": page.per_page, "next_cursor": next_cursor })
        }
        Position::After { per_page, .. } => {
            json!({ "total": listing.total, "per_page": per_page, "next_cursor": next_cursor })
        }
    };
    Ok(shared::http::list(listing.items, meta))
}

async fn create(
    Authorized(principal, ..): Authorized<scopes::DossiersWrite>,
    State(core): State<Core>,
    request: Request,
) -> ApiResult<Response> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        return Err(ApiError::NotImplemented);
    }
    require_content_type(request.headers(), "application/json")?;
    let body = read_body(request, &()).await?;
    let input: CreateDossier = parse_json(&body)?;
    let dossier = dossiers::create(&core.db, principal.org_id, input).await?;
    Ok(created(dossier))
}

async fn show(
    Authorized(principal, ..): Authorized<scopes::DossiersRead>,
    State(core): State<Core>,
    PathIds(ids): PathIds,
) -> ApiResult<Response> {
    let dossier = dossiers::get(&core.db, principal.org_id, ids[0])
        .await?
        .ok_or_else(|| ApiError::not_found("Dossier not found."))?;
    Ok(ok(dossier))
}

async fn update(
    Authorized(principal, ..): Authorized<scopes::DossiersWrite>,
    State(core): State<Core>,
    PathIds(ids): PathIds,
    JsonBody(patch): JsonBody<PatchDossier>,
) -> ApiResult<Response> {
    let dossier = dossiers::patch(&core.db, principal.org_id, ids[0], patch).await?;
    Ok(ok(dossier))
}

async fn archive(
    Authorized(principal, ..): Authorized<scopes::DossiersWrite>,
    State(core): State<Core>,
    PathIds(ids): PathIds,
) -> ApiResult<Response> {
    let dossier = dossiers::archive(&core.db, principal.org_id, ids[0]).await?;
    Ok(ok(json!({ "id": dossier.id, "status": dossier.status })))
}

async fn upload_cv(_: Authorized<scopes::DossiersWrite>) -> ApiError {
    ApiError::NotImplemented
}
