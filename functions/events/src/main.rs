use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::init_tracing();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(events::handle(event.payload).await)
    }))
    .await
}
