//! A local Lambda Runtime API, to run a function's binary as Lambda runs it: serves events
//! from `/2018-06-01/runtime/invocation/next` and records when the function first asks for
//! one and when each response is POSTed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::mpsc;

#[derive(Default)]
struct Shared {
    first_poll: Option<Instant>,
    failures: Vec<String>,
}

#[derive(Clone)]
struct Api {
    shared: Arc<Mutex<Shared>>,
    events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Value>>>,
    responses: mpsc::UnboundedSender<(Instant, Value)>,
}

pub struct Emulator {
    pub address: String,
    shared: Arc<Mutex<Shared>>,
    events: mpsc::UnboundedSender<Value>,
    responses: mpsc::UnboundedReceiver<(Instant, Value)>,
}

async fn next(State(api): State<Api>) -> (HeaderMap, String) {
    api.shared
        .lock()
        .unwrap()
        .first_poll
        .get_or_insert_with(Instant::now);
    let event = api.events.lock().await.recv().await.unwrap_or(Value::Null);
    let mut headers = HeaderMap::new();
    let id = uuid::Uuid::new_v4().to_string();
    let deadline = time::OffsetDateTime::now_utc().unix_timestamp() * 1000 + 30_000;
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_str(&id).unwrap(),
    );
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:local"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-0-0"),
    );
    (headers, event.to_string())
}

async fn respond(State(api): State<Api>, Path(_id): Path<String>, body: String) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = api.responses.send((Instant::now(), value));
    StatusCode::ACCEPTED
}

async fn fail(State(api): State<Api>, body: String) -> StatusCode {
    api.shared.lock().unwrap().failures.push(body.clone());
    let _ = api
        .responses
        .send((Instant::now(), serde_json::json!({"runtime_error": body})));
    StatusCode::ACCEPTED
}

async fn fail_invocation(state: State<Api>, Path(_id): Path<String>, body: String) -> StatusCode {
    fail(state, body).await
}

impl Emulator {
    pub async fn start() -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (responses_tx, responses_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let api = Api {
            shared: shared.clone(),
            events: Arc::new(tokio::sync::Mutex::new(events_rx)),
            responses: responses_tx,
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(fail_invocation),
            )
            .route("/2018-06-01/runtime/init/error", post(fail))
            .with_state(api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self {
            address,
            shared,
            events: events_tx,
            responses: responses_rx,
        }
    }

    pub fn send(&self, event: Value) {
        self.events.send(event).expect("emulator is running");
    }

    /// The next response, with when it arrived.
    pub async fn response(&mut self) -> Option<(Instant, Value)> {
        tokio::time::timeout(Duration::from_secs(60), self.responses.recv())
            .await
            .ok()
            .flatten()
    }

    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.lock().unwrap().first_poll
    }

    pub fn failures(&self) -> Vec<String> {
        self.shared.lock().unwrap().failures.clone()
    }
}
