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
use crate::secrets::{KeyPepper, SecretSource};
use crate::table::store::Db;
use crate::{clock, ApiError};

pub const API_PREFIX: &str = "/api/v1";
/// The largest body any route accepts: a 10 MiB CV with its multipart envelope.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024 + 256 * 1024;
/// Lambda's limit on a synchronous invocation's request, 6 MB (6,291,456 bytes): the most
/// API Gateway can hand a function.
/// <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>
pub const LAMBDA_REQUEST_BYTES: usize = 6 * 1024 * 1024;
/// The largest file sent through the API itself, 4,669,440 bytes: binary bodies reach
/// Lambda base64-encoded (4 bytes for every 3), beside up to 64 KiB of event (headers,
/// request context, multipart framing, other form fields). Larger CVs take the presigned
/// upload.
pub const DIRECT_UPLOAD_MAX_BYTES: usize = (LAMBDA_REQUEST_BYTES - 64 * 1024) / 4 * 3;

/// A CV too large to pass through API Gateway and Lambda: on AWS such a request never
/// reaches the function, so it is refused everywhere, pointing to the upload that takes it.
pub fn too_large_to_send_directly() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "Field `cv` is larger than {DIRECT_UPLOAD_MAX_BYTES} bytes, the most a request \
         through the API can carry (Lambda's 6 MB limit, after base64); upload CVs of up to \
         10 MiB with POST /api/v1/dossiers/{{id}}/cv/upload."
    ))
}
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");

/// What every API function needs, built once per container.
#[derive(Clone)]
pub struct Core {
    pub db: Db,
    /// Read only to verify a key made before keys were hashed without it.
    pub legacy_pepper: SecretSource<KeyPepper>,
    pub plans: Arc<PlanCache>,
    pub clock: clock::Clock,
}

impl Core {
    pub fn new(sdk: &aws_config::SdkConfig, config: &Config) -> Result<Self, String> {
        Ok(Self {
            db: Db::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name),
            legacy_pepper: SecretSource::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                config.require_api_key_secret_id()?,
            ),
            plans: Arc::new(PlanCache::default()),
            clock: clock::Clock::System,
        })
    }

    /// Opens the DynamoDB connection (on AWS, its TLS session) at init, which a container's
    /// first request would otherwise wait for. A failure is left to the first request.
    pub async fn warm_up(&self) {
        let wait = std::time::Duration::from_secs(2);
        match tokio::time::timeout(wait, self.db.open_connection()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = ?err, "opening a DynamoDB connection at init failed")
            }
            Err(_) => tracing::warn!("opening a DynamoDB connection at init took over 2 s"),
        }
    }
}

/// Whether Lambda runs this container's init ahead of any request, as it does for
/// provisioned concurrency: opening a connection in init then hides it from every caller.
/// An on-demand init is one a request usually waits for; a request made only to open the
/// connection would add its round trip to that wait, while the request's own call opens it
/// anyway. (Lambda also reports as on-demand the inits it runs ahead of demand.)
fn initialized_ahead_of_requests() -> bool {
    std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE")
        .is_ok_and(|kind| kind == "provisioned-concurrency")
}

/// An API function's `main`: reads its settings, builds the SDK configuration and the
/// [`Core`] once per container, and serves the router on the Lambda runtime (or under
/// `cargo lambda watch`).
pub async fn serve(
    function: crate::functions::Function,
    build: impl FnOnce(Core, &aws_config::SdkConfig, &Config) -> Result<Router, String>,
) -> Result<(), lambda_http::Error> {
    crate::init_tracing();
    let config = function.settings()?;
    let sdk = crate::config::aws().await;
    let core = Core::new(&sdk, &config)?;
    // A setting a function cannot work without stops it here, at init, not at a request.
    let router = build(core.clone(), &sdk, &config)?;
    if initialized_ahead_of_requests() {
        core.warm_up().await;
    }
    lambda_http::run(router).await
}

pub(super) async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("No route matches {method} {}.", uri.path()))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}.", uri.path()))
}

/// `Cache-Control: no-store` on every answer, errors included: an answer holds an
/// organization's personal data or a secret shown once, which no browser, proxy or CDN
/// between the client and the API may keep.
pub(super) async fn no_store(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// API Gateway's request id (the one integrators see) and Lambda's invocation id.
fn request_ids(req: &Request) -> (Option<String>, Option<String>) {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    let gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    let lambda = req.lambda_context_ref().map(|ctx| ctx.request_id.clone());
    (gateway, lambda)
}

/// The route template a request matched, handed from [`note_route`] to [`request_id`].
#[derive(Clone)]
struct RouteTemplate(String);

/// Sets the request id, and logs and measures every request once it is answered: one
/// JSON log line (ids, method, route template, organization, status, duration; never
/// headers, query strings or bodies) and one EMF line of route metrics.
pub(super) async fn request_id(req: Request, next: Next) -> Response {
    let (gateway_id, lambda_id) = request_ids(&req);
    let id = gateway_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        lambda_request_id = lambda_id.as_deref(),
        method = %method,
        route = tracing::field::Empty,
        org = tracing::field::Empty,
    );
    let started = Instant::now();
    let (mut response, dynamodb_calls) =
        crate::metrics::counting_dynamodb_calls(next.run(req).instrument(span.clone())).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_string();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = elapsed_ms as u64,
            dynamodb_calls,
            "request finished"
        )
    });
    crate::metrics::request(method.as_str(), &route, status, elapsed_ms, dynamodb_calls);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}

/// Runs on matched routes only: records the route template in the request's log span and
/// hands it to [`request_id`] for the metrics.
pub(super) async fn note_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_string());
    if let Some(route) = &route {
        tracing::Span::current().record("route", route.as_str());
    }
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteTemplate(route));
    }
    response
}

/// A handler that panics answers the spec's 500, with the request id still set, and the
/// container goes on serving (see [`crate::panics`]).
pub(super) async fn contain_panics(req: Request, next: Next) -> Response {
    crate::panics::caught(next.run(req))
        .await
        .unwrap_or_else(|panic| {
            ApiError::internal(format!("handler panicked: {panic}")).into_response()
        })
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

impl Versioned for crate::webhooks::endpoints::EndpointView {
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::middleware::from_fn;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_the_specs_500_and_the_next_request_is_served() {
        let router = Router::new()
            .route(
                "/boom",
                get(|| async {
                    let index = std::hint::black_box(5);
                    [0u8; 2][index].to_string()
                }),
            )
            .route("/fine", get(|| async { "fine" }))
            .layer(from_fn(contain_panics))
            .layer(from_fn(request_id));
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();

        let response = router.clone().oneshot(get("/boom")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key(X_REQUEST_ID));
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, ApiError::internal("").body());
        assert!(!body.to_string().contains("index out of bounds"));

        let response = router.oneshot(get("/fine")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn each_request_is_measured_by_its_route_template_status_class_and_dynamodb_calls() {
        let db = Db::offline();
        let router = Router::new()
            .route(
                "/api/v1/things/{id}",
                get(move || {
                    let db = db.clone();
                    async move {
                        // Offline, so it fails: but it was called, and counts.
                        let _ = db.get_item("pk", "sk").await;
                        let _ = db.get_item("pk", "sk").await;
                        "done"
                    }
                }),
            )
            .route_layer(from_fn(note_route))
            .layer(from_fn(request_id));
        let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
        router
            .clone()
            .oneshot(get("/api/v1/things/8f1c"))
            .await
            .unwrap();
        router.oneshot(get("/api/v1/nothing")).await.unwrap();
        let lines = crate::metrics::emitted();
        let [thing, nothing] = &lines[..] else {
            panic!("one line per request: {lines:?}")
        };
        assert_eq!(thing["Route"], "GET /api/v1/things/{id}");
        assert_eq!(thing["StatusClass"], "2xx");
        assert_eq!(thing["DynamoDBCalls"], 2.0);
        assert_eq!(thing["Requests"], 1.0);
        assert!(thing["Latency"].as_f64().unwrap() > 0.0);
        assert_eq!(nothing["Route"], "GET unmatched");
        assert_eq!(nothing["StatusClass"], "4xx");
        assert_eq!(nothing["DynamoDBCalls"], 0.0);
    }
}
