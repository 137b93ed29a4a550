//! The idempotency layer: inside the gate, a write with an `Idempotency-Key` runs once
//! and its repeats get its stored answer ([`idempotency`] keeps the keys).

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::web::auth::Principal;
use crate::web::idempotency::{self, IdempotencyKey};
use crate::ApiError;

use super::shell::{Core, MAX_REQUEST_BYTES};

/// How long a repeat waits for the first request with its key to finish before answering
/// 409 `idempotency_in_progress`.
const IDEMPOTENCY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A write with an `Idempotency-Key`, behind the gate (so its API key has verified and its
/// plan and rate limit passed): the body is read and fingerprinted and the key claimed,
/// under the verified organization; the first request runs and its 2xx response is stored;
/// a repeat gets that response back. Any other request runs as it is.
pub(super) async fn replay_or_run(State(core): State<Core>, req: Request, next: Next) -> Response {
    let Some(idempotency_key) = IdempotencyKey::of(req.method(), req.headers()) else {
        return next.run(req).await;
    };
    let Some(principal) = req.extensions().get::<Principal>().cloned() else {
        return ApiError::internal("the idempotency layer runs outside the gate").into_response();
    };
    claim_and_run(&core, req, next, idempotency_key, principal)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The claim, then the request or its replay.
async fn claim_and_run(
    core: &Core,
    req: Request,
    next: Next,
    idempotency_key: Result<IdempotencyKey, ApiError>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let idempotency_key = idempotency_key?;
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| {
            if carries_a_file(&parts.headers) {
                super::too_large_to_send_directly()
            } else {
                ApiError::PayloadTooLarge(format!(
                    "Request bodies are limited to {MAX_REQUEST_BYTES} bytes."
                ))
            }
        })?;
    let fingerprint = fingerprint(&parts, &body);
    let slot = idempotency::Slot::new(principal.org_id, principal.key_id, &idempotency_key);
    let claim = slot.claim(&core.db, &fingerprint, core.clock.now()).await?;
    let request = Request::from_parts(parts, axum::body::Body::from(body));
    Ok(settle(
        core,
        &slot,
        &fingerprint,
        claim,
        request,
        next,
        principal.org_id,
    )
    .await)
}

/// What makes a repeat "the same request": method, path with query, and body (a multipart
/// body part by part, whatever its boundary).
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

/// Runs, replays, waits for, or refuses a request according to its key's claim. A repeat
/// that finds the first request running reads the key (consistently, writing nothing) until
/// it is done or free, for up to [`IDEMPOTENCY_WAIT`].
async fn settle(
    core: &Core,
    slot: &idempotency::Slot,
    fingerprint: &str,
    mut claim: idempotency::Claim,
    request: Request,
    next: Next,
    org: uuid::Uuid,
) -> Response {
    use idempotency::Claim;
    let deadline = Instant::now() + IDEMPOTENCY_WAIT;
    loop {
        claim = match claim {
            Claim::Claimed { lock } => {
                return run_and_store(core, slot, &lock, request, next).await
            }
            Claim::Replay(stored) => {
                let restorer = request
                    .extensions()
                    .get::<std::sync::Arc<dyn idempotency::RestoreSecret>>()
                    .cloned();
                return replay(stored, restorer, org)
                    .await
                    .unwrap_or_else(IntoResponse::into_response);
            }
            Claim::Conflict => return ApiError::IdempotencyConflict.into_response(),
            Claim::InProgress if Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                let now = match slot.current(&core.db, fingerprint, core.clock.now()).await {
                    Ok(now) => now,
                    Err(err) => return err.into_response(),
                };
                match now {
                    Some(claim) => claim,
                    None => match slot.claim(&core.db, fingerprint, core.clock.now()).await {
                        Ok(claim) => claim,
                        Err(err) => return err.into_response(),
                    },
                }
            }
            Claim::InProgress => return ApiError::IdempotencyInProgress.into_response(),
        }
    }
}

/// The stored response, with `Idempotent-Replayed: true`; a secret it showed is derived
/// again, or refused once rotated out.
async fn replay(
    stored: idempotency::Stored,
    restorer: Option<std::sync::Arc<dyn idempotency::RestoreSecret>>,
    org: uuid::Uuid,
) -> Result<Response, ApiError> {
    let body = match &stored.shown {
        None => stored.body,
        Some(shown) => {
            let restorer = restorer
                .ok_or_else(|| ApiError::internal("a stored secret with no RestoreSecret"))?;
            let secret = restorer.restore(org, shown).await?.ok_or_else(|| {
                ApiError::SecretRotated(format!(
                    "The secret this request showed is no longer the current secret of webhook endpoint {} (rotated since, or the endpoint was deleted), and a secret is shown only while it is current. Rotate it for a new one.",
                    shown.endpoint_id
                ))
            })?;
            idempotency::with_secret(&stored.body, secret)?
        }
    };
    let mut response = Response::new(axum::body::Body::from(body));
    *response.status_mut() = stored.status;
    for (name, value) in stored.headers {
        response.headers_mut().insert(name, value);
    }
    response
        .headers_mut()
        .insert(idempotency::REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

/// Runs the request that holds the key. A 2xx response is stored for repeats; anything
/// else changed nothing, so the key is freed for a corrected retry.
async fn run_and_store(
    core: &Core,
    slot: &idempotency::Slot,
    lock: &str,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
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
    let shown = parts.extensions.get::<idempotency::ShownSecret>().cloned();
    let kept_body = match &shown {
        None => Ok(body.to_vec()),
        Some(_) => idempotency::without_secret(&body),
    };
    let stored = kept_body.map(|kept_body| idempotency::Stored {
        status: parts.status,
        headers: idempotency::kept_headers(&parts.headers),
        body: kept_body,
        shown,
    });
    // A response that cannot be stored without its secret is not stored at all, and the
    // key is freed: a repeat runs again (and is refused if it would duplicate what this one
    // made) rather than waiting on a key that never completes.
    let stored = match stored {
        Ok(stored) => stored,
        Err(err) => {
            tracing::error!(error = %err, "idempotency store");
            if let Err(err) = slot.release(&core.db, lock).await {
                tracing::error!(error = %err, "idempotency release");
            }
            return Response::from_parts(parts, axum::body::Body::from(body));
        }
    };
    // The change is committed: a failure to store is logged, not turned into an error.
    if let Err(err) = slot.complete(&core.db, lock, &stored).await {
        tracing::error!(error = %err, "idempotency store");
    }
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// Whether a body is a CV's (a form or a raw PDF): too large, it is pointed to the upload.
fn carries_a_file(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase())
        .is_some_and(|v| v.starts_with("multipart/form-data") || v.starts_with("application/pdf"))
}
