//! `/dossiers`, `/dossiers/{id}` and the CV routes.

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use shared::cv::{self, CvStore, MAX_CV_BYTES};
use shared::domain::dossiers::{self, CreateDossier, Filter, PatchDossier, Status};
use shared::domain::flows::DossierType;
use shared::web::auth::{Principal, Scope};
use shared::web::{
    api, created, created_versioned, ok, ok_versioned, parse_form, parse_json, read_body,
    require_content_type, scopes, too_large_to_send_directly, with_etag, Authorized, Core, IfMatch,
    JsonBody, PathId, QueryParams, DIRECT_UPLOAD_MAX_BYTES,
};
use shared::{ApiError, ApiResult};

/// JSON bodies are small; only the CV routes take large ones.
const MAX_JSON_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub cvs: CvStore,
}

/// The function as deployed: it needs its CV bucket and does not start without one.
pub fn app(
    core: Core,
    sdk: &aws_config::SdkConfig,
    config: &shared::config::Config,
) -> Result<Router, String> {
    let cvs = CvStore {
        s3: shared::config::s3_client(sdk),
        bucket: config.require_cv_bucket()?,
    };
    Ok(router(core, cvs))
}

pub fn router(core: Core, cvs: CvStore) -> Router {
    let routes = Router::new()
        .route("/dossiers", get(list).post(create))
        .route("/dossiers/{id}", get(show).patch(update).delete(archive))
        .route("/dossiers/{id}/cv", post(upload_cv).get(download_cv))
        .route("/dossiers/{id}/cv/upload", post(start_upload))
        .route("/dossiers/{id}/cv/complete", post(complete_upload))
        .layer(DefaultBodyLimit::max(shared::web::MAX_REQUEST_BYTES))
        .with_state(AppState {
            core: core.clone(),
            cvs,
        });
    api(routes, core)
}

fn parse_filter(query: &mut QueryParams) -> ApiResult<Filter> {
    let kind = query
        .take("type")?
        .map(|raw| {
            DossierType::parse(&raw)
                .ok_or_else(|| ApiError::query("type", "must be 'candidate' or 'sales'."))
        })
        .transpose()?;
    let status = query
        .take("status")?
        .map(|raw| {
            Status::parse(&raw).ok_or_else(|| {
                ApiError::query("status", "must be 'active', 'won', 'lost' or 'archived'.")
            })
        })
        .transpose()?;
    let stage = query
        .take("stage_id")?
        .map(|raw| {
            shared::ids::parse(&raw).ok_or_else(|| {
                ApiError::query(
                    "stage_id",
                    "must be an id (36 characters, lowercase and hyphenated).",
                )
            })
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
    State(state): State<AppState>,
    mut query: QueryParams,
) -> ApiResult<Response> {
    let filter = parse_filter(&mut query)?;
    let position = query.position()?;
    query.finish()?;
    let listing = dossiers::list(&state.core.db, principal.org_id, &filter, &position).await?;
    let meta = position.meta(listing.total, listing.next_cursor);
    Ok(shared::web::list(listing.items, meta))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large_to_send_directly()
    } else {
        ApiError::invalid(format!("Malformed multipart body: {}", err.body_text()))
    }
}

/// Reads a field's bytes, refusing to buffer more than `max`.
async fn field_bytes(
    mut field: axum::extract::multipart::Field<'_>,
    max: usize,
    too_large: fn() -> ApiError,
) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > max {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A multipart form's `cv` file, if one was sent, and its text fields when `text_fields`
/// allows them; any other field is refused.
async fn read_form(
    request: Request,
    text_fields: bool,
) -> ApiResult<(Vec<(String, String)>, Option<Vec<u8>>)> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::invalid(e.body_text()))?;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut cv_bytes = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "cv" {
            if cv_bytes.is_some() {
                return Err(ApiError::field("cv", "may appear only once."));
            }
            let cv = field_bytes(field, DIRECT_UPLOAD_MAX_BYTES, too_large_to_send_directly);
            cv_bytes = Some(cv.await?);
            continue;
        }
        if !text_fields {
            return Err(ApiError::field(
                name,
                "is not a field of this form; send only `cv`.",
            ));
        }
        let raw = field_bytes(field, MAX_JSON_BYTES, || {
            ApiError::PayloadTooLarge("A form field is too large.".into())
        })
        .await?;
        let text = String::from_utf8(raw)
            .map_err(|_| ApiError::field(name.as_str(), "must be UTF-8 text."))?;
        if fields.iter().any(|(seen, _)| *seen == name) {
            return Err(ApiError::field(name, "may appear only once."));
        }
        fields.push((name, text));
    }
    Ok((fields, cv_bytes))
}

async fn create(
    Authorized(principal, ..): Authorized<scopes::DossiersWrite>,
    State(state): State<AppState>,
    request: Request,
) -> ApiResult<Response> {
    let org = principal.org_id;
    if !is_multipart(request.headers()) {
        require_content_type(request.headers(), "application/json")?;
        let body = read_body(request, &()).await?;
        if body.len() > MAX_JSON_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "JSON bodies are limited to {MAX_JSON_BYTES} bytes."
            )));
        }
        let input: CreateDossier = parse_json(&body)?;
        require_contact_scopes(&principal, &input)?;
        let dossier = dossiers::create(&state.core.db, org, input, state.core.clock.now()).await?;
        return Ok(created_versioned(dossier));
    }
    let (fields, cv_bytes) = read_form(request, true).await?;
    let input: CreateDossier = parse_form(&fields)?;
    require_contact_scopes(&principal, &input)?;
    if let Some(bytes) = &cv_bytes {
        cv::check(bytes)?;
    }
    let db = &state.core.db;
    let prepared = dossiers::prepare(db, org, input, state.core.clock.now()).await?;
    let dossier = match cv_bytes {
        None => dossiers::commit(db, org, prepared, None).await?,
        Some(bytes) => dossiers::create_with_cv(db, &state.cvs, org, prepared, bytes).await?,
    };
    Ok(created_versioned(dossier))
}

/// The reference: `contacts:write` is "required alongside dossiers:write to link or unlink
/// contacts on a dossier", which a create does with `contact_id` or a known `email`.
fn require_contact_scopes(principal: &Principal, input: &CreateDossier) -> ApiResult<()> {
    if input.reaches_existing_contacts() {
        principal.require(&[Scope::ContactsWrite])?;
    }
    Ok(())
}

async fn show(
    Authorized(principal, ..): Authorized<scopes::DossiersRead>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let dossier = dossiers::get(&state.core.db, principal.org_id, id)
        .await?
        .ok_or_else(ApiError::dossier_not_found)?;
    Ok(ok_versioned(dossier))
}

/// Needs `dossiers:read` too: it answers the whole dossier, which `PATCH {}` would otherwise
/// read for a key that may only write.
async fn update(
    Authorized(principal, ..): Authorized<scopes::DossiersReadWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
    IfMatch(precondition): IfMatch,
    JsonBody(patch): JsonBody<PatchDossier>,
) -> ApiResult<Response> {
    if patch.reaches_primary_contact() {
        principal.require(&[Scope::ContactsWrite])?;
    }
    let dossier = dossiers::patch(
        &state.core.db,
        principal.org_id,
        id,
        patch,
        &precondition,
        state.core.clock.now(),
    )
    .await?;
    Ok(ok_versioned(dossier))
}

async fn archive(
    Authorized(principal, ..): Authorized<scopes::DossiersWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
    IfMatch(precondition): IfMatch,
) -> ApiResult<Response> {
    let now = state.core.clock.now();
    let dossier =
        dossiers::archive(&state.core.db, principal.org_id, id, &precondition, now).await?;
    Ok(with_etag(
        ok(json!({ "id": dossier.id, "status": dossier.status })),
        dossier.version,
    ))
}

/// `POST /dossiers/{id}/cv`: multipart with a `cv` field, or the raw PDF.
async fn upload_cv(
    Authorized(principal, ..): Authorized<scopes::DossiersWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
    request: Request,
) -> ApiResult<Response> {
    let org = principal.org_id;
    let bytes = if is_multipart(request.headers()) {
        let (_, cv_bytes) = read_form(request, false).await?;
        cv_bytes.ok_or_else(|| ApiError::field("cv", "is required."))?
    } else {
        require_content_type(request.headers(), "application/pdf").map_err(|_| {
            ApiError::UnsupportedMediaType(
                "Send the CV as multipart/form-data with a `cv` field, or as application/pdf."
                    .into(),
            )
        })?;
        let body = read_body(request, &()).await.map_err(|err| match err {
            ApiError::PayloadTooLarge(_) => too_large_to_send_directly(),
            other => other,
        })?;
        if body.len() > DIRECT_UPLOAD_MAX_BYTES {
            return Err(too_large_to_send_directly());
        }
        body.to_vec()
    };
    cv::check(&bytes)?;
    let now = state.core.clock.now();
    let dossier = dossiers::replace_cv(&state.core.db, &state.cvs, org, id, bytes, now).await?;
    Ok(ok(json!({ "id": dossier.id, "cv_url": dossier.cv_url })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StartUpload {
    size: usize,
}

/// `POST /dossiers/{id}/cv/upload`: a presigned S3 upload, for CVs too large to pass
/// through API Gateway and Lambda (whose request limit is about 6 MB).
async fn start_upload(
    Authorized(principal, ..): Authorized<scopes::DossiersWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
    JsonBody(body): JsonBody<StartUpload>,
) -> ApiResult<Response> {
    let org = principal.org_id;
    if body.size == 0 {
        return Err(ApiError::field("size", "must be at least 1 byte."));
    }
    if body.size > MAX_CV_BYTES {
        return Err(cv::too_large());
    }
    dossiers::get(&state.core.db, org, id)
        .await?
        .ok_or_else(ApiError::dossier_not_found)?;
    let upload_id = shared::ids::new_id();
    let upload = state
        .cvs
        .upload_link(
            &cv::staging_key(org, id, upload_id),
            upload_id,
            body.size,
            state.core.clock.now(),
        )
        .await?;
    Ok(created(upload))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteUpload {
    upload_id: shared::ids::Id,
}

/// `POST /dossiers/{id}/cv/complete`: checks the uploaded file and attaches it.
async fn complete_upload(
    Authorized(principal, ..): Authorized<scopes::DossiersWrite>,
    State(state): State<AppState>,
    PathId(id): PathId,
    JsonBody(body): JsonBody<CompleteUpload>,
) -> ApiResult<Response> {
    let upload = body.upload_id.uuid();
    let now = state.core.clock.now();
    let db = &state.core.db;
    let dossier =
        dossiers::complete_upload(db, &state.cvs, principal.org_id, id, upload, now).await?;
    Ok(ok(json!({ "id": dossier.id, "cv_url": dossier.cv_url })))
}

/// `GET /dossiers/{id}/cv`: a redirect to a download link valid for 15 minutes.
async fn download_cv(
    Authorized(principal, ..): Authorized<scopes::DossiersRead>,
    State(state): State<AppState>,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let dossier = dossiers::get(&state.core.db, principal.org_id, id)
        .await?
        .ok_or_else(ApiError::dossier_not_found)?;
    let key = dossier
        .cv_url
        .ok_or_else(|| ApiError::not_found("This dossier has no CV."))?;
    let link = state
        .cvs
        .download_link(&key, state.core.clock.now())
        .await?;
    Ok((StatusCode::FOUND, [(LOCATION, link)]).into_response())
}
