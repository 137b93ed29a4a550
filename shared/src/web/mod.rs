//! The HTTP plumbing every API function shares: the `/api/v1` router shell, request ids,
//! authentication, plan and rate-limit checks, scope extractors, strict JSON bodies and
//! query strings, and the spec's response envelopes.

pub mod auth;
pub mod idempotency;
pub mod ratelimit;

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::config::Config;
use crate::domain::orgs::PlanCache;
use crate::domain::pagination::{PageParams, Position};
use crate::secrets::SecretSource;
use crate::table::store::Db;
use crate::table::txn::Precondition;
use crate::web::auth::{
    authenticate, authenticate_while_reading_pepper, bearer_token, Principal, Scope,
};
use crate::web::ratelimit::RateStatus;
use crate::{clock, ApiError};

pub const API_PREFIX: &str = "/api/v1";
/// The largest body any route accepts: a 10 MiB CV with its multipart envelope.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024 + 256 * 1024;
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");

/// What every API function needs, built once per container.
#[derive(Clone)]
pub struct Core {
    pub db: Db,
    pub secrets: SecretSource,
    pub plans: Arc<PlanCache>,
    pub clock: clock::Clock,
}

impl Core {
    pub fn new(sdk: &aws_config::SdkConfig, config: &Config) -> Self {
        Self {
            db: Db::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name),
            secrets: SecretSource::new(
                crate::config::secretsmanager_client(sdk),
                &config.secret_id,
            ),
            plans: Arc::new(PlanCache::default()),
            clock: clock::Clock::System,
        }
    }

    /// Starts, in the background, what a container's first request would otherwise wait
    /// for: the secret that checking its API key needs, and a DynamoDB connection.
    pub fn prefetch(&self) {
        self.secrets.prefetch();
        let db = self.db.clone();
        tokio::spawn(async move {
            if let Err(err) = db.open_connection().await {
                tracing::warn!(error = ?err, "opening a DynamoDB connection ahead of requests failed");
            }
        });
    }
}

/// Wraps a function's resource routes (paths relative to `/api/v1`) in the shared shell:
/// unknown paths and methods answer in the error shape, every request is authenticated,
/// rate limited and given a request id.
pub fn api(routes: Router, core: Core) -> Router {
    Router::new()
        .nest(API_PREFIX, routes)
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(core, authenticate_request))
        .layer(from_fn(request_id))
}

/// A function's `main`: reads settings, builds the SDK configuration and the [`Core`] once
/// per container, and serves the router on the Lambda runtime (or under `cargo lambda
/// watch`).
pub async fn serve(
    build: impl FnOnce(Core, &aws_config::SdkConfig, &Config) -> Router,
) -> Result<(), lambda_http::Error> {
    crate::init_tracing();
    let config = Config::from_env()?;
    let sdk = crate::config::aws().await;
    let core = Core::new(&sdk, &config);
    core.prefetch();
    lambda_http::run(build(core, &sdk, &config)).await
}

async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("No route matches {method} {}.", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}.", uri.path()))
}

fn lambda_request_id(req: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
}

async fn request_id(req: Request, next: Next) -> Response {
    let id = lambda_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "request finished"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}

async fn authenticate_request(State(core): State<Core>, req: Request, next: Next) -> Response {
    let idempotency_key = idempotency::applies_to(req.method())
        .then(|| idempotency::key_from(req.headers()))
        .flatten();
    if let Some(idempotency_key) = idempotency_key {
        return idempotent_request(core, req, next, idempotency_key).await;
    }
    let principal = match authorize(&core, req.headers()).await {
        Ok(principal) => principal,
        Err(err) => return err.into_response(),
    };
    let rate = principal.rate;
    let mut response = match gate(&core, &principal).await {
        Ok(()) => run(req, next, principal).await,
        Err(err) => err.into_response(),
    };
    set_rate_headers(response.headers_mut(), rate);
    response
}

async fn run(mut req: Request, next: Next, principal: Principal) -> Response {
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// How long a repeat waits for the first request with its key to finish before answering
/// 409 `idempotency_in_progress`.
const IDEMPOTENCY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A write with an `Idempotency-Key`. The key is claimed while the API key is checked (both
/// at once, so the claim adds no round trip); the first request runs and its 2xx response is
/// stored; a repeat gets that response back, uncounted by the rate limit.
async fn idempotent_request(
    core: Core,
    req: Request,
    next: Next,
    idempotency_key: Result<String, ApiError>,
) -> Response {
    let (parts, body) = req.into_parts();
    // Too large a body is answered after authentication, like any other bad request.
    let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.ok();
    let fingerprint = body.as_ref().map(|body| {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or_default();
        idempotency::fingerprint(&parts.method, path, content_type, body)
    });
    let token = bearer_token(
        parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default()),
    )
    .ok();
    let slot = match (
        token.and_then(crate::web::auth::parse_key),
        &idempotency_key,
    ) {
        (Some((org, api_key)), Ok(value)) => Some(idempotency::Slot::new(org, api_key, value)),
        _ => None,
    };
    let claiming = async {
        match (&slot, &fingerprint) {
            (Some(slot), Some(fingerprint)) => Some(slot.claim(&core.db, fingerprint).await),
            _ => None,
        }
    };
    let (principal, claim) = tokio::join!(authorize(&core, &parts.headers), claiming);
    let held_lock = match &claim {
        Some(Ok(idempotency::Claim::Claimed { lock })) => Some(lock.clone()),
        _ => None,
    };
    let release = |lock: Option<String>| {
        let (core, slot) = (core.clone(), slot.as_ref());
        async move {
            if let (Some(lock), Some(slot)) = (lock, slot) {
                if let Err(err) = slot.release(&core.db, &lock).await {
                    tracing::error!(error = %err, "idempotency release");
                }
            }
        }
    };
    let principal = match principal {
        Ok(principal) => principal,
        Err(err) => {
            release(held_lock).await;
            return err.into_response();
        }
    };
    let mut rate = principal.rate;
    let checks = gate(&core, &principal)
        .await
        .and(idempotency_key.map(|_| ()))
        .and(body.as_ref().map(|_| ()).ok_or_else(|| {
            ApiError::PayloadTooLarge(format!(
                "Request bodies are limited to {MAX_REQUEST_BYTES} bytes."
            ))
        }));
    let mut response = match (checks, claim, slot.as_ref(), fingerprint, body) {
        (Ok(()), Some(Ok(claim)), Some(slot), Some(fingerprint), Some(body)) => {
            let request = Request::from_parts(parts, axum::body::Body::from(body));
            let (response, replayed) = settle(
                &core,
                slot,
                &fingerprint,
                claim,
                request,
                next,
                principal.clone(),
            )
            .await;
            if replayed {
                match crate::web::auth::refund(&core.db, &principal).await {
                    Ok(()) => rate = rate.refunded(),
                    Err(err) => tracing::error!(error = %err, "rate refund"),
                }
            }
            response
        }
        (Err(err), ..) => {
            release(held_lock).await;
            err.into_response()
        }
        (_, Some(Err(err)), ..) => err.into_response(),
        _ => ApiError::internal("idempotency slot missing for a valid key").into_response(),
    };
    set_rate_headers(response.headers_mut(), rate);
    response
}

/// Runs, replays, waits for, or refuses a request according to its key's claim. Returns
/// the response and whether it is a replay.
async fn settle(
    core: &Core,
    slot: &idempotency::Slot,
    fingerprint: &str,
    mut claim: idempotency::Claim,
    request: Request,
    next: Next,
    principal: Principal,
) -> (Response, bool) {
    use idempotency::Claim;
    let deadline = Instant::now() + IDEMPOTENCY_WAIT;
    loop {
        claim = match claim {
            Claim::Claimed { lock } => {
                return (
                    run_and_store(core, slot, &lock, request, next, principal).await,
                    false,
                )
            }
            Claim::Replay(stored) => {
                let mut response = Response::new(axum::body::Body::from(stored.body));
                *response.status_mut() = stored.status;
                for (name, value) in stored.headers {
                    response.headers_mut().insert(name, value);
                }
                response
                    .headers_mut()
                    .insert(idempotency::REPLAYED, HeaderValue::from_static("true"));
                return (response, true);
            }
            Claim::Conflict => return (ApiError::IdempotencyConflict.into_response(), false),
            Claim::InProgress if Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                match slot.claim(&core.db, fingerprint).await {
                    Ok(claim) => claim,
                    Err(err) => return (err.into_response(), false),
                }
            }
            Claim::InProgress => return (ApiError::IdempotencyInProgress.into_response(), false),
        }
    }
}

/// Runs the request that holds the key. A 2xx response is stored for repeats; anything
/// else changed nothing, so the key is freed for a corrected retry.
async fn run_and_store(
    core: &Core,
    slot: &idempotency::Slot,
    lock: &str,
    request: Request,
    next: Next,
    principal: Principal,
) -> Response {
    let response = run(request, next, principal).await;
    if !response.status().is_success() {
        if let Err(err) = slot.release(&core.db, lock).await {
            tracing::error!(error = %err, "idempotency release");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(err) => return ApiError::internal(format!("response body: {err}")).into_response(),
    };
    let stored = idempotency::Stored {
        status: parts.status,
        headers: idempotency::kept_headers(&parts.headers),
        body: body.to_vec(),
    };
    // The change is committed: a failure to store is logged, not turned into an error.
    if let Err(err) = slot.complete(&core.db, lock, &stored).await {
        tracing::error!(error = %err, "idempotency store");
    }
    Response::from_parts(parts, axum::body::Body::from(body))
}

async fn authorize(core: &Core, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let token = bearer_token(header)?;
    // A cold container also reads the plan of the organization the key names, alongside
    // authentication rather than after it; `gate` then finds it cached (and meets again
    // any error this read had).
    let warm_plan = async {
        if let Some((org, _)) = crate::web::auth::parse_key(token) {
            let _ = core.plans.plan(&core.db, org).await;
        }
    };
    let authenticated = async {
        match core.secrets.loaded() {
            Some(secrets) => {
                authenticate(&core.db, secrets.key_pepper(), token, core.clock.now()).await
            }
            None => {
                authenticate_while_reading_pepper(
                    &core.db,
                    core.secrets.get(),
                    token,
                    core.clock.now(),
                )
                .await
            }
        }
    };
    let (principal, ()) = tokio::join!(authenticated, warm_plan);
    principal
}

/// The checks that follow a valid key, in the spec's order: plan, then rate limit.
async fn gate(core: &Core, principal: &Principal) -> Result<(), ApiError> {
    match core.plans.plan(&core.db, principal.org_id).await? {
        None => return Err(ApiError::Unauthorized("Invalid API key.".into())),
        Some(plan) if !plan.has_api_access() => {
            return Err(ApiError::PlanRequired(plan.as_str().into()))
        }
        Some(_) => {}
    }
    if principal.rate.exceeded {
        return Err(ApiError::RateLimited {
            retry_after: principal.rate.reset_after,
        });
    }
    Ok(())
}

fn set_rate_headers(headers: &mut HeaderMap, rate: RateStatus) {
    headers.insert(X_RATELIMIT_LIMIT, HeaderValue::from(rate.limit));
    headers.insert(X_RATELIMIT_REMAINING, HeaderValue::from(rate.remaining));
}

/// A set of scopes a route needs, named by a marker type.
pub trait ScopeSet {
    const SCOPES: &'static [Scope];
}

macro_rules! scope_sets {
    ($($name:ident => [$($scope:ident),+];)+) => {
        /// Marker types for [`Authorized`], one per distinct set of required scopes.
        pub mod scopes {
            use super::{Scope, ScopeSet};
            $(
                pub struct $name;
                impl ScopeSet for $name {
                    const SCOPES: &'static [Scope] = &[$(Scope::$scope),+];
                }
            )+
        }
    };
}

scope_sets! {
    DossiersRead => [DossiersRead];
    DossiersWrite => [DossiersWrite];
    ContactsRead => [ContactsRead];
    ContactsWrite => [ContactsWrite];
    LinkContacts => [DossiersWrite, ContactsWrite];
    FlowsRead => [FlowsRead];
    NotesRead => [NotesRead];
    NotesWrite => [NotesWrite];
}

/// The authenticated caller, proven to hold the scopes of `S`. As the first handler
/// argument it runs before path and body parsing, so 401/402/403 come before 404/400.
pub struct Authorized<S>(pub Principal, pub PhantomData<S>);

impl<S: ScopeSet, St: Send + Sync> FromRequestParts<St> for Authorized<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("Missing API key.".into()))?;
        principal.require(S::SCOPES)?;
        Ok(Self(principal, PhantomData))
    }
}

/// Path ids must be UUIDs; anything else names no resource, so it is a 404.
pub struct PathIds(pub Vec<uuid::Uuid>);

impl<St: Send + Sync> FromRequestParts<St> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, ApiError> {
        let not_found = || ApiError::NotFound("Resource not found.".into());
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found())?;
        params
            .iter()
            .map(|(_, value)| uuid::Uuid::parse_str(value).map_err(|_| not_found()))
            .collect::<Result<Vec<_>, _>>()
            .map(PathIds)
    }
}

/// A strict JSON body: `application/json`, well formed, no unknown fields.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, St: Send + Sync> FromRequest<St> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, ApiError> {
        require_content_type(req.headers(), "application/json")?;
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub async fn read_body<St: Send + Sync>(req: Request, state: &St) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("Request body is too large.".into())
        } else {
            ApiError::invalid("Request body could not be read.")
        }
    })
}

pub fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let actual = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = actual.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(expected) {
        Ok(())
    } else if essence.is_empty() {
        Err(ApiError::UnsupportedMediaType(format!(
            "Missing Content-Type header; send `Content-Type: {expected}`."
        )))
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {essence} is not supported here; send {expected}."
        )))
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            "Request body is empty; send a JSON object.",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." || inner.is_syntax() || inner.is_eof() {
            ApiError::invalid(format!("Malformed JSON: {inner}."))
        } else {
            ApiError::invalid(format!("Invalid field `{path}`: {inner}."))
        }
    })?;
    de.end()
        .map_err(|err| ApiError::invalid(format!("Malformed JSON: {err}.")))?;
    Ok(value)
}

/// The query string as name/value pairs. Handlers take the parameters they know, then
/// call [`QueryParams::finish`], which rejects anything left over.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The single value of `name`, if present. Repeating it is an error.
    pub fn take(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut values = self.take_all(name);
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop()),
            _ => Err(ApiError::invalid(format!(
                "Query parameter `{name}` may appear only once."
            ))),
        }
    }

    pub fn take_all(&mut self, name: &str) -> Vec<String> {
        let (taken, rest) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(key, _)| key == name);
        self.0 = rest;
        taken.into_iter().map(|(_, value)| value).collect()
    }

    /// `page` and `per_page`.
    pub fn page(&mut self) -> Result<PageParams, ApiError> {
        PageParams::parse(self.take("page")?, self.take("per_page")?)
    }

    /// `cursor`, `page` and `per_page`.
    pub fn position(&mut self) -> Result<Position, ApiError> {
        let cursor = self.take("cursor")?;
        Position::parse(cursor, self.take("page")?, self.take("per_page")?)
    }

    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.first() {
            None => Ok(()),
            Some((name, _)) => Err(ApiError::invalid(format!(
                "Unknown query parameter `{name}`."
            ))),
        }
    }
}

impl<St: Send + Sync> FromRequestParts<St> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        Ok(Self::parse(parts.uri.query()))
    }
}

/// A strong ETag for an item version.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes are a valid header")
}

/// Sets `ETag` on a response.
pub fn with_etag(mut response: Response, version: u64) -> Response {
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// `If-Match`: the versions a write may replace, as a precondition the domain checks
/// inside its transaction.
#[derive(Clone, Debug, Default)]
pub struct IfMatch(pub Precondition);

impl<St: Send + Sync> FromRequestParts<St> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(Precondition::default()));
        };
        let raw = value
            .to_str()
            .map_err(|_| ApiError::invalid("Header `If-Match` must be ASCII."))?;
        Ok(Self(Precondition::one_of(
            raw.split(',').map(|t| t.trim().to_string()).collect(),
        )))
    }
}

/// `{"data": value}` with 200.
pub fn ok<T: Serialize>(value: T) -> Response {
    Json(serde_json::json!({ "data": value })).into_response()
}

/// `{"data": value}` with 201.
pub fn created<T: Serialize>(value: T) -> Response {
    (
        StatusCode::CREATED,
        Json(serde_json::json!({ "data": value })),
    )
        .into_response()
}

/// `{"data": [...], "meta": {...}}` with 200.
pub fn list<T: Serialize, M: Serialize>(items: Vec<T>, meta: M) -> Response {
    Json(serde_json::json!({ "data": items, "meta": meta })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        size: Option<u32>,
    }

    fn message(err: ApiError) -> String {
        assert_eq!(err.code(), "invalid_body");
        err.to_string()
    }

    #[test]
    fn json_errors_name_the_field() {
        assert!(message(parse_json::<Body>(b"{\"name\":1}").unwrap_err()).contains("name"));
        assert!(
            message(parse_json::<Body>(b"{\"name\":\"a\",\"x\":1}").unwrap_err()).contains("x")
        );
        assert!(message(parse_json::<Body>(b"{}").unwrap_err()).contains("name"));
        assert!(message(parse_json::<Body>(b"{\"name\":").unwrap_err()).contains("Malformed"));
        assert!(message(parse_json::<Body>(b"  ").unwrap_err()).contains("empty"));
        assert!(parse_json::<Body>(b"{\"name\":\"a\"} trailing").is_err());
        assert!(parse_json::<Body>(b"{\"name\":\"a\",\"size\":-1}").is_err());
        assert!(parse_json::<Body>(b"{\"name\":\"a\"}").is_ok());
    }

    #[test]
    fn content_type_must_match() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            require_content_type(&headers, "application/json")
                .unwrap_err()
                .code(),
            "unsupported_media_type"
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(require_content_type(&headers, "application/json").is_ok());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(require_content_type(&headers, "application/json").is_err());
    }

    #[test]
    fn query_params_reject_leftovers_and_repeats() {
        let mut q = QueryParams::parse(Some("kind=a&kind=b&page=2"));
        assert_eq!(q.take_all("kind"), vec!["a", "b"]);
        assert_eq!(q.take("page").unwrap().as_deref(), Some("2"));
        assert!(q.finish().is_ok());
        let mut q = QueryParams::parse(Some("page=1&page=2"));
        assert!(q.take("page").is_err());
        let q = QueryParams::parse(Some("bogus=1"));
        assert!(q.finish().unwrap_err().to_string().contains("bogus"));
    }
}
