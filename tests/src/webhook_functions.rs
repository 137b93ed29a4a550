//! The webhook-endpoints, fan-out and delivery functions' parts as the stack builds them, and a
//! queue of a test's own for the deliveries it retries.

use uuid::Uuid;

use crate::Stack;

/// The retry schedule tests deliver with: ten attempts about a second apart.
pub fn quick_schedule() -> shared::webhooks::RetrySchedule {
    shared::webhooks::RetrySchedule::seconds(&[0, 1, 1, 1, 1, 1, 1, 1, 1, 1])
}

impl Stack {
    /// The webhook-endpoints function's state, its clients recorded as that function's.
    pub fn webhook_endpoints(&self) -> webhook_endpoints::Endpoints {
        let secrets = aws_sdk_secretsmanager::Client::new(&self.sdk);
        webhook_endpoints::Endpoints {
            core: self.core_of("webhook-endpoints"),
            master_key: shared::secrets::SecretSource::new(
                recorded!(
                    aws_sdk_secretsmanager,
                    secrets.config().to_builder(),
                    "webhook-endpoints"
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
                "webhook-endpoints"
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
