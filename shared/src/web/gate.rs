//! What every request passes before its handler, in the spec's order:
//!
//! 1. the API key is verified and the request counted against its rate window, in one
//!    DynamoDB round trip ([`authorize`]), while a cold container reads the plan beside it;
//! 2. the plan must include API access, then the rate limit must not be exceeded ([`gate`]);
//! 3. a write with an `Idempotency-Key` claims the key (alongside step 1, so it costs no
//!    round trip), runs once, and stores its 2xx response for replays
//!    ([`idempotent_request`]).
//!
//! The rate-limit headers go on every answer, errors included.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::web::auth::{authenticate, authenticate_while_reading_pepper, bearer_token, Principal};
use crate::web::idempotency;
use crate::web::ratelimit::RateStatus;
use crate::ApiError;

use super::shell::{Core, MAX_REQUEST_BYTES, X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING};

pub(super) async fn authenticate_request(
    State(core): State<Core>,
    req: Request,
    next: Next,
) -> Response {
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
    let fingerprint = body.as_ref().map(|body| fingerprint(&parts, body));
    let slot = slot(&parts.headers, &idempotency_key);
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

/// What makes a repeat "the same request": method, path with query, content type, body.
fn fingerprint(parts: &axum::http::request::Parts, body: &[u8]) -> String {
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
}

/// The key's slot under the API key the request names, if the request names one and the
/// key is well formed. Whether the API key is valid is checked at the same time, not here.
fn slot(
    headers: &HeaderMap,
    idempotency_key: &Result<String, ApiError>,
) -> Option<idempotency::Slot> {
    let token = bearer_token(
        headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default()),
    )
    .ok()?;
    let (org, api_key) = crate::web::auth::parse_key(token)?;
    let value = idempotency_key.as_ref().ok()?;
    Some(idempotency::Slot::new(org, api_key, value))
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
