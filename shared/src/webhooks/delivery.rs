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
//! [`SLOW_LANE_STAY`], and the message moves to the slow lane (its own queue and
//! concurrency), where attempts get the full [`TIMEOUT`]. The fast lane sends a slow
//! endpoint's messages straight on without a request. Before any request, the
//! organization's budget for the destination host is taken ([`limits`]); a message over it
//! waits in the queue for the next minute.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;

use crate::secrets::{SecretSource, WebhookMasterKey};
use crate::table::store::Db;
use crate::webhooks::copies;
use crate::webhooks::limits::{self, Budget};
use crate::webhooks::{self, Attempt, Delivery, Destinations, Outcome, RetrySchedule};
use crate::ApiError;

/// "5 days", "6 hours" or "30 seconds".
fn spoken(window: Duration) -> String {
    let seconds = window.as_secs();
    match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} hours", s / 3_600),
        s => format!("{s} seconds"),
    }
}

/// A delivery succeeds only with a 2xx within this time.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// The most one attempt may take in the fast lane, connecting and reading included.
pub const FAST_LANE_BUDGET: Duration = Duration::from_secs(2);
/// How long an endpoint found slow stays in the slow lane, unless an attempt there answers
/// within the fast lane's budget first.
pub const SLOW_LANE_STAY: Duration = Duration::from_secs(3600);
/// How many times a delivery may wait for its host's budget (about a minute each) before
/// it is given up on, to the dead-letter queue, from where an operator can redrive it.
pub const MAX_DEFERRALS: u32 = 60;
/// SQS's longest delay for a message it is sent.
const MAX_DELAY_SECONDS: u64 = 900;

pub struct Deliverer {
    pub db: Db,
    pub master_key: SecretSource<WebhookMasterKey>,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub slow_queue_url: String,
    pub dead_letter_url: String,
    pub host_requests_per_minute: u64,
    pub schedule: RetrySchedule,
    pub destinations: Destinations,
    pub disable_after_failing: Duration,
    http: reqwest::Client,
}

/// Resolves host names but hands out only addresses deliveries may reach, so a name that
/// points at an internal address (or is re-pointed there later) is refused at connect time.
struct GuardedResolver(Destinations);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.0;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let permitted: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| allowed.refuses(addr.ip()).is_none())
                .collect();
            if permitted.is_empty() {
                return Err(format!("{host} resolves to no address deliveries may reach").into());
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
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
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect on our behalf, past the resolver's guard.
            .no_proxy()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .dns_resolver(GuardedResolver(settings.destinations))
            .build()
            .expect("the HTTP client's settings are valid");
        Self {
            db,
            master_key,
            sqs,
            queue_url: settings.queue_url,
            slow_queue_url: settings.slow_queue_url,
            dead_letter_url: settings.dead_letter_url,
            host_requests_per_minute: settings.host_requests_per_minute,
            schedule: settings.schedule,
            destinations: settings.destinations,
            disable_after_failing: settings.disable_after_failing,
            http,
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
            let now = crate::clock::now();
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
        let now = crate::clock::now().unix_timestamp();
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

    async fn attempt(
        &self,
        delivery: &Delivery,
        attempt: u32,
        received: Received<'_>,
    ) -> Result<bool, ApiError> {
        let started_at = crate::clock::now();
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
            timed_out: false,
        };
        let endpoint = webhooks::get(&self.db, delivery.org, delivery.endpoint_id).await?;
        // A test is sent even to a disabled endpoint: its receiver can be checked before the
        // endpoint is enabled again.
        let endpoint = match endpoint {
            Some(endpoint) if endpoint.disabled_at.is_none() || delivery.is_test() => endpoint,
            Some(_) => {
                return self
                    .finish(delivery, record.with_error("endpoint disabled"))
                    .await
            }
            None => {
                return self
                    .finish(delivery, record.with_error("endpoint deleted"))
                    .await
            }
        };
        record.url = Some(endpoint.url.clone());
        // Only an endpoint enabled again needs the event's age, read from its payload.
        if delivery.fanned_out()
            && endpoint.enabled_at.is_some()
            && endpoint.predates_enabling(&delivery.created_at())
        {
            return self
                .finish(
                    delivery,
                    record.with_error("made before the endpoint was enabled again"),
                )
                .await;
        }
        // Checked at every attempt: the policy may have tightened since the endpoint was
        // stored, and a literal address never reaches the resolver's guard.
        let url = match self.destinations.check_url(&endpoint.url) {
            Ok(url) => url,
            Err(why) => return self.finish(delivery, record.with_error(&why)).await,
        };
        if !delivery.slow && endpoint.slow_until.is_some_and(|until| until > started_at) {
            return self.requeue(delivery, true, attempt - 1, 0, received).await;
        }
        if let Some(keep) = self
            .wait_for_host_budget(delivery, &url, attempt, &record, received)
            .await?
        {
            return Ok(keep);
        }
        let retry_after = self
            .post(&endpoint, url, delivery, started_at, &mut record)
            .await?;
        if let Some(keep) = self.leave_fast_lane(delivery, &record, received).await? {
            return Ok(keep);
        }
        let status = record.status.and_then(|s| StatusCode::from_u16(s).ok());
        if delivery.slow
            && endpoint.slow_until.is_some()
            && status.is_some()
            && Duration::from_millis(record.duration_ms) < FAST_LANE_BUDGET
        {
            webhooks::set_slow_until(&self.db, delivery.org, delivery.endpoint_id, None).await?;
        }
        let delivered = status.is_some_and(|s| s.is_success());
        if delivery.is_test() {
            return self
                .finish_test(delivery, &endpoint, record, delivered)
                .await;
        }
        if delivered {
            if endpoint.failing_since.is_some() || endpoint.first_delivered_at.is_none() {
                let now = crate::clock::now();
                webhooks::note_success(&self.db, delivery.org, delivery.endpoint_id, now).await?;
            }
            record.outcome = Outcome::Delivered;
            return self.finish(delivery, record).await;
        }
        self.after_failure(delivery, &endpoint, record, retry_after, received)
            .await
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
        let now = crate::clock::now();
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

    /// A test is tried once, and its outcome changes nothing about the endpoint but that
    /// its receiver has answered.
    async fn finish_test(
        &self,
        delivery: &Delivery,
        endpoint: &webhooks::Endpoint,
        mut record: Attempt,
        delivered: bool,
    ) -> Result<bool, ApiError> {
        if delivered && endpoint.first_delivered_at.is_none() {
            let now = crate::clock::now();
            webhooks::note_answered(&self.db, delivery.org, delivery.endpoint_id, now).await?;
        }
        record.outcome = if delivered {
            Outcome::Delivered
        } else {
            Outcome::Failed
        };
        self.finish(delivery, record).await
    }

    /// A failed attempt of an event: the endpoint is disabled (410, or failing for too
    /// long), or the next attempt is scheduled, or after the last the message goes to the
    /// dead-letter queue. Returns whether the message must stay in the queue.
    async fn after_failure(
        &self,
        delivery: &Delivery,
        endpoint: &webhooks::Endpoint,
        mut record: Attempt,
        retry_after: Option<Duration>,
        received: Received<'_>,
    ) -> Result<bool, ApiError> {
        let status = record.status.and_then(|s| StatusCode::from_u16(s).ok());
        let now = crate::clock::now();
        let gone = status == Some(StatusCode::GONE);
        let failing_too_long = endpoint
            .failing_since
            .filter(|since| (now - *since).unsigned_abs() >= self.disable_after_failing);
        if gone || failing_too_long.is_some() {
            let reason = match failing_too_long {
                Some(since) if !gone => format!(
                    "Every delivery failed from {} on, for over {}.",
                    crate::clock::format(since),
                    spoken(self.disable_after_failing)
                ),
                _ => "The receiver answered 410 Gone.".to_string(),
            };
            webhooks::disable(&self.db, delivery.org, delivery.endpoint_id, now, &reason).await?;
            record.outcome = Outcome::Disabled;
            return self.finish(delivery, record).await;
        }
        if endpoint.failing_since.is_none() {
            webhooks::note_failure(&self.db, delivery.org, delivery.endpoint_id, now).await?;
        }
        match self.schedule.next_delay(record.attempt, retry_after) {
            Some(delay) => {
                record.outcome = Outcome::Retrying;
                self.log(delivery, &record).await;
                let due = crate::clock::now().unix_timestamp() + delay.as_secs() as i64;
                self.requeue_until(delivery, record.attempt, due, received)
                    .await
            }
            None => {
                record.outcome = Outcome::Failed;
                self.log(delivery, &record).await;
                Ok(!self.dead_letter(&delivery.redrivable(received.raw)).await)
            }
        }
    }

    /// A fast-lane attempt that ran out of the lane's budget: logged as failed, its endpoint
    /// marked slow, and the message moved to the slow lane at once, the attempt counted.
    /// `None` for any other attempt. Returns whether the message must stay in the queue.
    async fn leave_fast_lane(
        &self,
        delivery: &Delivery,
        record: &Attempt,
        received: Received<'_>,
    ) -> Result<Option<bool>, ApiError> {
        if delivery.slow || !record.timed_out {
            return Ok(None);
        }
        // A test changes nothing about the endpoint: only a delivery marks it slow.
        if !delivery.is_test() {
            let until = crate::clock::now() + SLOW_LANE_STAY;
            webhooks::set_slow_until(&self.db, delivery.org, delivery.endpoint_id, Some(until))
                .await?;
        }
        let moved = Attempt {
            outcome: Outcome::Retrying,
            error: Some(format!(
                "no answer within the fast lane's {} s; sent again at once from the slow lane",
                FAST_LANE_BUDGET.as_secs()
            )),
            ..record.clone()
        };
        self.log(delivery, &moved).await;
        self.requeue(delivery, true, record.attempt, 0, received)
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
        let wait = due
            .saturating_sub(crate::clock::now().unix_timestamp())
            .max(0) as u64;
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

    /// Signs and POSTs the event to the endpoint, recording the response (status, the start
    /// of its body, duration) or the error in `record`. Answers the receiver's `Retry-After`
    /// on 429 and 503.
    async fn post(
        &self,
        endpoint: &webhooks::Endpoint,
        url: url::Url,
        delivery: &Delivery,
        started_at: time::OffsetDateTime,
        record: &mut Attempt,
    ) -> Result<Option<Duration>, ApiError> {
        let master_key = self.master_key.get().await?;
        let signature = webhooks::signature_header(
            &endpoint.signing_secrets(master_key.bytes(), started_at),
            started_at.unix_timestamp(),
            delivery.payload.as_bytes(),
        );
        let started = Instant::now();
        let sent = self
            .http
            .post(url)
            .timeout(if delivery.slow {
                TIMEOUT
            } else {
                FAST_LANE_BUDGET
            })
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, webhooks::USER_AGENT)
            .header(webhooks::SIGNATURE_HEADER, signature)
            .header(webhooks::EVENT_ID_HEADER, &delivery.event_id)
            .header(webhooks::EVENT_TYPE_HEADER, delivery.event_type.as_str())
            .body(delivery.payload.clone())
            .send()
            .await;
        let mut retry_after = None;
        match sent {
            Ok(mut response) => {
                let status = response.status();
                record.status = Some(status.as_u16());
                if matches!(
                    status,
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                ) {
                    retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                }
                let mut body = Vec::new();
                while body.len() < webhooks::attempts::LOGGED_BODY_BYTES {
                    match response.chunk().await {
                        Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                        // The status has arrived and decides the attempt; a body cut off by
                        // the budget is only logged shorter.
                        _ => break,
                    }
                }
                body.truncate(webhooks::attempts::LOGGED_BODY_BYTES);
                // Until a receiver has answered 2xx, what its host answers is not kept: the
                // API is not a way to read back the answers of any host.
                if status.is_success() || endpoint.first_delivered_at.is_some() {
                    record.response_body = Some(String::from_utf8_lossy(&body).into_owned());
                }
            }
            Err(err) => {
                record.timed_out = err.is_timeout();
                record.error = Some(describe(&err, delivery.slow));
            }
        }
        record.duration_ms = started.elapsed().as_millis() as u64;
        Ok(retry_after)
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

fn describe(err: &reqwest::Error, slow_lane: bool) -> String {
    use std::error::Error;
    if err.is_timeout() {
        let budget = if slow_lane { TIMEOUT } else { FAST_LANE_BUDGET };
        return format!("no response within {} s", budget.as_secs());
    }
    let mut text = String::from(if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    });
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
