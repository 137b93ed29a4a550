//! Extractors: the scopes a route needs, path ids, strict JSON bodies, query strings and
//! `If-Match`. Each rejects in the spec's error shape.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::domain::fields;
use crate::domain::pagination::{decode_cursor, Cursor, PageParams, Position};
use crate::table::txn::Precondition;
use crate::web::auth::{Principal, Scope};
use crate::ApiError;

/// A set of scopes a route needs, named by a marker type.
pub trait ScopeSet {
    const SCOPES: &'static [Scope];
}

macro_rules! scope_sets {
    ($($name:ident => [$($scope:ident),*];)+) => {
        /// Marker types for [`Authorized`], one per distinct set of required scopes.
        pub mod scopes {
            use super::{Scope, ScopeSet};
            $(
                pub struct $name;
                impl ScopeSet for $name {
                    const SCOPES: &'static [Scope] = &[$(Scope::$scope),*];
                }
            )+
        }
    };
}

scope_sets! {
    DossiersRead => [DossiersRead];
    DossiersWrite => [DossiersWrite];
    DossiersReadWrite => [DossiersRead, DossiersWrite];
    ContactsRead => [ContactsRead];
    ContactsWrite => [ContactsWrite];
    ContactsReadWrite => [ContactsRead, ContactsWrite];
    LinkContacts => [DossiersWrite, ContactsWrite];
    FlowsRead => [FlowsRead];
    NotesRead => [NotesRead];
    NotesWrite => [NotesWrite];
    WebhooksManage => [WebhooksManage];
    // Any key: the handler narrows what it shows to what the key's scopes read.
    AnyScope => [];
}

/// The authenticated caller, proven to hold the scopes of `S`. As the first handler
/// argument it runs before path and body parsing, so 401/402/403 come before 404/400.
pub struct Authorized<S>(pub Principal, pub PhantomData<S>);

impl<S: ScopeSet, St: Send + Sync> FromRequestParts<St> for Authorized<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("Missing API key.".into()))?;
        principal.require(S::SCOPES)?;
        Ok(Self(principal, PhantomData))
    }
}

/// The id of a route with one (`/dossiers/{id}`). Path ids must be UUIDs; anything else
/// names no resource, so it is a 404.
pub struct PathId(pub uuid::Uuid);

/// The two ids of a route with two (`/dossiers/{id}/contacts/{contact_id}`), in path order.
pub struct PathIds(pub uuid::Uuid, pub uuid::Uuid);

async fn path_uuids<St: Send + Sync>(
    parts: &mut Parts,
    state: &St,
) -> Result<Vec<uuid::Uuid>, ApiError> {
    let not_found = || ApiError::NotFound("Resource not found.".into());
    let params = axum::extract::RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| not_found())?;
    params
        .iter()
        .map(|(_, value)| crate::ids::parse(value).ok_or_else(not_found))
        .collect()
}

impl<St: Send + Sync> FromRequestParts<St> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, ApiError> {
        match path_uuids(parts, state).await?.as_slice() {
            [id] => Ok(Self(*id)),
            _ => Err(ApiError::internal(
                "PathId on a route without exactly one id",
            )),
        }
    }
}

impl<St: Send + Sync> FromRequestParts<St> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, ApiError> {
        match path_uuids(parts, state).await?.as_slice() {
            [first, second] => Ok(Self(*first, *second)),
            _ => Err(ApiError::internal(
                "PathIds on a route without exactly two ids",
            )),
        }
    }
}

/// A strict JSON body: `application/json`, a well-formed object, no unknown fields.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, St: Send + Sync> FromRequest<St> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, ApiError> {
        require_content_type(req.headers(), "application/json")?;
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A strict JSON body that may be left out, as in a bare `curl -X POST`: no body at all is
/// `T::default()`; any body is held to [`JsonBody`]'s rules.
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default, St: Send + Sync> FromRequest<St> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Ok(Self(T::default()));
        }
        require_content_type(&headers, "application/json")?;
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

pub async fn read_body<St: Send + Sync>(req: Request, state: &St) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("Request body is too large.".into())
        } else {
            ApiError::invalid("Request body could not be read.")
        }
    })
}

pub fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let actual = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = actual.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(expected) {
        Ok(())
    } else if essence.is_empty() {
        Err(ApiError::UnsupportedMediaType(format!(
            "Missing Content-Type header; send `Content-Type: {expected}`."
        )))
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {essence} is not supported here; send {expected}."
        )))
    }
}

/// Every body the API takes is a JSON object. serde's derived structs also take an array,
/// field by field in order, so anything else is refused here, before serde sees it.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return Err(ApiError::invalid(
                "Request body is empty; send a JSON object.",
            ))
        }
        Some(b'{') => {}
        Some(_) => return Err(ApiError::invalid("Request body must be a JSON object.")),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        json_refusal(&path, err.into_inner())
    })?;
    de.end().map_err(|err| json_refusal(".", err))?;
    Ok(value)
}

/// A serde error as the API states it: the field it is about as `param` (serde reports a
/// missing field at the object that holds it, naming the field only in its message), and
/// no "at line 1 column 35", which a client cannot act on.
fn json_refusal(path: &str, err: serde_json::Error) -> ApiError {
    let position = format!(" at line {} column {}", err.line(), err.column());
    let text = err.to_string();
    let problem = text.strip_suffix(&position).unwrap_or(&text);
    if err.is_syntax() || err.is_eof() {
        return ApiError::invalid(format!("Malformed JSON: {problem}."));
    }
    refusal(path, problem)
}

/// What a body's reader found wrong at `path`: a field rule broken ([`fields::RULE`]), a
/// field missing or unknown, or a value of the wrong type.
fn refusal(path: &str, problem: &str) -> ApiError {
    let within = |name: &str| match path {
        "." => name.to_string(),
        parent => format!("{parent}.{name}"),
    };
    let named = |prefix: &str| {
        let rest = problem.strip_prefix(prefix)?;
        rest.find('`').map(|end| &rest[..end])
    };
    if let Some(rule) = problem.strip_prefix(fields::RULE) {
        ApiError::field(path, rule)
    } else if let Some(name) = named("missing field `") {
        ApiError::field(within(name), "is required.")
    } else if problem.starts_with("unknown field `") {
        // After the field's name, which may itself hold ", ".
        let expected = problem
            .rfind("`, expected")
            .map_or("", |at| &problem[at + 3..]);
        ApiError::field(path, format_args!("is not known here ({expected})."))
    } else if path == "." {
        ApiError::invalid(format!(
            "Request body is not what this operation takes: {problem}."
        ))
    } else {
        ApiError::field(path, format_args!("is invalid: {problem}."))
    }
}

/// A form's text fields read as `T`, each field's type parsing its own text (a number
/// field reads the number the text writes), with the errors a JSON body would get.
pub fn parse_form<T: DeserializeOwned>(fields: &[(String, String)]) -> Result<T, ApiError> {
    // A number may come with the spaces a person typed around it, as a JSON body's may not.
    let values = fields.iter().map(|(name, value)| {
        let number = value.trim();
        (
            name,
            if number.parse::<f64>().is_ok() {
                number
            } else {
                value.as_str()
            },
        )
    });
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(values)
        .finish();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let problem = err.into_inner().to_string();
        // A form writes a number as text; text that reads as none is the field's fault.
        if problem == "invalid float literal" || problem == "cannot parse float from empty string" {
            return ApiError::field(path, "must be a number.");
        }
        refusal(&path, &problem)
    })
}

/// The query string as name/value pairs. Handlers take the parameters they know, then
/// call [`QueryParams::finish`], which rejects anything left over.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(query: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The single value of `name`, if present. Repeating it is an error.
    pub fn take(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut values = self.take_all(name);
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop()),
            _ => Err(ApiError::query(name, "may appear only once.")),
        }
    }

    pub fn take_all(&mut self, name: &str) -> Vec<String> {
        let (taken, rest) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(key, _)| key == name);
        self.0 = rest;
        taken.into_iter().map(|(_, value)| value).collect()
    }

    /// `page` and `per_page`.
    pub fn page(&mut self) -> Result<PageParams, ApiError> {
        PageParams::parse(self.take("page")?, self.take("per_page")?)
    }

    /// `cursor`, `page` and `per_page`.
    pub fn position(&mut self) -> Result<Position, ApiError> {
        let cursor = self.take("cursor")?;
        Position::parse(cursor, self.take("page")?, self.take("per_page")?)
    }

    /// `cursor` and `per_page`, for a listing that pages by cursor only: it keeps no
    /// count to number pages by.
    pub fn cursor_page(&mut self) -> Result<(Option<Cursor>, u32), ApiError> {
        if self.take("page")?.is_some() {
            return Err(ApiError::query(
                "page",
                "is not taken here: this list pages by cursor only; follow `meta.next_cursor` with the `cursor` parameter.",
            ));
        }
        let per_page = PageParams::parse(None, self.take("per_page")?)?.per_page;
        let cursor = self
            .take("cursor")?
            .map(|raw| decode_cursor(&raw))
            .transpose()?;
        Ok((cursor, per_page))
    }

    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.first() {
            None => Ok(()),
            Some((name, _)) => Err(ApiError::query(name.as_str(), "is not known here.")),
        }
    }
}

impl<St: Send + Sync> FromRequestParts<St> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        Ok(Self::parse(parts.uri.query()))
    }
}

/// `If-Match`: the versions a write may replace, as a precondition the domain checks
/// inside its transaction.
#[derive(Clone, Debug, Default)]
pub struct IfMatch(pub Precondition);

impl<St: Send + Sync> FromRequestParts<St> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(Precondition::default()));
        };
        let raw = value
            .to_str()
            .map_err(|_| ApiError::header("If-Match", "must be ASCII."))?;
        Ok(Self(Precondition::one_of(
            raw.split(',').map(|t| t.trim().to_string()).collect(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_reads_each_field_as_its_type_with_a_json_bodys_errors() {
        let form = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Deal {
            name: crate::domain::fields::Name,
            deal_size: Option<crate::domain::fields::DealSize>,
        }
        let deal: Deal = parse_form(&form(&[("name", "Acme"), ("deal_size", "12.5")])).unwrap();
        assert!(deal.deal_size.is_some() && deal.name.into_string() == "Acme");
        let refused = |pairs: &[(&str, &str)]| parse_form::<Deal>(&form(pairs)).unwrap_err();
        let spaced: Deal =
            parse_form(&form(&[("name", "Acme"), ("deal_size", " 62000 ")])).unwrap();
        assert!(spaced.deal_size.is_some(), "spaces around a typed number");
        let err = refused(&[("name", "Acme"), ("deal_size", "")]);
        assert_eq!(err.to_string(), "Field `deal_size` must be a number.");
        let err = refused(&[("name", "Acme"), ("deal_size", "lots")]);
        assert_eq!(err.param(), Some("deal_size"));
        assert_eq!(err.to_string(), "Field `deal_size` must be a number.");
        let err = refused(&[("name", "Acme"), ("deal_size", "-1")]);
        assert_eq!(err.param(), Some("deal_size"));
        assert!(
            err.to_string()
                .starts_with("Field `deal_size` must be 0 or"),
            "{err}"
        );
        assert_eq!(
            refused(&[("name", " ")]).to_string(),
            "Field `name` must not be empty."
        );
        assert_eq!(refused(&[]).param(), Some("name"));
        assert_eq!(
            refused(&[("name", "A"), ("colour", "red")]).param(),
            Some("colour")
        );
    }
    use axum::http::HeaderValue;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        size: Option<u32>,
    }

    fn message(err: ApiError) -> String {
        assert_eq!(err.code(), "invalid_body");
        let message = err.to_string();
        assert!(!message.contains(" line "), "{message}");
        message
    }

    fn param(body: &[u8]) -> Option<String> {
        parse_json::<Body>(body)
            .unwrap_err()
            .param()
            .map(str::to_string)
    }

    #[test]
    fn json_errors_name_the_field() {
        assert!(message(parse_json::<Body>(b"{\"name\":1}").unwrap_err()).contains("name"));
        assert!(
            message(parse_json::<Body>(b"{\"name\":\"a\",\"x\":1}").unwrap_err()).contains("x")
        );
        assert!(message(parse_json::<Body>(b"{}").unwrap_err()).contains("name"));
        assert!(message(parse_json::<Body>(b"{\"name\":").unwrap_err()).contains("Malformed"));
        assert!(message(parse_json::<Body>(b"  ").unwrap_err()).contains("empty"));
        message(parse_json::<Body>(b"{\"name\":\"a\"} x").unwrap_err());
        for not_an_object in [&b"[\"a\"]"[..], b" [\"a\", 1]", b"\"a\"", b"1", b"null"] {
            assert!(message(parse_json::<Body>(not_an_object).unwrap_err()).contains("object"));
        }
        assert_eq!(param(b"{\"name\":1}").as_deref(), Some("name"));
        assert_eq!(param(b"{\"name\":\"a\",\"x\":1}").as_deref(), Some("x"));
        assert_eq!(param(b"{\"size\":1}").as_deref(), Some("name"));
        assert_eq!(
            param(b"{\"name\":\"a\",\"size\":-1}").as_deref(),
            Some("size")
        );
        assert_eq!(param(b"{\"name\":"), None);
        assert_eq!(
            message(parse_json::<Body>(b"{\"size\":1}").unwrap_err()),
            "Field `name` is required."
        );
        assert!(parse_json::<Body>(b"{\"name\":\"a\"} trailing").is_err());
        assert!(parse_json::<Body>(b"{\"name\":\"a\",\"size\":-1}").is_err());
        assert!(parse_json::<Body>(b"{\"name\":\"a\"}").is_ok());
    }

    #[test]
    fn content_type_must_match() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            require_content_type(&headers, "application/json")
                .unwrap_err()
                .code(),
            "unsupported_media_type"
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(require_content_type(&headers, "application/json").is_ok());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(require_content_type(&headers, "application/json").is_err());
    }

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Optional {
        hours: Option<u32>,
    }

    async fn optional(content_type: Option<&str>, body: &'static str) -> Result<Optional, String> {
        let mut request = Request::builder().method("POST").uri("/");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(axum::body::Body::from(body)).unwrap();
        OptionalJsonBody::<Optional>::from_request(request, &())
            .await
            .map(|OptionalJsonBody(body)| body)
            .map_err(|err| err.code().to_string())
    }

    #[tokio::test]
    async fn an_optional_body_may_be_left_out_but_not_bent() {
        assert_eq!(optional(None, "").await, Ok(Optional::default()));
        assert_eq!(
            optional(Some("application/json"), "").await,
            Ok(Optional::default())
        );
        assert_eq!(
            optional(Some("application/json"), r#"{"hours":2}"#).await,
            Ok(Optional { hours: Some(2) })
        );
        assert_eq!(
            optional(None, "{}").await.unwrap_err(),
            "unsupported_media_type"
        );
        for bad in [" ", "{", r#"{"other":1}"#, r#"{"hours":-1}"#] {
            assert_eq!(
                optional(Some("application/json"), bad).await.unwrap_err(),
                "invalid_body",
                "{bad}"
            );
        }
    }

    #[test]
    fn query_params_reject_leftovers_and_repeats() {
        let mut q = QueryParams::parse(Some("kind=a&kind=b&page=2"));
        assert_eq!(q.take_all("kind"), vec!["a", "b"]);
        assert_eq!(q.take("page").unwrap().as_deref(), Some("2"));
        assert!(q.finish().is_ok());
        let mut q = QueryParams::parse(Some("page=1&page=2"));
        assert!(q.take("page").is_err());
        let q = QueryParams::parse(Some("bogus=1"));
        assert!(q.finish().unwrap_err().to_string().contains("bogus"));
    }
}
