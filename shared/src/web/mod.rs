//! The HTTP side every API function shares: [`api`] puts a function's routes under
//! `/api/v1` behind [`gate`] (what every request passes before its handler: API key, plan,
//! rate limit) and, inside it, [`idempotent`] (a write with an Idempotency-Key runs once);
//! [`shell`] has request ids, `serve`, envelopes and ETags; [`extractors`] the scopes, path
//! ids, strict JSON bodies and forms, query strings and If-Match; `response` turns an
//! error into its answer.

pub mod auth;
mod extractors;
mod gate;
pub mod idempotency;
mod idempotent;
pub mod ratelimit;
mod response;
mod shell;

pub use extractors::*;
pub use shell::*;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;

/// Wraps a function's resource routes (paths relative to `/api/v1`) in the shell and the
/// gate: unknown paths and methods answer in the error shape, every request is
/// authenticated, rate limited and given a request id, and a panic answers 500 in the error
/// shape. No answer may be cached: each carries an organization's data or a secret.
pub fn api(routes: Router, core: Core) -> Router {
    Router::new()
        .nest(API_PREFIX, routes.route_layer(from_fn(shell::note_route)))
        .fallback(shell::unknown_route)
        .method_not_allowed_fallback(shell::method_not_allowed)
        .layer(from_fn_with_state(core.clone(), idempotent::replay_or_run))
        .layer(from_fn_with_state(core, gate::authenticate_request))
        .layer(from_fn(shell::contain_panics))
        .layer(from_fn(shell::request_id))
        .layer(from_fn(shell::no_store))
}
