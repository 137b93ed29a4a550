//! The one error type of the API, mapped once to HTTP status, stable code and message.

use axum::http::StatusCode;
use serde_json::json;

#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("API access requires the Growth plan; this organization is on {0}.")]
    PlanRequired(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A body (or header) the API cannot act on; `param` names the field or header at
    /// fault, when one is.
    #[error("{message}")]
    InvalidBody {
        param: Option<String>,
        message: String,
    },
    /// A query string the API cannot act on: an unknown, repeated or malformed parameter,
    /// or an offset page beyond the offset window, which `cursor` reaches instead.
    #[error("{message}")]
    InvalidQuery {
        param: Option<String>,
        message: String,
    },
    #[error("{0}")]
    DuplicateContact(String),
    #[error("{0}")]
    PreconditionFailed(String),
    /// The organization has as many of a resource as it may.
    #[error("{0}")]
    LimitReached(String),
    /// A replay asked of a webhook endpoint that is disabled: it would not be sent.
    #[error("{0}")]
    EndpointDisabled(String),
    /// A second webhook endpoint of one organization with a URL another already has.
    #[error("{0}")]
    DuplicateEndpoint(String),
    /// A replay of a response that showed a secret once, asked after that secret was
    /// rotated out or its endpoint deleted: a secret no longer current is never shown.
    #[error("{0}")]
    SecretRotated(String),
    #[error("A request with this Idempotency-Key is still being processed. Retry shortly.")]
    IdempotencyInProgress,
    #[error("This Idempotency-Key was used with a different method, path or body.")]
    IdempotencyConflict,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Rate limit exceeded. Retry after {retry_after} seconds.")]
    RateLimited { retry_after: u64 },
    /// A limit of its own on one kind of request (test pings per endpoint), apart from the
    /// key's: 429 `rate_limited` too, with a message naming it.
    #[error("{message} Retry after {retry_after} seconds.")]
    RequestLimited { message: String, retry_after: u64 },
    /// The detail is logged, never sent: a 500 says nothing about internals.
    #[error("Unexpected server error. Safe to retry.")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::PlanRequired(_) => StatusCode::PAYMENT_REQUIRED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidBody { .. } | Self::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
            Self::DuplicateContact(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::LimitReached(_) => StatusCode::CONFLICT,
            Self::EndpointDisabled(_) => StatusCode::CONFLICT,
            Self::DuplicateEndpoint(_) | Self::SecretRotated(_) => StatusCode::CONFLICT,
            Self::IdempotencyInProgress => StatusCode::CONFLICT,
            Self::IdempotencyConflict => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } | Self::RequestLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::PlanRequired(_) => "plan_required",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::InvalidBody { .. } => "invalid_body",
            Self::InvalidQuery { .. } => "invalid_query",
            Self::DuplicateContact(_) => "duplicate_contact",
            Self::PreconditionFailed(_) => "precondition_failed",
            Self::LimitReached(_) => "limit_reached",
            Self::EndpointDisabled(_) => "endpoint_disabled",
            Self::DuplicateEndpoint(_) => "duplicate_endpoint",
            Self::SecretRotated(_) => "secret_rotated",
            Self::IdempotencyInProgress => "idempotency_in_progress",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited { .. } | Self::RequestLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal",
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// A body that is wrong as a whole (empty, not JSON, not an object).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidBody {
            param: None,
            message: message.into(),
        }
    }

    /// A body field at fault: "Field `name` {problem}".
    pub fn field(name: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        let name = name.into();
        Self::InvalidBody {
            message: format!("Field `{name}` {problem}"),
            param: Some(name),
        }
    }

    /// A header at fault: "Header `name` {problem}"; reported as `invalid_body`, the code
    /// the reference gives every malformed request that is not about its query string.
    pub fn header(name: &str, problem: impl std::fmt::Display) -> Self {
        Self::InvalidBody {
            message: format!("Header `{name}` {problem}"),
            param: Some(name.to_string()),
        }
    }

    /// A query parameter at fault: "Query parameter `name` {problem}".
    pub fn query(name: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        let name = name.into();
        Self::InvalidQuery {
            message: format!("Query parameter `{name}` {problem}"),
            param: Some(name),
        }
    }

    /// The field, query parameter or header a 400 is about, when it is about one; and the
    /// field a 409 `duplicate_contact` is about, `email`.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::InvalidBody { param, .. } | Self::InvalidQuery { param, .. } => param.as_deref(),
            Self::DuplicateContact(_) => Some("email"),
            _ => None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// The 404 of every route under `/dossiers/{id}` whose dossier is not there.
    pub fn dossier_not_found() -> Self {
        Self::not_found("Dossier not found.")
    }

    /// The JSON body in the spec's error shape, with `param` when the error names one.
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        if let Some(param) = self.param() {
            error["param"] = json!(param);
        }
        json!({ "error": error })
    }
}

/// Any SDK failure we did not anticipate is an internal error; its detail goes to the log only.
impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for ApiError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        Self::internal(aws_sdk_dynamodb::error::DisplayErrorContext(err))
    }
}

impl From<serde_dynamo::Error> for ApiError {
    fn from(err: serde_dynamo::Error) -> Self {
        Self::internal(format!("item (de)serialization: {err}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_the_spec_shape_and_status() {
        let cases = [
            (ApiError::Unauthorized("x".into()), 401, "unauthorized"),
            (ApiError::PlanRequired("free".into()), 402, "plan_required"),
            (ApiError::Forbidden("x".into()), 403, "forbidden"),
            (ApiError::NotFound("x".into()), 404, "not_found"),
            (ApiError::invalid("x"), 400, "invalid_body"),
            (ApiError::field("name", "is required."), 400, "invalid_body"),
            (
                ApiError::query("page", "must be a whole number."),
                400,
                "invalid_query",
            ),
            (
                ApiError::IdempotencyInProgress,
                409,
                "idempotency_in_progress",
            ),
            (ApiError::IdempotencyConflict, 422, "idempotency_conflict"),
            (
                ApiError::DuplicateEndpoint("x".into()),
                409,
                "duplicate_endpoint",
            ),
            (ApiError::SecretRotated("x".into()), 409, "secret_rotated"),
            (
                ApiError::RateLimited { retry_after: 3 },
                429,
                "rate_limited",
            ),
            (
                ApiError::RequestLimited {
                    message: "At most 5 test pings a minute per endpoint.".into(),
                    retry_after: 3,
                },
                429,
                "rate_limited",
            ),
            (ApiError::Internal("secret detail".into()), 500, "internal"),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status().as_u16(), status);
            let body = err.body();
            assert_eq!(body["error"]["code"], code);
            assert!(body["error"]["message"].is_string());
        }
    }

    #[test]
    fn a_400_names_its_param_in_the_message_and_apart() {
        let body = ApiError::field("name", "is required.").body();
        assert_eq!(body["error"]["param"], "name");
        assert_eq!(body["error"]["message"], "Field `name` is required.");
        let body = ApiError::query("per_page", "must be from 1 to 100.").body();
        assert_eq!(body["error"]["param"], "per_page");
        assert_eq!(body["error"]["code"], "invalid_query");
        let body = ApiError::header("Idempotency-Key", "must be ASCII.").body();
        assert_eq!(body["error"]["param"], "Idempotency-Key");
        let body = ApiError::DuplicateContact("taken".into()).body();
        assert_eq!(body["error"]["param"], "email");
        assert!(ApiError::invalid("Malformed JSON.").body()["error"]
            .get("param")
            .is_none());
        assert!(ApiError::not_found("Dossier not found.").body()["error"]
            .get("param")
            .is_none());
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let body = ApiError::internal("table leadgrid missing").body();
        assert!(!body.to_string().contains("leadgrid"));
    }
}
