//! The router shell: `/api/v1` routes behind the gate, request ids, `serve` for `main`,
//! the spec's response envelopes and strong ETags.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tracing::Instrument;

use super::gate::authenticate_request;
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

/// A strong ETag for an item version.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes are a valid header")
}

/// Sets `ETag` on a response.
pub fn with_etag(mut response: Response, version: u64) -> Response {
    response.headers_mut().insert(header::ETAG, etag(version));
    response
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
