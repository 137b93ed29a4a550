//! The HTTP side every API function shares, in three parts: [`shell`] (the `/api/v1`
//! router, request ids, `serve`, envelopes and ETags), [`gate`] (what every request passes
//! before its handler: API key, plan, rate limit and Idempotency-Key) and [`extractors`]
//! (scopes, path ids, strict JSON bodies, query strings, If-Match).

pub mod auth;
mod extractors;
mod gate;
pub mod idempotency;
pub mod ratelimit;
mod shell;

pub use extractors::*;
pub use shell::*;
