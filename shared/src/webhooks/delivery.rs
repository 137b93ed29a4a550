//! Webhook delivery: one queue message is one event for one endpoint. Each attempt is
//! signed, POSTed, and logged; a failure queues the message again for the schedule's next
//! attempt, and the last failure moves it to the dead-letter queue.
//!
//! A wait is never spent in flight. SQS lets a standard queue hold about 120,000 messages
//! received and not yet deleted, past which its consumers receive nothing at all; hours of
//! retries hidden with `ChangeMessageVisibility` across every tenant's failing receivers
//! would reach that. A retry is instead a new message, delayed (at most SQS's 15 minutes);
//! one due later carries [`Delivery::not_before`] and is delayed again on each receive until
//! then. Delayed messages do not count as in flight. A message is queued again before the
//! one it comes from is deleted; of two copies that a missed deletion queues, only the first
//! received goes on ([`copies`]).
//!
//! Two lanes keep one organization's slow receivers from holding up everyone's deliveries.
//! In the fast lane (the events queue) an attempt gets [`FAST_LANE_BUDGET`] for the whole
//! request; one that runs out of it is logged as failed, its endpoint is marked slow for
//! [`verdict::SLOW_LANE_STAY`], and the message moves to the slow lane (its own queue and
//! concurrency), where attempts get the full [`request::TIMEOUT`](crate::webhooks::request::TIMEOUT). The fast lane sends a slow
//! endpoint's messages straight on without a request. Before any request, the
//! organization's budget for the destination host is taken ([`limits`]); a message over it
//! waits in the queue for the next minute.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};

use crate::secrets::{SecretSource, WebhookMasterKey};
use crate::table::store::Db;
use crate::webhooks::copies;
use crate::webhooks::limits::{self, Budget};
use crate::webhooks::request::Sender;
use crate::webhooks::verdict::{self, Before, Next, FAST_LANE_BUDGET};
use crate::webhooks::{self, Attempt, Delivery, Destinations, Outcome, RetrySchedule};
use crate::ApiError;

/// How many times a delivery may wait for its host's budget (about a minute each) before
/// it is given up on, to the dead-letter queue, from where an operator can redrive it.
pub const MAX_DEFERRALS: u32 = 60;
/// SQS's longest delay for a message it is sent.
const MAX_DELAY_SECONDS: u64 = 900;

pub struct Deliverer {
    pub db: Db,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub slow_queue_url: String,
    pub dead_letter_url: String,
    pub host_requests_per_minute: u64,
    pub schedule: RetrySchedule,
    pub destinations: Destinations,
    pub disable_after_failing: Duration,
    /// What "now" is for every decision: the system clock in a container.
    pub clock: crate::clock::Clock,
    sender: Sender,
}

pub struct Settings {
    pub queue_url: String,
    /// The slow lane's queue.
    pub slow_queue_url: String,
    pub dead_letter_url: String,
    /// [`limits::HOST_REQUESTS_PER_MINUTE`] as deployed.
    pub host_requests_per_minute: u64,
    pub schedule: RetrySchedule,
    pub destinations: Destinations,
    /// How long an endpoint may fail every attempt before it is disabled.
    pub disable_after_failing: Duration,
}

impl Settings {
    /// `EVENTS_QUEUE_URL`, `SLOW_DELIVERIES_QUEUE_URL`, `EVENTS_DLQ_URL`,
    /// `WEBHOOK_RETRY_SCHEDULE` (default: the production schedule) and
    /// `WEBHOOK_ALLOWED_DESTINATIONS` (default: public only).
    pub fn from_env(config: &crate::config::Config) -> Result<Self, String> {
        let schedule = match std::env::var("WEBHOOK_RETRY_SCHEDULE") {
            Ok(raw) if !raw.trim().is_empty() => RetrySchedule::parse(&raw)?,
            _ => RetrySchedule::production(),
        };
        Ok(Self {
            queue_url: config
                .events_queue_url
                .clone()
                .ok_or("EVENTS_QUEUE_URL is not set")?,
            slow_queue_url: config
                .slow_deliveries_queue_url
                .clone()
                .ok_or("SLOW_DELIVERIES_QUEUE_URL is not set")?,
            host_requests_per_minute: limits::HOST_REQUESTS_PER_MINUTE,
            dead_letter_url: config
                .events_dlq_url
                .clone()
                .ok_or("EVENTS_DLQ_URL is not set")?,
            schedule,
            destinations: Destinations::from_env()?,
            disable_after_failing: webhooks::DISABLE_AFTER_FAILING,
        })
    }
}

impl Deliverer {
    pub fn new(
        db: Db,
        master_key: SecretSource<WebhookMasterKey>,
        sqs: aws_sdk_sqs::Client,
        settings: Settings,
    ) -> Self {
        let sender = Sender::new(master_key, settings.destinations);
        Self {
            db,
            sqs,
            queue_url: settings.queue_url,
            slow_queue_url: settings.slow_queue_url,
            dead_letter_url: settings.dead_letter_url,
            host_requests_per_minute: settings.host_requests_per_minute,
            schedule: settings.schedule,
            destinations: settings.destinations,
            disable_after_failing: settings.disable_after_failing,
            clock: crate::clock::Clock::System,
            sender,
        }
    }

    /// Delivers a batch concurrently, so a slow receiver does not hold up the others.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        batch_response(&event.records, |m| self.process(m)).await
    }

    /// Returns whether the message must stay in the queue.
    async fn process(&self, message: &SqsMessage) -> bool {
        let received = Received {
            raw: message.body.as_deref().unwrap_or_default(),
            id: message.message_id.as_deref(),
        };
        let delivery: Delivery = match serde_json::from_str(received.raw) {
            Ok(delivery) => delivery,
            Err(err) => {
                tracing::error!(error = %err, "unreadable delivery message; moving it to the dead-letter queue");
                return !self.dead_letter(received.raw).await;
            }
        };
        if let (Some(parent), Some(id)) = (&delivery.requeued_from, &delivery.copy_id) {
            let now = self.clock.now();
            match copies::goes_on(&self.db, delivery.org, parent, id, now).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(event_id = %delivery.event_id, "a second copy of a message queued again; dropped");
                    return false;
                }
                Err(err) => {
                    tracing::error!(error = %err, event_id = %delivery.event_id, "could not claim a message queued again");
                    return true;
                }
            }
        }
        let now = self.clock.now().unix_timestamp();
        if let Some(due) = delivery.not_before.filter(|due| *due > now) {
            return match self
                .requeue_until(&delivery, delivery.attempts_before, due, received)
                .await
            {
                Ok(keep) => keep,
                Err(err) => {
                    tracing::error!(error = %err, event_id = %delivery.event_id, "could not delay a delivery again");
                    true
                }
            };
        }
        let attempt = match self.attempts_made(message, &delivery).await {
            Ok(made) => made + 1,
            Err(err) => {
                tracing::error!(error = %err, event_id = %delivery.event_id, "could not count earlier attempts");
                return true;
            }
        };
        match self.attempt(&delivery, attempt, received).await {
            Ok(keep) => keep,
            Err(err) => {
                tracing::error!(error = %err, event_id = %delivery.event_id, "delivery attempt failed to run");
                true
            }
        }
    }

    /// The attempts already made for this message. They are counted from the log, not
    /// from SQS's receive count, since a receive that sent nothing (an error before the
    /// POST, a crash) must not use up the schedule; but a message received for the first
    /// time has made none, which spares the common case the count's round trip.
    async fn attempts_made(
        &self,
        message: &SqsMessage,
        delivery: &Delivery,
    ) -> Result<u32, ApiError> {
        let attribute = |name: &str| {
            message
                .attributes
                .get(name)
                .and_then(|v| v.parse::<i128>().ok())
        };
        if attribute("ApproximateReceiveCount") == Some(1) {
            return Ok(delivery.attempts_before);
        }
        let sent_nanos = attribute("SentTimestamp").map_or(0, |ms| ms * 1_000_000);
        let since_sent = webhooks::attempts::count_since(
            &self.db,
            delivery.org,
            delivery.endpoint_id,
            &delivery.event_id,
            sent_nanos,
        )
        .await?;
        Ok(delivery.attempts_before + since_sent)
    }

    /// Makes attempt number `attempt` of `delivery`, as [`verdict`] decides: reads the
    /// endpoint, sends the request, records what the answer taught about the endpoint, and
    /// logs the attempt. Returns whether the message must stay in the queue.
    async fn attempt(
        &self,
        delivery: &Delivery,
        attempt: u32,
        received: Received<'_>,
    ) -> Result<bool, ApiError> {
        let started_at = self.clock.now();
        let mut record = Attempt {
            id: crate::ids::new_id(),
            endpoint_id: delivery.endpoint_id,
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type,
            attempt,
            url: None,
            created_at: started_at,
            duration_ms: 0,
            status: None,
            error: None,
            response_body: None,
            outcome: Outcome::Skipped,
            next_attempt_at: None,
            timed_out: false,
        };
        let endpoint = webhooks::get(&self.db, delivery.org, delivery.endpoint_id).await?;
        record.url = endpoint.as_ref().map(|endpoint| endpoint.url.to_string());
        let (endpoint, url) =
            match verdict::before_sending(delivery, endpoint, &self.destinations, started_at) {
                Before::Skip(why) => return self.finish(delivery, record.with_error(&why)).await,
                Before::ToSlowLane => {
                    return self.requeue(delivery, true, attempt - 1, 0, received).await
                }
                Before::Send(endpoint, url) => (endpoint, url),
            };
        if let Some(keep) = self
            .wait_for_host_budget(delivery, &url, attempt, &record, received)
            .await?
        {
            return Ok(keep);
        }
        let answer = self
            .sender
            .post(&endpoint, url, delivery, started_at, &mut record)
            .await?;
        let verdict = verdict::after_answer(
            delivery,
            &endpoint,
            attempt,
            &answer,
            &self.schedule,
            self.disable_after_failing,
            self.clock.now(),
        );
        for learned in &verdict.health {
            learned
                .record(&self.db, delivery.org, delivery.endpoint_id)
                .await?;
        }
        record.outcome = verdict.outcome;
        self.carry_out(delivery, record, verdict.next, received)
            .await
    }

    /// Does what the verdict on an attempt says comes next, logging the attempt. Returns
    /// whether the message must stay in the queue.
    async fn carry_out(
        &self,
        delivery: &Delivery,
        mut record: Attempt,
        next: Next,
        received: Received<'_>,
    ) -> Result<bool, ApiError> {
        match next {
            Next::Done => self.finish(delivery, record).await,
            Next::ToSlowLane => {
                record.error = Some(format!(
                    "no answer within the fast lane's {} s; sent again at once from the slow lane",
                    FAST_LANE_BUDGET.as_secs()
                ));
                record.next_attempt_at = Some(self.clock.now());
                self.log(delivery, &record).await;
                self.requeue(delivery, true, record.attempt, 0, received)
                    .await
            }
            Next::RetryAfter(delay) => {
                let due = self.clock.now() + delay;
                record.next_attempt_at = Some(due);
                self.log(delivery, &record).await;
                let due = due.unix_timestamp();
                self.requeue_until(delivery, record.attempt, due, received)
                    .await
            }
            Next::GiveUp => {
                self.log(delivery, &record).await;
                Ok(!self.dead_letter(&delivery.redrivable(received.raw)).await)
            }
        }
    }

    /// Takes one request from the organization's budget for the URL's host. Over it, the
    /// delivery waits in the queue for the next minute (not counted as an attempt), or after
    /// [`MAX_DEFERRALS`] waits goes to the dead-letter queue, logged. `None`: it may be sent.
    async fn wait_for_host_budget(
        &self,
        delivery: &Delivery,
        url: &url::Url,
        attempt: u32,
        record: &Attempt,
        received: Received<'_>,
    ) -> Result<Option<bool>, ApiError> {
        // `h.example.` and `h.example` are one host name.
        let host = url.host_str().unwrap_or_default().trim_end_matches('.');
        let budget = Budget::Host(host);
        let limit = self.host_requests_per_minute;
        let now = self.clock.now();
        let Some(wait) = limits::take(&self.db, delivery.org, budget, limit, now).await? else {
            return Ok(None);
        };
        if delivery.deferrals >= MAX_DEFERRALS {
            let why = format!(
                "over the organization's budget of {limit} requests a minute to {host} for {MAX_DEFERRALS} minutes; moved to the dead-letter queue"
            );
            let given_up = Attempt {
                outcome: Outcome::Failed,
                ..record.clone()
            };
            self.log(delivery, &given_up.with_error(&why)).await;
            return Ok(Some(
                !self.dead_letter(&delivery.redrivable(received.raw)).await,
            ));
        }
        let deferred = Delivery {
            deferrals: delivery.deferrals + 1,
            ..delivery.clone()
        };
        // Spread over the next minute, so that a backlog does not all come back at once.
        let spread = rand::random::<u64>() % 30;
        self.requeue(
            &deferred,
            delivery.slow,
            attempt - 1,
            wait + spread,
            received,
        )
        .await
        .map(Some)
    }

    /// Queues the message again in its lane, to be tried at `due` (Unix seconds): delayed
    /// up to SQS's 15 minutes, and marked with `due` if that is later.
    async fn requeue_until(
        &self,
        delivery: &Delivery,
        attempts_before: u32,
        due: i64,
        received: Received<'_>,
    ) -> Result<bool, ApiError> {
        let wait = due.saturating_sub(self.clock.now().unix_timestamp()).max(0) as u64;
        let later = Delivery {
            not_before: (wait > MAX_DELAY_SECONDS).then_some(due),
            ..delivery.clone()
        };
        self.requeue(&later, delivery.slow, attempts_before, wait, received)
            .await
    }

    /// Queues the message again, in the slow lane or the fast one, after `delay_seconds`
    /// (at most SQS's 15 minutes), with `attempts_before` attempts already made, naming the
    /// message `received` it comes from; that one is then done with. Returns whether it
    /// must stay in the queue: only if the new message could not be sent.
    async fn requeue(
        &self,
        delivery: &Delivery,
        slow: bool,
        attempts_before: u32,
        delay_seconds: u64,
        received: Received<'_>,
    ) -> Result<bool, ApiError> {
        let moved = Delivery {
            attempts_before,
            slow,
            copy_id: Some(crate::ids::new_id().to_string()),
            requeued_from: delivery
                .copy_id
                .clone()
                .or_else(|| received.id.map(str::to_owned)),
            ..delivery.clone()
        };
        let body = serde_json::to_string(&moved).map_err(ApiError::internal)?;
        let sent = self
            .sqs
            .send_message()
            .queue_url(if slow {
                &self.slow_queue_url
            } else {
                &self.queue_url
            })
            .message_body(body)
            .message_group_id(delivery.org.to_string())
            .delay_seconds(delay_seconds.min(MAX_DELAY_SECONDS) as i32)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(false),
            Err(err) => {
                tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(err), "could not queue a delivery again; it stays queued");
                Ok(true)
            }
        }
    }

    /// Logs a final attempt; the message is done with.
    async fn finish(&self, delivery: &Delivery, record: Attempt) -> Result<bool, ApiError> {
        self.log(delivery, &record).await;
        Ok(false)
    }

    /// The attempt log is for operators; failing to write it must not re-send an event.
    /// Every attempt of a domain event is also one EMF line of delivery metrics; tests are
    /// left out, since a receiver being set up fails them on purpose.
    async fn log(&self, delivery: &Delivery, record: &Attempt) {
        if !delivery.is_test() {
            crate::metrics::attempt(
                record.outcome.as_str(),
                record.attempt,
                record.duration_ms as f64,
            );
        }
        tracing::info!(
            event_id = %record.event_id,
            event_type = record.event_type.as_str(),
            endpoint_id = %record.endpoint_id,
            attempt = record.attempt,
            status = record.status,
            outcome = ?record.outcome,
            duration_ms = record.duration_ms,
            "webhook attempt"
        );
        if let Err(err) = webhooks::attempts::record(&self.db, delivery.org, record).await {
            tracing::error!(error = %err, "attempt log write failed");
        }
    }

    /// Returns whether the message reached the dead-letter queue.
    async fn dead_letter(&self, body: &str) -> bool {
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.dead_letter_url)
            .message_body(body)
            .send()
            .await;
        match sent {
            Ok(_) => true,
            Err(err) => {
                tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(err), "dead-letter send failed");
                false
            }
        }
    }
}

/// The queue message being handled: its body as received (what the dead-letter queue
/// keeps when it cannot be read back) and its SQS id (what a message queued again from it
/// names).
#[derive(Clone, Copy)]
struct Received<'a> {
    raw: &'a str,
    id: Option<&'a str>,
}

impl Attempt {
    fn with_error(mut self, error: &str) -> Self {
        self.error = Some(error.to_string());
        self
    }
}

/// Runs `process` on every message at once; the messages it keeps (answers `true` for),
/// and any whose processing panicked, are the batch's item failures.
async fn batch_response<'a, F, Fut>(messages: &'a [SqsMessage], process: F) -> SqsBatchResponse
where
    F: Fn(&'a SqsMessage) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let keep = futures_util::future::join_all(messages.iter().map(|m| async {
        crate::panics::caught(process(m))
            .await
            .unwrap_or_else(|panic| {
                tracing::error!(panic, "delivering a message panicked; it stays queued");
                true
            })
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    for (message, keep) in messages.iter().zip(keep) {
        if let (true, Some(id)) = (keep, &message.message_id) {
            response.add_failure(id.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_message_is_one_item_failure_and_the_others_complete() {
        let messages: Vec<SqsMessage> = ["delivered", "boom", "retry later"]
            .into_iter()
            .map(|body| {
                let mut message = SqsMessage::default();
                message.message_id = Some(body.into());
                message.body = Some(body.into());
                message
            })
            .collect();
        let response = batch_response(&messages, |m| async move {
            match m.body.as_deref() {
                Some("boom") => panic!("a bug in delivery"),
                body => body == Some("retry later"),
            }
        })
        .await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["boom", "retry later"]);
    }
}
