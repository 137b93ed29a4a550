use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use shared::webhooks::delivery::{Deliverer, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::init_tracing();
    let config = shared::functions::Function::Delivery.settings()?;
    let settings = Settings::from_env(&config)?;
    let sdk = shared::config::aws().await;
    let master_key = shared::secrets::SecretSource::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        config.require_webhook_secret_id()?,
    );
    master_key.load().await;
    let deliverer = Deliverer::new(
        shared::table::store::Db::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
        master_key,
        aws_sdk_sqs::Client::new(&sdk),
        settings,
    );
    let deliverer = &deliverer;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(deliverer.handle(event.payload).await)
    }))
    .await
}
