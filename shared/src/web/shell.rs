//! The router shell: `/api/v1` routes behind the gate, request ids, `serve` for `main`,
//! the spec's response envelopes and strong ETags.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tracing::Instrument;

use crate::config::Config;
use crate::domain::orgs::PlanCache;
use crate::secrets::SecretSource;
use crate::table::store::Db;
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

/// A function's `main`: reads settings, builds the SDK configuration and the [`Core`] once
/// per container, and serves the router on the Lambda runtime (or under `cargo lambda
/// watch`).
pub async fn serve(
    build: impl FnOnce(Core, &aws_config::SdkConfig, &Config) -> Result<Router, String>,
) -> Result<(), lambda_http::Error> {
    crate::init_tracing();
    let config = Config::from_env()?;
    let sdk = crate::config::aws().await;
    let core = Core::new(&sdk, &config);
    // A setting a function cannot work without stops it here, at init, not at a request.
    let router = build(core.clone(), &sdk, &config)?;
    core.prefetch();
    lambda_http::run(router).await
}

pub(super) async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("No route matches {method} {}.", uri.path()))
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
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

pub(super) async fn request_id(req: Request, next: Next) -> Response {
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

/// A strong ETag for an item version.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes are a valid header")
}

/// Sets `ETag` on a response.
pub fn with_etag(mut response: Response, version: u64) -> Response {
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// A resource whose version is its strong ETag.
pub trait Versioned: Serialize {
    fn version(&self) -> u64;
}

impl Versioned for crate::domain::dossiers::Dossier {
    fn version(&self) -> u64 {
        self.version
    }
}

impl Versioned for crate::domain::contacts::Contact {
    fn version(&self) -> u64 {
        self.version
    }
}

/// `{"data": value}` with 200 and the value's `ETag`.
pub fn ok_versioned<T: Versioned>(value: T) -> Response {
    let version = value.version();
    with_etag(ok(value), version)
}

/// `{"data": value}` with 201 and the value's `ETag`.
pub fn created_versioned<T: Versioned>(value: T) -> Response {
    let version = value.version();
    with_etag(created(value), version)
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
