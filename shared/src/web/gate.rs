//! What every request passes before its handler, in the spec's order:
//!
//! 1. the API key is verified and the request counted against its rate window, in one
//!    DynamoDB round trip ([`authorize`]);
//! 2. the plan must include API access, then the rate limit must not be exceeded ([`gate`]);
//! 3. then, inside the gate, a write with an `Idempotency-Key` claims the key under the
//!    verified organization, runs once, and stores its 2xx response for replays
//!    ([`super::idempotent`]). Nothing is read or written before the key verifies. A
//!    replay is a request like any other for the rate limit: repeating a keyed write is
//!    never free.
//!
//! The rate-limit headers go on every answer, errors included.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::web::auth::{authenticate, bearer_token, Principal};
use crate::web::ratelimit::RateStatus;
use crate::ApiError;

use super::shell::{Core, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING};

pub(super) async fn authenticate_request(
    State(core): State<Core>,
    req: Request,
    next: Next,
) -> Response {
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

/// Runs the request (through the idempotency layer, [`super::idempotent`]) as `principal`.
async fn run(mut req: Request, next: Next, principal: Principal) -> Response {
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// Verifies the key and counts the request: one `UpdateItem` on the key's own item, which
/// also carries the plan. Nothing else is read or written for a request until its key
/// verifies, so a forged key costs one round trip and names no partition it could write to.
async fn authorize(core: &Core, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    let token = bearer_token(header)?;
    let principal = authenticate(&core.db, &core.legacy_pepper, token, core.clock.now()).await?;
    tracing::Span::current().record("org", tracing::field::display(principal.org_id));
    Ok(principal)
}

/// The checks that follow a valid key, in the spec's order: plan, then rate limit. The
/// plan is the key item's; a key made before keys carried it reads the organization's.
async fn gate(core: &Core, principal: &Principal) -> Result<(), ApiError> {
    let plan = match principal.plan {
        Some(plan) => Some(plan),
        None => core.plans.plan(&core.db, principal.org_id).await?,
    };
    match plan {
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
