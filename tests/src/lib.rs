//! Harness for the integration tests: the local stack's clients, organizations with keys,
//! and requests sent through the functions' real routers.
//!
//! `make test` runs these tests under `leadgrid-local test`, which starts DynamoDB Local
//! and moto on free ports and exports their endpoints.

pub mod aws_calls;
pub mod contact_listings;
#[cfg(test)]
mod doc_links;
pub mod gateway;
pub mod legacy_keys;
pub mod routes;
pub mod runtime_api;
pub mod verifiers;

pub use legacy_keys::{legacy_key, stored_key_hashes};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::{HeaderMap, Method, Request, StatusCode};
use leadgrid_tools::admin::Admin;
use serde_json::Value;
use shared::config::Config;
use shared::domain::orgs::Plan;
use shared::web::auth::Scope;
use shared::web::Core;
use tower::ServiceExt;
use uuid::Uuid;

/// A client of `$sdk` from `$builder`, recording its calls as `$function`'s.
macro_rules! recorded {
    ($sdk:ident, $builder:expr, $function:expr) => {{
        let mut builder = $builder;
        if let Some(recorder) = aws_calls::Recorder::of($function) {
            builder = builder.interceptor(recorder);
        }
        $sdk::Client::from_conf(builder.build())
    }};
}

pub struct Stack {
    pub sdk: aws_config::SdkConfig,
    pub config: Config,
}

/// The stack's clients, built anew for each test: every `#[tokio::test]` has its own
/// runtime, and SDK connection pools must not outlive the runtime that made them.
pub async fn stack() -> Arc<Stack> {
    // Internal errors are logged, not returned: show them with a failing test's output.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .try_init();
    let config = Config::from_env().unwrap_or_else(|e| {
        panic!("{e}: run the integration tests through `make test`, which starts the local stack")
    });
    let sdk = shared::config::aws().await;
    Arc::new(Stack { sdk, config })
}

impl Stack {
    /// A fresh `Core`, as a new container would build it (empty plan cache).
    pub fn core(&self) -> Core {
        Core::new(&self.sdk, &self.config).expect("the stack names the API-key secret")
    }

    /// A fresh `Core` reading time from `clock`.
    pub fn core_at(&self, clock: shared::clock::Clock) -> Core {
        Core {
            clock,
            ..self.core()
        }
    }

    /// A `Core` as `function` builds it, whose calls are recorded (see [`aws_calls`]).
    pub fn core_of(&self, function: &'static str) -> Core {
        let secrets = aws_sdk_secretsmanager::Client::new(&self.sdk);
        Core {
            db: self.db_of(function),
            legacy_pepper: shared::secrets::SecretSource::new(
                recorded!(
                    aws_sdk_secretsmanager,
                    secrets.config().to_builder(),
                    function
                ),
                self.config
                    .api_key_secret_id
                    .clone()
                    .expect("API_KEY_SECRET_ID is set"),
            ),
            ..self.core()
        }
    }

    fn db_of(&self, function: &'static str) -> shared::table::store::Db {
        let builder = aws_sdk_dynamodb::config::Builder::from(&self.sdk);
        shared::table::store::Db::new(
            recorded!(aws_sdk_dynamodb, builder, function),
            &self.config.table_name,
        )
    }

    /// The dossiers function's CV store, whose calls are recorded.
    pub fn cvs_of_dossiers(&self) -> shared::cv::CvStore {
        let s3 = shared::config::s3_client(&self.sdk);
        shared::cv::CvStore {
            s3: recorded!(aws_sdk_s3, s3.config().to_builder(), "dossiers"),
            ..self.cvs()
        }
    }

    pub fn admin(&self) -> Admin {
        Admin::from_config(&self.sdk, &self.config).expect("the stack names both secrets")
    }

    pub fn cvs(&self) -> shared::cv::CvStore {
        shared::cv::CvStore {
            s3: shared::config::s3_client(&self.sdk),
            bucket: self.config.cv_bucket.clone().expect("CV_BUCKET is set"),
        }
    }

    /// The bytes stored in the CV bucket under `key`, if any.
    pub async fn stored_cv(&self, key: &str) -> Option<Vec<u8>> {
        let cvs = self.cvs();
        let out = cvs
            .s3
            .get_object()
            .bucket(&cvs.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.ok()?.into_bytes().to_vec())
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }
}

/// A clock held at the start of the current minute: every request of a `Core` built with
/// it counts in one rate-limit window, however long the test runs.
pub fn one_window() -> shared::clock::Clock {
    let now = shared::clock::now();
    let start = now.unix_timestamp() - now.unix_timestamp().rem_euclid(60);
    shared::clock::Clock::Fixed(
        time::OffsetDateTime::from_unix_timestamp(start).expect("a minute's start is a valid time"),
    )
}

/// An organization on `plan` with one key holding `scopes`.
pub struct TestOrg {
    pub id: Uuid,
    pub key: String,
    pub key_id: Uuid,
}

pub async fn org_with(plan: Plan, scopes: &[Scope]) -> TestOrg {
    let admin = stack().await.admin();
    let org = admin
        .create_org("Test Org", plan)
        .await
        .expect("org create");
    let key = admin
        .create_key(org.id, scopes.to_vec(), None, None)
        .await
        .expect("key create");
    TestOrg {
        id: org.id,
        key: key.key,
        key_id: key.id,
    }
}

pub async fn growth_org() -> TestOrg {
    org_with(Plan::Growth, &Scope::ALL).await
}

impl TestOrg {
    pub async fn key_with(&self, scopes: &[Scope]) -> String {
        let admin = stack().await.admin();
        admin
            .create_key(self.id, scopes.to_vec(), None, None)
            .await
            .expect("key create")
            .key
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// A request as API Gateway would hand it to the function.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Call {
    pub fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn key(self, key: &str) -> Self {
        self.header("authorization", &format!("Bearer {key}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = serde_json::to_vec(body).expect("JSON serializes");
        self.header("content-type", "application/json")
    }

    pub fn raw(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = body;
        self.header("content-type", content_type)
    }

    pub async fn send(self, router: &Router) -> Reply {
        let mut request = Request::builder().method(self.method).uri(self.path);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = request.body(Body::from(self.body)).expect("request builds");
        let response = router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body reads");
        let is_json = headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
        // Errors and data are JSON; the reference page and its script are text.
        let body = if bytes.is_empty() {
            Value::Null
        } else if is_json {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("response is not JSON: {}", String::from_utf8_lossy(&bytes))
            })
        } else {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        Reply {
            status,
            headers,
            body,
        }
    }
}

pub async fn flows_router() -> Router {
    flows::router(stack().await.core_of("flows"))
}

pub async fn dossiers_router() -> Router {
    let stack = stack().await;
    dossiers::router(stack.core_of("dossiers"), stack.cvs_of_dossiers())
}

pub async fn contacts_router() -> Router {
    contacts::router(stack().await.core_of("contacts"))
}

pub async fn notes_router() -> Router {
    notes::router(stack().await.core_of("notes"))
}

pub async fn webhooks_router() -> Router {
    webhooks::router(stack().await.webhook_endpoints())
}

/// The domain events an organization's writes have put in the outbox, oldest first.
pub async fn outbox(org: Uuid) -> Vec<shared::domain::outbox::Envelope> {
    let core = stack().await.core();
    shared::domain::outbox::retained(&core.db, org)
        .await
        .expect("outbox query")
}

pub fn post(path: &str) -> Call {
    Call::new(Method::POST, path)
}

pub fn patch(path: &str) -> Call {
    Call::new(Method::PATCH, path)
}

pub fn delete(path: &str) -> Call {
    Call::new(Method::DELETE, path)
}

/// Counts the DynamoDB calls made through a client, as the SDK sends them, and the items
/// they read (what a Query examined, what a GetItem or BatchGetItem returned).
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    calls: Arc<AtomicUsize>,
    items: Arc<AtomicUsize>,
}

impl aws_sdk_dynamodb::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<
            '_,
        >,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemOutput, get_item::GetItemOutput, query::QueryOutput,
        };
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let read = if let Some(query) = output.downcast_ref::<QueryOutput>() {
            query.scanned_count() as usize
        } else if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            usize::from(get.item().is_some())
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            batch
                .responses()
                .map(|r| r.values().map(Vec::len).sum())
                .unwrap_or(0)
        } else {
            0
        };
        self.items.fetch_add(read, Ordering::SeqCst);
        Ok(())
    }
}

impl CallCounter {
    /// The calls made since the last `take`.
    pub fn take(&self) -> usize {
        self.items.store(0, Ordering::SeqCst);
        self.calls.swap(0, Ordering::SeqCst)
    }

    /// The items read since the last `take` or `take_items`.
    pub fn take_items(&self) -> usize {
        self.items.swap(0, Ordering::SeqCst)
    }
}

impl Stack {
    /// A `Core` whose DynamoDB calls are counted.
    pub fn counted_core(&self) -> (Core, CallCounter) {
        let counter = CallCounter::default();
        let conf = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .interceptor(counter.clone())
            .build();
        let mut core = self.core();
        core.db = shared::table::store::Db::new(
            aws_sdk_dynamodb::Client::from_conf(conf),
            &self.config.table_name,
        );
        (core, counter)
    }
}

/// The retry schedule tests deliver with: ten attempts about a second apart.
pub fn quick_schedule() -> shared::webhooks::RetrySchedule {
    shared::webhooks::RetrySchedule::seconds(&[0, 1, 1, 1, 1, 1, 1, 1, 1, 1])
}

impl Stack {
    /// The webhooks function's state, its clients recorded as that function's.
    pub fn webhook_endpoints(&self) -> webhooks::Endpoints {
        let secrets = aws_sdk_secretsmanager::Client::new(&self.sdk);
        webhooks::Endpoints {
            core: self.core_of("webhooks"),
            master_key: shared::secrets::SecretSource::new(
                recorded!(
                    aws_sdk_secretsmanager,
                    secrets.config().to_builder(),
                    "webhooks"
                ),
                self.config
                    .webhook_secret_id
                    .clone()
                    .expect("WEBHOOK_SECRET_ID is set"),
            ),
            destinations: shared::webhooks::Destinations::from_env()
                .expect("the local stack's destination policy"),
            sqs: recorded!(
                aws_sdk_sqs,
                aws_sdk_sqs::config::Builder::from(&self.sdk),
                "webhooks"
            ),
            queue_url: self
                .config
                .events_queue_url
                .clone()
                .expect("EVENTS_QUEUE_URL is set"),
        }
    }

    pub fn fanout(&self) -> shared::webhooks::fanout::Fanout {
        shared::webhooks::fanout::Fanout {
            db: self.db_of("fanout"),
            sqs: recorded!(
                aws_sdk_sqs,
                aws_sdk_sqs::config::Builder::from(&self.sdk),
                "fanout"
            ),
            queue_url: self
                .config
                .events_queue_url
                .clone()
                .expect("EVENTS_QUEUE_URL is set"),
        }
    }

    /// An endpoint's attempt log, or one event's, oldest first, as its listing reads it.
    pub async fn attempt_log(
        &self,
        org: Uuid,
        endpoint: Uuid,
        event: Option<&str>,
    ) -> Vec<shared::webhooks::Attempt> {
        let (mut log, more) =
            shared::webhooks::attempts::page(&self.core().db, org, endpoint, event, None, 100)
                .await
                .expect("the attempt log reads");
        assert!(!more, "a test's log fits one page");
        log.reverse();
        log
    }

    /// The delivery function as deployed, with `schedule` and the local stack's
    /// destinations (loopback allowed).
    pub fn deliverer(
        &self,
        schedule: shared::webhooks::RetrySchedule,
    ) -> shared::webhooks::delivery::Deliverer {
        let settings = shared::webhooks::delivery::Settings {
            queue_url: self
                .config
                .events_queue_url
                .clone()
                .expect("EVENTS_QUEUE_URL is set"),
            slow_queue_url: self
                .config
                .slow_deliveries_queue_url
                .clone()
                .expect("SLOW_DELIVERIES_QUEUE_URL is set"),
            dead_letter_url: self
                .config
                .events_dlq_url
                .clone()
                .expect("EVENTS_DLQ_URL is set"),
            host_requests_per_minute: shared::webhooks::limits::HOST_REQUESTS_PER_MINUTE,
            schedule,
            destinations: shared::webhooks::Destinations::from_env().expect("destinations"),
            disable_after_failing: shared::webhooks::DISABLE_AFTER_FAILING,
        };
        let secrets = aws_sdk_secretsmanager::Client::new(&self.sdk);
        shared::webhooks::delivery::Deliverer::new(
            self.db_of("delivery"),
            shared::secrets::SecretSource::new(
                recorded!(
                    aws_sdk_secretsmanager,
                    secrets.config().to_builder(),
                    "delivery"
                ),
                self.config
                    .webhook_secret_id
                    .clone()
                    .expect("WEBHOOK_SECRET_ID is set"),
            ),
            recorded!(
                aws_sdk_sqs,
                aws_sdk_sqs::config::Builder::from(&self.sdk),
                "delivery"
            ),
            settings,
        )
    }
}

impl Stack {
    /// The delivery function with a queue of its own for both lanes, so that the retries it
    /// queues reach the test that asks for them ([`OwnQueue::next`]) rather than the
    /// pipeline's pollers. Its SQS calls are not recorded: the queue is not the template's.
    pub async fn deliverer_with_own_queue(
        &self,
        schedule: shared::webhooks::RetrySchedule,
    ) -> (shared::webhooks::delivery::Deliverer, OwnQueue) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let url = sqs
            .create_queue()
            .queue_name(format!("leadgrid-test-{}", Uuid::now_v7().simple()))
            .send()
            .await
            .expect("a test queue")
            .queue_url
            .expect("its URL");
        let mut deliverer = self.deliverer(schedule);
        deliverer.sqs = sqs.clone();
        deliverer.queue_url = url.clone();
        deliverer.slow_queue_url = url.clone();
        (deliverer, OwnQueue { sqs, url })
    }
}

pub struct OwnQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl OwnQueue {
    /// The next message the deliverer queued (within 20 s), taken off the queue.
    pub async fn next(&self) -> shared::webhooks::Delivery {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(1)
                .wait_time_seconds(1)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await
                .expect("receive");
            if let Some(message) = out.messages().first() {
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
                let delivery = serde_json::from_str(message.body().unwrap_or_default())
                    .expect("a delivery message");
                return delivery;
            }
        }
        panic!("the deliverer queued nothing within 20 s")
    }

    /// How many messages wait out a delay: sent, and not yet receivable.
    pub async fn delayed(&self) -> usize {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            )
            .send()
            .await
            .expect("queue attributes");
        out.attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or_default()
    }
}

/// Invokes the `events` and `webhooks` functions in process, as the pollers' Lambda.
#[derive(Clone)]
struct PipelineFunctions(
    Arc<(
        shared::webhooks::fanout::Fanout,
        shared::webhooks::delivery::Deliverer,
    )>,
);

impl leadgrid_tools::local::pollers::Invoker for PipelineFunctions {
    async fn invoke(&self, function: &str, event: Value) -> Result<Value, String> {
        let (fanout, deliverer) = &*self.0;
        let response = match function {
            "fanout" => {
                let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                serde_json::to_value(fanout::handle(fanout, event).await)
            }
            "delivery" => {
                let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                serde_json::to_value(deliverer.handle(event).await)
            }
            other => return Err(format!("no function {other}")),
        };
        response.map_err(|e| e.to_string())
    }
}

/// Starts, once per test binary, the event pipeline as `make dev` runs it: the stream
/// poller feeding `events` (fan-out) and the queue poller feeding `webhooks` (delivery,
/// with [`quick_schedule`]). It runs on its own thread and runtime, so it outlives tests.
/// Returns once the stream poller is positioned: every change after that is delivered.
pub fn pipeline() {
    static STARTED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    STARTED.get_or_init(|| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("pipeline runtime");
            runtime.block_on(async move {
                let stack = stack().await;
                let functions = PipelineFunctions(Arc::new((
                    stack.fanout(),
                    stack.deliverer(quick_schedule()),
                )));
                let streams = aws_sdk_dynamodbstreams::Client::new(&stack.sdk);
                let mut stream_poller = leadgrid_tools::local::pollers::StreamPoller::new(
                    stack.dynamodb(),
                    streams,
                    &stack.config.table_name,
                    "us-east-1",
                    "fanout",
                    functions.clone(),
                    None,
                )
                .starting_at_latest()
                .with_failure_queue(
                    aws_sdk_sqs::Client::new(&stack.sdk),
                    &std::env::var("STREAM_FAILURE_QUEUE_URL").expect("failure queue url"),
                );
                stream_poller
                    .poll_once()
                    .await
                    .expect("stream poller start");
                let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
                let lanes = [
                    stack.config.events_queue_url.clone().expect("queue url"),
                    stack
                        .config
                        .slow_deliveries_queue_url
                        .clone()
                        .expect("slow lane url"),
                ];
                let mut queue_pollers = Vec::new();
                for queue_url in lanes {
                    let queue_arn = sqs
                        .get_queue_attributes()
                        .queue_url(&queue_url)
                        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                        .send()
                        .await
                        .expect("queue attributes")
                        .attributes
                        .and_then(|mut a| {
                            a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                        })
                        .expect("queue arn");
                    queue_pollers.push(leadgrid_tools::local::pollers::QueuePoller {
                        sqs: sqs.clone(),
                        queue_url,
                        queue_arn,
                        region: "us-east-1".into(),
                        function: "delivery".into(),
                        invoker: functions.clone(),
                    });
                }
                let [fast_lane, slow_lane] =
                    <[_; 2]>::try_from(queue_pollers).unwrap_or_else(|_| unreachable!());
                let (_stop, stop_rx) = tokio::sync::watch::channel(false);
                ready_tx.send(()).expect("signal ready");
                tokio::join!(
                    stream_poller.run(stop_rx.clone()),
                    fast_lane.run(stop_rx.clone()),
                    slow_lane.run(stop_rx)
                );
            });
        });
        ready_rx.recv().expect("the pipeline started");
    });
}

/// One request a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    /// The status the receiver answered with.
    pub status: u16,
    pub at: std::time::Instant,
}

impl Received {
    pub fn event_id(&self) -> String {
        serde_json::from_str::<Value>(&self.body).expect("JSON body")["id"]
            .as_str()
            .expect("event id")
            .to_string()
    }
}

/// A webhook receiver on 127.0.0.1 that records every request and answers with the status
/// `respond` picks (given the request and how many requests for the same event came before).
pub struct Receiver {
    pub url: String,
    pub received: ReceivedLog,
}

type ReceivedLog = Arc<std::sync::Mutex<Vec<Received>>>;
type Respond = Arc<dyn Fn(&Received, usize) -> u16 + Send + Sync>;

async fn receive(
    axum::extract::State((log, respond, delay)): axum::extract::State<(
        ReceivedLog,
        Respond,
        std::time::Duration,
    )>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, &'static str) {
    let status = record(&log, &respond, headers, body);
    tokio::time::sleep(delay).await;
    (status, "ok")
}

fn record(log: &ReceivedLog, respond: &Respond, headers: HeaderMap, body: String) -> StatusCode {
    let mut request = Received {
        headers,
        body,
        status: 0,
        at: std::time::Instant::now(),
    };
    let event_id = |body: &str| {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_string))
    };
    let id = event_id(&request.body);
    let mut log = log.lock().unwrap();
    let before = log
        .iter()
        .filter(|r| id.is_some() && event_id(&r.body) == id)
        .count();
    request.status = respond(&request, before);
    let status = StatusCode::from_u16(request.status).unwrap();
    log.push(request);
    status
}

impl Receiver {
    pub async fn start(respond: impl Fn(&Received, usize) -> u16 + Send + Sync + 'static) -> Self {
        Self::start_slow(std::time::Duration::ZERO, respond).await
    }

    /// A receiver that answers each request `delay` after it arrives (`at` is the arrival).
    pub async fn start_slow(
        delay: std::time::Duration,
        respond: impl Fn(&Received, usize) -> u16 + Send + Sync + 'static,
    ) -> Self {
        let received: ReceivedLog = Arc::default();
        let respond: Respond = Arc::new(respond);
        let app = Router::new()
            .fallback(receive)
            .with_state((received.clone(), respond, delay));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/hooks/leadgrid", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { url, received }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received, or panics after `timeout`.
    pub async fn wait_for(
        &self,
        timeout: std::time::Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if done(&requests) {
                return requests;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the receiver did not get what was expected within {timeout:?}; got {} requests",
                requests.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// The function a path belongs to, as `[workspace.metadata.lambda.watch.router]` and the
/// template route it.
pub fn function_for(path: &str) -> &'static str {
    routes::matching(path).map_or("flows", |route| route.function)
}

impl Stack {
    /// A fresh router of the named API function.
    pub fn router(&self, function: &str) -> Router {
        match function {
            "dossiers" => dossiers::router(self.core_of("dossiers"), self.cvs_of_dossiers()),
            "contacts" => contacts::router(self.core_of("contacts")),
            "notes" => notes::router(self.core_of("notes")),
            "flows" => flows::router(self.core_of("flows")),
            "webhooks" => webhooks::router(self.webhook_endpoints()),
            other => panic!("no API function {other}"),
        }
    }
}

/// Serves the API on 127.0.0.1 (a free port) as API Gateway does: each request becomes an
/// HTTP API event for the function its route names, and runs through that function's Lambda
/// entry point (see [`gateway`]). Returns the base URL, `…/api/v1`.
pub async fn serve_api() -> String {
    let stack = stack().await;
    let routers: Arc<[(&'static str, Router); 5]> = Arc::new(
        ["dossiers", "contacts", "notes", "flows", "webhooks"]
            .map(|name| (name, stack.router(name))),
    );
    let app = Router::new().fallback(move |request: Request<Body>| {
        let routers = routers.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let mut request = gateway::GatewayRequest::new(
                parts.method,
                parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            );
            for (name, value) in &parts.headers {
                request = request.header(name.as_str(), value.as_bytes());
            }
            request.body = body.to_vec();
            let function = function_for(&request.raw_path);
            let router = routers
                .iter()
                .find(|(name, _)| *name == function)
                .map(|(_, router)| router.clone())
                .expect("a router per function");
            let reply = gateway::invoke(&router, &request.event()).await;
            let mut response = http::Response::new(Body::from(reply.body));
            *response.status_mut() = reply.status;
            *response.headers_mut() = reply.headers;
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind API");
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    base
}
