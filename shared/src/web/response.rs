//! How an [`ApiError`] goes on the wire: its status, the spec's error shape, and
//! `Retry-After` on 429. The one place an error becomes an HTTP response.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// Internal errors are logged here, with their detail, which the answer never carries.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Self::RateLimited { retry_after } | Self::RequestLimited { retry_after, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}
