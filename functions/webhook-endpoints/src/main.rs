#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::web::serve(
        shared::functions::Function::WebhookEndpoints,
        |core, sdk, config| {
            let master_key = shared::secrets::SecretSource::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                config.require_webhook_secret_id()?,
            );
            // Read when first needed, by creating an endpoint or rotating its secret.
            Ok(webhook_endpoints::router(webhook_endpoints::Endpoints {
                core,
                master_key,
                destinations: shared::webhooks::Destinations::from_env()?,
                sqs: aws_sdk_sqs::Client::new(sdk),
                queue_url: config
                    .events_queue_url
                    .clone()
                    .ok_or("environment variable EVENTS_QUEUE_URL is not set")?,
            }))
        },
    )
    .await
}
