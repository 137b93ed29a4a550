// The fan-out future (stream batch → endpoint list → paging helper → SDK call) nests deeper
// than rustc's default query depth allows when it computes the future's layout.
#![recursion_limit = "256"]

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{service_fn, LambdaEvent};
use shared::webhooks::fanout::Fanout;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::init_tracing();
    let config = shared::functions::Function::Fanout.settings()?;
    let sdk = shared::config::aws().await;
    let fanout = Fanout {
        db: shared::table::store::Db::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url: config
            .events_queue_url
            .ok_or("EVENTS_QUEUE_URL is not set")?,
    };
    let fanout = &fanout;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(fanout::handle(fanout, event.payload).await)
    }))
    .await
}
