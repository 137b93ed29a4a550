//! The public reference, served without a key: the OpenAPI document, and a page that renders
//! it with Redoc. Both are embedded at build time (`build.rs`), so the page needs nothing
//! from the internet.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const OPENAPI_PATH: &str = "/api/v1/openapi.json";
const PAGE_PATH: &str = "/api/v1/docs";
/// The page's address as people also type it. API Gateway routes it to `$default`, this
/// function.
const PAGE_PATH_SLASHED: &str = "/api/v1/docs/";
const RENDERER_PATH: &str = "/api/v1/docs/redoc.standalone.js";

/// `openapi.yaml`, converted to JSON by `build.rs`.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// Redoc's standalone bundle, vendored (see `assets/README.md`).
const RENDERER: &str = include_str!("../assets/redoc.standalone.js");

// Relative URLs, so the page works under any stage or custom-domain base path.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LeadGrid API reference</title>
<style>body { margin: 0; }</style>
</head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="docs/redoc.standalone.js"></script>
</body>
</html>
"#;

// Redoc styles with inline <style> tags and runs its search index in a worker made from a
// blob; everything else comes from this origin.
const PAGE_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(OPENAPI_PATH, get(openapi))
        .route(PAGE_PATH, get(page))
        .route(PAGE_PATH_SLASHED, get(to_page))
        .route(RENDERER_PATH, get(renderer))
        .method_not_allowed_fallback(shared::web::method_not_allowed)
}

async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn page() -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, PAGE_POLICY),
        ],
        PAGE,
    )
        .into_response()
}

/// A permanent redirect to the page, by a relative URL (`../docs` from `…/docs/`), so that
/// it holds under any stage or custom-domain base path; serving the page here instead
/// would resolve its relative script URL under `docs/docs/`.
async fn to_page() -> Response {
    (
        axum::http::StatusCode::PERMANENT_REDIRECT,
        [(axum::http::header::LOCATION, "../docs")],
    )
        .into_response()
}

async fn renderer() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        RENDERER,
    )
        .into_response()
}
