//! The event pipeline of `make dev`, run in process for the tests.

use std::sync::Arc;

use leadgrid_tools::local::pollers::{QueuePoller, StreamPoller};
use serde_json::Value;

use crate::{quick_schedule, stack, Stack};

/// Invokes the `fanout` and `delivery` functions in process, as the pollers' Lambda.
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
/// poller feeding `fanout` and the queue poller feeding `delivery` (
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
            runtime.block_on(run(ready_tx));
        });
        ready_rx.recv().expect("the pipeline started");
    });
}

/// Runs the pollers for good, telling `ready` once the stream poller is positioned.
async fn run(ready: std::sync::mpsc::Sender<()>) {
    let stack = stack().await;
    let functions = PipelineFunctions(Arc::new((
        stack.fanout(),
        stack.deliverer(quick_schedule()),
    )));
    let mut stream_poller = stream_poller(&stack, functions.clone());
    stream_poller
        .poll_once()
        .await
        .expect("stream poller start");
    let [fast_lane, slow_lane] = queue_pollers(&stack, functions).await;
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    ready.send(()).expect("signal ready");
    tokio::join!(
        stream_poller.run(stop_rx.clone()),
        fast_lane.run(stop_rx.clone()),
        slow_lane.run(stop_rx)
    );
}

/// The table's stream poller feeding `fanout`, from the stream's latest record on.
fn stream_poller(stack: &Stack, functions: PipelineFunctions) -> StreamPoller<PipelineFunctions> {
    let streams = aws_sdk_dynamodbstreams::Client::new(&stack.sdk);
    StreamPoller::new(
        stack.dynamodb(),
        streams,
        &stack.config.table_name,
        "us-east-1",
        "fanout",
        functions,
        None,
    )
    .starting_at_latest()
    .with_failure_queue(
        aws_sdk_sqs::Client::new(&stack.sdk),
        &std::env::var("STREAM_FAILURE_QUEUE_URL").expect("failure queue url"),
    )
}

/// A queue poller feeding `delivery` for each lane of deliveries: the events queue, then
/// the slow one.
async fn queue_pollers(
    stack: &Stack,
    functions: PipelineFunctions,
) -> [QueuePoller<PipelineFunctions>; 2] {
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
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("queue arn");
        queue_pollers.push(QueuePoller {
            sqs: sqs.clone(),
            queue_url,
            queue_arn,
            region: "us-east-1".into(),
            function: "delivery".into(),
            invoker: functions.clone(),
        });
    }
    <[_; 2]>::try_from(queue_pollers).unwrap_or_else(|_| unreachable!())
}
