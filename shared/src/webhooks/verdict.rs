//! What becomes of one delivery attempt, decided without I/O: whether to send it at all,
//! and, from the receiver's answer, what the attempt's outcome is, what it teaches about
//! the endpoint ([`Health`]) and when the next try is. Delivery reads, asks, and writes what
//! it is told.

use std::time::Duration;

use time::OffsetDateTime;

use super::{Delivery, Destinations, Endpoint, Health, Outcome, RetrySchedule};

/// The most one attempt may take in the fast lane, connecting and reading included.
pub const FAST_LANE_BUDGET: Duration = Duration::from_secs(2);
/// How long an endpoint found slow stays in the slow lane, unless an attempt there answers
/// within the fast lane's budget first.
pub const SLOW_LANE_STAY: Duration = Duration::from_secs(3600);

/// Before any request.
#[derive(Debug, PartialEq)]
pub enum Before {
    /// Not sent: the message is done with, the attempt logged as skipped with this reason.
    Skip(String),
    /// The endpoint is in the slow lane: the message moves there untried.
    ToSlowLane,
    /// Send it, to this URL.
    Send(Box<Endpoint>, url::Url),
}

/// Whether `delivery` is sent to `endpoint` (as read now; `None` if deleted).
pub fn before_sending(
    delivery: &Delivery,
    endpoint: Option<Endpoint>,
    destinations: &Destinations,
    now: OffsetDateTime,
) -> Before {
    let Some(endpoint) = endpoint else {
        return Before::Skip("endpoint deleted".into());
    };
    // A test is sent even to a disabled endpoint: its receiver can be checked before the
    // endpoint is enabled again.
    if endpoint.disabled_at.is_some() && !delivery.is_test() {
        return Before::Skip("endpoint disabled".into());
    }
    // Only an endpoint enabled again needs the delivery's age: a live event's, read from its
    // payload; a replay's or recovery's, from when it was queued (a recovery after the
    // enabling sends what was missed, once).
    if endpoint.enabled_at.is_some() && !delivery.is_test() {
        let (age, why) = if delivery.replay {
            let queued = delivery.queued_at;
            let queued = queued.and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok());
            (queued, "queued before the endpoint was enabled again")
        } else {
            let made = crate::clock::parse(&delivery.created_at());
            (made, "made before the endpoint was enabled again")
        };
        if age.is_some_and(|at| endpoint.predates_enabling(at)) {
            return Before::Skip(why.into());
        }
    }
    // A replay or recovery was eligible when it was queued; if the endpoint changed its URL
    // or types since, it goes nowhere, so that a URL change cannot redirect past events to
    // a new receiver.
    if delivery.replay {
        let envelope = serde_json::from_str::<crate::domain::outbox::Envelope>(&delivery.payload);
        if envelope.map_or(true, |envelope| endpoint.ineligible(&envelope).is_some()) {
            return Before::Skip(
                "the endpoint changed its URL or events since this was queued".into(),
            );
        }
    }
    let url = match destinations.check(&endpoint.url) {
        Ok(url) => url.clone(),
        Err(why) => return Before::Skip(why),
    };
    if !delivery.slow && endpoint.slow_until.is_some_and(|until| until > now) {
        return Before::ToSlowLane;
    }
    Before::Send(Box::new(endpoint), url)
}

/// What the receiver did with a request.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    /// Its status, if it answered at all.
    pub status: Option<u16>,
    /// No answer within the lane's budget.
    pub timed_out: bool,
    pub duration: Duration,
    /// Its `Retry-After` on 429 or 503.
    pub retry_after: Option<Duration>,
}

/// After a request.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// Done with: the attempt is final.
    Done,
    /// No answer within the fast lane's budget: sent again at once from the slow lane.
    ToSlowLane,
    /// Tried again after this long.
    RetryAfter(Duration),
    /// Every attempt failed: to the dead-letter queue.
    GiveUp,
}

#[derive(Debug, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// What the endpoint's record learns, in order.
    pub health: Vec<Health>,
    pub next: Next,
}

/// The verdict on an attempt of `delivery` (its `attempt`-th) to `endpoint`, as read before
/// the request. Endpoints are disabled after `disable_after_failing` of failures.
pub fn after_answer(
    delivery: &Delivery,
    endpoint: &Endpoint,
    attempt: u32,
    answer: &Answer,
    schedule: &RetrySchedule,
    disable_after_failing: Duration,
    now: OffsetDateTime,
) -> Verdict {
    let mut health = Vec::new();
    if !delivery.slow && answer.timed_out {
        // A test changes nothing about the endpoint: only a delivery marks it slow.
        if !delivery.is_test() {
            health.push(Health::SlowUntil(now + SLOW_LANE_STAY));
        }
        return Verdict {
            outcome: Outcome::Retrying,
            health,
            next: Next::ToSlowLane,
        };
    }
    if delivery.slow
        && endpoint.slow_until.is_some()
        && answer.status.is_some()
        && answer.duration < FAST_LANE_BUDGET
    {
        health.push(Health::Fast);
    }
    let delivered = answer.status.is_some_and(|s| (200..300).contains(&s));
    if delivery.is_test() {
        return tested(endpoint, delivered, health, now);
    }
    if delivered {
        if endpoint.failing_since.is_some() || endpoint.first_delivered_at.is_none() {
            health.push(Health::Recovered(now));
        }
        return Verdict {
            outcome: Outcome::Delivered,
            health,
            next: Next::Done,
        };
    }
    if let Some(reason) = disabling(endpoint, answer, disable_after_failing, now) {
        health.push(Health::Disabled { at: now, reason });
        return Verdict {
            outcome: Outcome::Disabled,
            health,
            next: Next::Done,
        };
    }
    if endpoint.failing_since.is_none() {
        health.push(Health::Failing(now));
    }
    let (outcome, next) = match schedule.next_delay(attempt, answer.retry_after) {
        Some(delay) => (Outcome::Retrying, Next::RetryAfter(delay)),
        None => (Outcome::Failed, Next::GiveUp),
    };
    Verdict {
        outcome,
        health,
        next,
    }
}

/// A test is tried once, and its outcome changes nothing about the endpoint but that its
/// receiver has answered.
fn tested(
    endpoint: &Endpoint,
    delivered: bool,
    mut health: Vec<Health>,
    now: OffsetDateTime,
) -> Verdict {
    if delivered && endpoint.first_delivered_at.is_none() {
        health.push(Health::Answered(now));
    }
    Verdict {
        outcome: if delivered {
            Outcome::Delivered
        } else {
            Outcome::Failed
        },
        health,
        next: Next::Done,
    }
}

/// Why a failed attempt disables its endpoint, if it does: 410 Gone, or every delivery
/// failing for `disable_after_failing`.
fn disabling(
    endpoint: &Endpoint,
    answer: &Answer,
    disable_after_failing: Duration,
    now: OffsetDateTime,
) -> Option<String> {
    if answer.status == Some(410) {
        return Some("The receiver answered 410 Gone.".into());
    }
    let since = endpoint
        .failing_since
        .filter(|since| (now - *since).unsigned_abs() >= disable_after_failing)?;
    Some(format!(
        "Every delivery failed from {} on, for over {}.",
        crate::clock::format(since),
        spoken(disable_after_failing)
    ))
}

/// "5 days", "6 hours" or "30 seconds".
fn spoken(window: Duration) -> String {
    let seconds = window.as_secs();
    match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} hours", s / 3_600),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outbox::{Envelope, EventType};
    use crate::webhooks::DISABLE_AFTER_FAILING;
    use uuid::Uuid;

    fn at(text: &str) -> OffsetDateTime {
        crate::clock::parse(text).unwrap()
    }

    fn endpoint() -> Endpoint {
        Endpoint {
            id: Uuid::now_v7(),
            url: "https://receiver.example/hooks".parse().unwrap(),
            events: vec![crate::webhooks::Subscription::Every],
            description: None,
            created_at: at("2026-12-01T00:00:00Z"),
            disabled_at: None,
            disabled_reason: None,
            failing_since: None,
            secrets: Vec::new(),
            slow_until: None,
            eligible_since: None,
            first_delivered_at: Some(at("2026-12-01T00:00:01Z")),
            enabled_at: None,
            version: 1,
        }
    }

    fn event(made: &str) -> Delivery {
        let envelope = Envelope {
            id: crate::domain::outbox::new_event_id(),
            kind: EventType::DossierCreated,
            created_at: made.into(),
            data: serde_json::json!({}),
        };
        Delivery::new(Uuid::now_v7(), Uuid::now_v7(), &envelope).unwrap()
    }

    fn answered(status: u16) -> Answer {
        Answer {
            status: Some(status),
            duration: Duration::from_millis(40),
            ..Answer::default()
        }
    }

    fn judge(delivery: &Delivery, endpoint: &Endpoint, attempt: u32, answer: &Answer) -> Verdict {
        let now = at("2026-12-06T12:00:00Z");
        let schedule = RetrySchedule::production();
        after_answer(
            delivery,
            endpoint,
            attempt,
            answer,
            &schedule,
            DISABLE_AFTER_FAILING,
            now,
        )
    }

    fn destinations() -> Destinations {
        Destinations::default().https_only()
    }

    #[test]
    fn gone_disables_at_once_and_other_failures_retry() {
        let delivery = event("2026-12-06T11:59:00Z");
        let gone = judge(&delivery, &endpoint(), 1, &answered(410));
        assert_eq!(gone.outcome, Outcome::Disabled);
        assert_eq!(gone.next, Next::Done);
        assert!(
            matches!(&gone.health[..], [Health::Disabled { reason, .. }] if reason.contains("410"))
        );
        let failed = judge(&delivery, &endpoint(), 1, &answered(500));
        assert_eq!(failed.outcome, Outcome::Retrying);
        assert!(matches!(failed.next, Next::RetryAfter(_)));
        assert_eq!(failed.health, [Health::Failing(at("2026-12-06T12:00:00Z"))]);
        let last = judge(&delivery, &endpoint(), 8, &answered(500));
        assert_eq!((last.outcome, last.next), (Outcome::Failed, Next::GiveUp));
    }

    #[test]
    fn five_days_of_failures_disable_and_less_does_not() {
        let delivery = event("2026-12-06T11:59:00Z");
        let failing = |since: &str| Endpoint {
            failing_since: Some(at(since)),
            ..endpoint()
        };
        let long = judge(
            &delivery,
            &failing("2026-12-01T12:00:00Z"),
            3,
            &answered(503),
        );
        assert_eq!(long.outcome, Outcome::Disabled);
        assert!(matches!(&long.health[..], [Health::Disabled { reason, .. }]
            if reason == "Every delivery failed from 2026-12-01T12:00:00Z on, for over 5 days."));
        let short = judge(
            &delivery,
            &failing("2026-12-01T12:00:01Z"),
            3,
            &answered(503),
        );
        assert_eq!(short.outcome, Outcome::Retrying);
        assert!(short.health.is_empty(), "the streak's start is kept");
        let recovered = judge(
            &delivery,
            &failing("2026-12-01T12:00:01Z"),
            3,
            &answered(204),
        );
        assert_eq!(recovered.outcome, Outcome::Delivered);
        assert_eq!(
            recovered.health,
            [Health::Recovered(at("2026-12-06T12:00:00Z"))]
        );
    }

    #[test]
    fn a_test_is_tried_once_and_only_teaches_that_the_receiver_answers() {
        let now = at("2026-12-06T12:00:00Z");
        let ping = Delivery::ping(Uuid::now_v7(), Uuid::now_v7(), now).unwrap();
        let fresh = Endpoint {
            first_delivered_at: None,
            failing_since: Some(at("2026-11-01T00:00:00Z")),
            ..endpoint()
        };
        let ok = judge(&ping, &fresh, 1, &answered(200));
        assert_eq!((ok.outcome, ok.next), (Outcome::Delivered, Next::Done));
        assert_eq!(ok.health, [Health::Answered(now)]);
        let gone = judge(&ping, &fresh, 1, &answered(410));
        assert_eq!((gone.outcome, gone.next), (Outcome::Failed, Next::Done));
        assert!(gone.health.is_empty(), "a test never disables");
        let slow = Answer {
            timed_out: true,
            ..Answer::default()
        };
        let timed_out = judge(&ping, &fresh, 1, &slow);
        assert_eq!(timed_out.next, Next::ToSlowLane);
        assert!(
            timed_out.health.is_empty(),
            "a test never marks an endpoint slow"
        );
        let disabled = Endpoint {
            disabled_at: Some(now),
            ..fresh
        };
        assert!(matches!(
            before_sending(&ping, Some(disabled), &destinations(), now),
            Before::Send(..)
        ));
    }

    #[test]
    fn an_endpoint_enabled_again_gets_new_events_and_replays_only() {
        let now = at("2026-12-06T12:00:00Z");
        let enabled = Endpoint {
            enabled_at: Some(at("2026-12-06T11:00:00Z")),
            ..endpoint()
        };
        let before_outage_ended = event("2026-12-06T10:30:00Z");
        assert_eq!(
            before_sending(
                &before_outage_ended,
                Some(enabled.clone()),
                &destinations(),
                now
            ),
            Before::Skip("made before the endpoint was enabled again".into())
        );
        let replay = Delivery {
            replay: true,
            ..before_outage_ended
        };
        assert!(matches!(
            before_sending(&replay, Some(enabled.clone()), &destinations(), now),
            Before::Send(..)
        ));
        // Queued before the endpoint was last enabled: dropped, as live deliveries are.
        let queued_earlier = Delivery {
            queued_at: Some(at("2026-12-06T10:59:59Z").unix_timestamp()),
            ..replay.clone()
        };
        assert_eq!(
            before_sending(&queued_earlier, Some(enabled.clone()), &destinations(), now),
            Before::Skip("queued before the endpoint was enabled again".into())
        );
        let queued_since = Delivery {
            queued_at: Some(at("2026-12-06T11:00:00Z").unix_timestamp()),
            ..replay.clone()
        };
        assert!(matches!(
            before_sending(&queued_since, Some(enabled.clone()), &destinations(), now),
            Before::Send(..)
        ));
        // Its URL changed after the replay was queued: the past event goes nowhere.
        let pointed_elsewhere = Endpoint {
            eligible_since: Some(at("2026-12-06T11:30:00Z")),
            ..enabled.clone()
        };
        assert_eq!(
            before_sending(&replay, Some(pointed_elsewhere), &destinations(), now),
            Before::Skip("the endpoint changed its URL or events since this was queued".into())
        );
        let since = event("2026-12-06T11:00:00Z");
        assert!(matches!(
            before_sending(&since, Some(enabled.clone()), &destinations(), now),
            Before::Send(..)
        ));
        let disabled = Endpoint {
            disabled_at: Some(now),
            ..enabled
        };
        assert_eq!(
            before_sending(&since, Some(disabled), &destinations(), now),
            Before::Skip("endpoint disabled".into())
        );
        assert_eq!(
            before_sending(&since, None, &destinations(), now),
            Before::Skip("endpoint deleted".into())
        );
    }

    #[test]
    fn slow_receivers_change_lanes() {
        let now = at("2026-12-06T12:00:00Z");
        let delivery = event("2026-12-06T11:59:00Z");
        let slow = Endpoint {
            slow_until: Some(now + SLOW_LANE_STAY),
            ..endpoint()
        };
        assert_eq!(
            before_sending(&delivery, Some(slow.clone()), &destinations(), now),
            Before::ToSlowLane
        );
        let timed_out = Answer {
            timed_out: true,
            ..Answer::default()
        };
        let moved = judge(&delivery, &endpoint(), 2, &timed_out);
        assert_eq!(
            (moved.outcome, moved.next),
            (Outcome::Retrying, Next::ToSlowLane)
        );
        assert_eq!(moved.health, [Health::SlowUntil(now + SLOW_LANE_STAY)]);
        let in_slow_lane = Delivery {
            slow: true,
            ..delivery
        };
        let quick = judge(&in_slow_lane, &slow, 2, &answered(200));
        assert_eq!(quick.health, [Health::Fast]);
        let still_slow = Answer {
            duration: FAST_LANE_BUDGET,
            ..answered(200)
        };
        assert!(judge(&in_slow_lane, &slow, 2, &still_slow)
            .health
            .is_empty());
    }

    #[test]
    fn durations_are_spoken_in_their_largest_whole_unit() {
        assert_eq!(spoken(DISABLE_AFTER_FAILING), "5 days");
        assert_eq!(spoken(Duration::from_secs(6 * 3600)), "6 hours");
        assert_eq!(spoken(Duration::from_secs(90)), "90 seconds");
    }
}
