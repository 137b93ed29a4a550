//! The SQS consumer that delivers webhooks. Until delivery is built (the webhooks issue),
//! it keeps every message: each is reported as a batch item failure, so SQS retries it and
//! finally moves it to the dead-letter queue rather than losing it.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

pub async fn handle(event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        if let Some(id) = message.message_id {
            tracing::warn!(message_id = %id, "webhook delivery is not available yet; message kept");
            response.add_failure(id);
        }
    }
    response
}
