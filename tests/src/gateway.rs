//! API Gateway (HTTP API, payload format 2.0) in front of the functions' real Lambda entry
//! points. A request becomes the JSON event API Gateway sends; the event goes through what
//! `lambda_http::run` does with it in a container (deserialize, convert to an `http`
//! request, call the router, convert the response back to JSON); the Lambda response becomes
//! the HTTP response API Gateway would give the client.
//!
//! The event is built the way API Gateway documents it: lower-case header names with
//! repeated headers joined by commas, `rawPath` as sent, `rawQueryString` with
//! `queryStringParameters` (repeats joined by commas), `pathParameters` of the matched
//! route, cookies in their own field, and the body as text for text types or base64 with
//! `isBase64Encoded` otherwise. Header bytes outside ASCII are read as ISO-8859-1, as HTTP
//! defines them.

use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::{json, Map, Value};

/// One request as a client sends it to the API's domain.
#[derive(Clone, Debug)]
pub struct GatewayRequest {
    pub method: Method,
    /// The path as it went over the wire, percent-encoding and all.
    pub raw_path: String,
    pub raw_query: String,
    /// Header names and their raw bytes, in order; a name may repeat.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl GatewayRequest {
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (raw_path, raw_query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method,
            raw_path: raw_path.to_string(),
            raw_query: raw_query.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn key(self, key: &str) -> Self {
        self.header("authorization", format!("Bearer {key}"))
    }

    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header("content-type", content_type)
    }

    fn header_text(&self, name: &str) -> Option<String> {
        let values: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| latin1(v))
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    }

    /// The event API Gateway sends to the function of the matched route.
    pub fn event(&self) -> Value {
        let route = crate::routes::matching(&self.raw_path);
        let mut headers = Map::new();
        for (name, _) in &self.headers {
            if name != "cookie" && !headers.contains_key(name) {
                headers.insert(name.clone(), json!(self.header_text(name)));
            }
        }
        headers.insert("host".into(), json!("api.leadgrid.test"));
        let mut query = Map::new();
        for (name, value) in form_urlencoded::parse(self.raw_query.as_bytes()) {
            match query.get_mut(name.as_ref()) {
                Some(Value::String(joined)) => {
                    joined.push(',');
                    joined.push_str(&value);
                }
                _ => {
                    query.insert(name.into_owned(), json!(value));
                }
            }
        }
        let route_key = match &route {
            Some(route) if !route.template.contains("{*") => {
                format!("{} {}", self.method, route.template)
            }
            _ => "$default".to_string(),
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.raw_path,
            "rawQueryString": self.raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "leadgridapi",
                "domainName": "api.leadgrid.test",
                "domainPrefix": "api",
                "http": {
                    "method": self.method.as_str(),
                    "path": self.raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.10",
                    "userAgent": self.header_text("user-agent").unwrap_or_default()
                },
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": route_key,
                "stage": "$default",
                "time": "29/Nov/2026:12:00:00 +0000",
                "timeEpoch": 1_795_953_600_000u64
            },
            "isBase64Encoded": false
        });
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if let Some(route) = route {
            if !route.parameters.is_empty() {
                event["pathParameters"] = json!(route.parameters);
            }
        }
        if let Some(cookies) = self.header_text("cookie") {
            event["cookies"] = json!(cookies.split("; ").collect::<Vec<_>>());
        }
        if !self.body.is_empty() {
            let text_type = self
                .header_text("content-type")
                .is_some_and(|t| is_text(&t));
            match std::str::from_utf8(&self.body) {
                Ok(text) if text_type => event["body"] = json!(text),
                _ => {
                    event["body"] = json!(STANDARD.encode(&self.body));
                    event["isBase64Encoded"] = json!(true);
                }
            }
        }
        event
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn is_text(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        )
}

/// What API Gateway answers the client, from the function's Lambda response.
#[derive(Debug)]
pub struct GatewayResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl GatewayResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "response is not JSON: {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Runs `event` through the function's Lambda entry point, as its container would: the
/// runtime deserializes the event, `lambda_http` turns it into a request for `router`, and
/// the response goes back as JSON. A step that a container would fail (an event
/// `lambda_http` cannot read, a response it cannot write) fails the test, since API Gateway
/// would answer 500 without the spec's error shape.
pub async fn invoke(router: &Router, event: &Value) -> GatewayResponse {
    let payload = serde_json::to_vec(event).expect("events serialize");
    let request: lambda_http::request::LambdaRequest = serde_json::from_slice(&payload)
        .unwrap_or_else(|e| panic!("the runtime cannot read this event ({e}): {event}"));
    // The adapter is not `Send`; the future it makes is.
    let responding =
        Adapter::from(router.clone()).call(LambdaEvent::new(request, Context::default()));
    let response = responding.await.expect("routers are infallible");
    let response = serde_json::to_value(&response).expect("Lambda responses serialize");
    let status = response["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or_else(|| panic!("no status code in {response}"));
    let mut headers = HeaderMap::new();
    for (name, value) in response["headers"].as_object().into_iter().flatten() {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value.as_str().expect("header values are strings"))
                .expect("header value"),
        );
    }
    let body = match response["body"].as_str() {
        None => Vec::new(),
        Some(body) if response["isBase64Encoded"] == true => {
            STANDARD.decode(body).expect("base64 body")
        }
        Some(body) => body.as_bytes().to_vec(),
    };
    GatewayResponse {
        status,
        headers,
        body,
    }
}

/// Sends `request` to the function API Gateway routes it to, through its Lambda entry point.
pub async fn send(stack: &crate::Stack, request: &GatewayRequest) -> GatewayResponse {
    let function = crate::function_for(&request.raw_path);
    invoke(&stack.router(function), &request.event()).await
}
