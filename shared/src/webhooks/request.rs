//! The request a delivery attempt makes: signed, sent only to addresses deliveries may
//! reach, within its lane's budget, and read only as far as the attempt log keeps.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;

use crate::secrets::{SecretSource, WebhookMasterKey};
use crate::webhooks::verdict::{Answer, FAST_LANE_BUDGET};
use crate::webhooks::{self, Attempt, Delivery, Destinations};
use crate::ApiError;

/// A delivery succeeds only with a 2xx within this time.
pub const TIMEOUT: Duration = Duration::from_secs(15);

pub(super) struct Sender {
    master_key: SecretSource<WebhookMasterKey>,
    http: reqwest::Client,
}

impl Sender {
    pub(super) fn new(
        master_key: SecretSource<WebhookMasterKey>,
        destinations: Destinations,
    ) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect on our behalf, past the resolver's guard.
            .no_proxy()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .dns_resolver(GuardedResolver(destinations))
            .build()
            .expect("the HTTP client's settings are valid");
        Self { master_key, http }
    }

    /// Signs and POSTs the event to the endpoint, recording the response (status, the start
    /// of its body, duration) or the error in `record`, and answers what the receiver did.
    pub(super) async fn post(
        &self,
        endpoint: &webhooks::Endpoint,
        url: url::Url,
        delivery: &Delivery,
        started_at: time::OffsetDateTime,
        record: &mut Attempt,
    ) -> Result<Answer, ApiError> {
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
        Ok(Answer {
            status: record.status,
            timed_out: record.timed_out,
            duration: Duration::from_millis(record.duration_ms),
            retry_after,
        })
    }
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
