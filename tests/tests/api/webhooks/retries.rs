//! Failed attempts: the retry schedule, delayed and duplicate retries, the dead-letter queue.

use std::time::{Duration, Instant};

use integration_tests::{growth_org, stack, Receiver};
use shared::webhooks::Outcome;

use super::{batch, endpoint, note_created, sqs_message};

#[tokio::test]
async fn the_last_failed_attempt_goes_to_the_dead_letter_queue_and_410_disables() {
    let org = growth_org().await;
    let stack = stack().await;
    let unavailable = Receiver::start(|_, _| 503).await;
    let (id, _) = endpoint(&org, &unavailable.url, None).await;
    let (deliverer, queue) = stack
        .deliverer_with_own_queue(shared::webhooks::RetrySchedule::seconds(&[0, 0]))
        .await;
    let envelope = note_created();
    let delivery = shared::webhooks::Delivery::new(org.id, id, &envelope).unwrap();
    let sent = std::time::SystemTime::now();
    let first = deliverer
        .handle(batch(sqs_message(&delivery, sent, 1)))
        .await;
    assert!(
        first.batch_item_failures.is_empty(),
        "done with: the next attempt is a new message"
    );
    let retry = queue.next().await;
    assert_eq!(retry.attempts_before, 1);
    let last = deliverer
        .handle(batch(sqs_message(&retry, std::time::SystemTime::now(), 1)))
        .await;
    assert!(
        last.batch_item_failures.is_empty(),
        "done with: moved to the DLQ"
    );
    let log = stack.attempt_log(org.id, id, None).await;
    let outcomes: Vec<Outcome> = log.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, [Outcome::Retrying, Outcome::Failed]);
    // The retried attempt says when its next try is; the last one has none.
    let next = log[0]
        .next_attempt_at
        .expect("a retrying attempt has its next try");
    assert!(
        next >= log[0].created_at,
        "{next} before {}",
        log[0].created_at
    );
    assert_eq!(log[1].next_attempt_at, None);
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let dlq = stack.config.events_dlq_url.clone().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut found = false;
    while !found && Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            // Hidden a moment, so that the next receive reads the next ten: other tests'
            // deliveries (test pings that failed) share this queue.
            .visibility_timeout(5)
            .send()
            .await
            .unwrap();
        found = out
            .messages()
            .iter()
            .any(|m| m.body().is_some_and(|b| b.contains(&envelope.id)));
    }
    assert!(found, "the message is in the dead-letter queue");

    let gone = Receiver::start(|_, _| 410).await;
    let (gone_id, _) = endpoint(&org, &gone.url, None).await;
    let delivery = shared::webhooks::Delivery::new(org.id, gone_id, &envelope).unwrap();
    assert!(deliverer
        .handle(batch(sqs_message(
            &delivery,
            std::time::SystemTime::now(),
            1
        )))
        .await
        .batch_item_failures
        .is_empty());
    let endpoint = shared::webhooks::get(&stack.core().db, org.id, gone_id)
        .await
        .unwrap()
        .unwrap();
    assert!(endpoint.disabled_at.is_some());
    assert!(deliverer
        .handle(batch(sqs_message(
            &delivery,
            std::time::SystemTime::now(),
            1
        )))
        .await
        .batch_item_failures
        .is_empty());
    assert_eq!(
        gone.requests().len(),
        1,
        "nothing is sent to a disabled endpoint"
    );
}

/// Receives that sent nothing (the function failed before its POST, or crashed) do not use
/// up the retry schedule: attempts are counted from the attempt log, from when the message
/// was sent, so a replay (a new message) starts the schedule again.
#[tokio::test]
async fn only_attempts_made_count_towards_the_retry_schedule() {
    let org = growth_org().await;
    let stack = stack().await;
    let failing = Receiver::start(|_, _| 500).await;
    let (id, _) = endpoint(&org, &failing.url, None).await;
    let (deliverer, queue) = stack
        .deliverer_with_own_queue(shared::webhooks::RetrySchedule::seconds(&[0, 0]))
        .await;
    let envelope = note_created();
    let delivery = shared::webhooks::Delivery::new(org.id, id, &envelope).unwrap();
    let sent = std::time::SystemTime::now();
    // Received nine times before, and nothing was ever sent: this is attempt 1 of 2.
    let first = deliverer
        .handle(batch(sqs_message(&delivery, sent, 10)))
        .await;
    assert!(first.batch_item_failures.is_empty(), "attempt 2 is queued");
    assert_eq!(queue.next().await.attempts_before, 1);
    // The original message, received again (its retry's send had failed, say): the attempt
    // log since it was sent says this is attempt 2.
    let last = deliverer
        .handle(batch(sqs_message(&delivery, sent, 11)))
        .await;
    assert!(
        last.batch_item_failures.is_empty(),
        "attempt 2 was the last"
    );
    let attempts = stack.attempt_log(org.id, id, None).await;
    let numbered: Vec<(u32, Outcome)> = attempts.iter().map(|a| (a.attempt, a.outcome)).collect();
    assert_eq!(numbered, [(1, Outcome::Retrying), (2, Outcome::Failed)]);
    assert_eq!(failing.requests().len(), 2);
    // A replay is a new message: its schedule starts again. (SentTimestamp is in
    // milliseconds; a replay comes well after the attempts it repeats.)
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let replayed = deliverer
        .handle(batch(sqs_message(
            &delivery,
            std::time::SystemTime::now(),
            1,
        )))
        .await;
    assert!(replayed.batch_item_failures.is_empty());
    assert_eq!(
        queue.next().await.attempts_before,
        1,
        "attempt 1 of the replay was made"
    );
    assert_eq!(failing.requests().len(), 3);
}

/// SQS counts a message hidden after a receive as in flight, and past about 120,000 in
/// flight a queue gives its consumers nothing: a retry hours away waits as a delayed
/// message instead (at most 15 minutes at a time), which does not count.
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html>
#[tokio::test]
async fn a_retry_hours_away_waits_delayed_not_in_flight() {
    let org = growth_org().await;
    let stack = stack().await;
    let failing = Receiver::start(|_, _| 500).await;
    let (id, _) = endpoint(&org, &failing.url, None).await;
    let (deliverer, queue) = stack
        .deliverer_with_own_queue(shared::webhooks::RetrySchedule::seconds(&[0, 7200]))
        .await;
    let delivery = shared::webhooks::Delivery::new(org.id, id, &note_created()).unwrap();
    let reply = deliverer
        .handle(batch(sqs_message(
            &delivery,
            std::time::SystemTime::now(),
            1,
        )))
        .await;
    assert!(
        reply.batch_item_failures.is_empty(),
        "nothing left in flight"
    );
    assert_eq!(
        queue.delayed().await,
        1,
        "the retry waits as a delayed message"
    );

    // Received before it is due (as after 15 minutes): delayed again, nothing sent.
    let due = shared::clock::now().unix_timestamp() + 6300;
    let early = shared::webhooks::Delivery {
        attempts_before: 1,
        not_before: Some(due),
        ..delivery.clone()
    };
    let reply = deliverer
        .handle(batch(sqs_message(&early, std::time::SystemTime::now(), 1)))
        .await;
    assert!(reply.batch_item_failures.is_empty());
    assert_eq!(queue.delayed().await, 2);
    assert_eq!(failing.requests().len(), 1, "no attempt before it is due");

    // Due: the second attempt is made, and it was the schedule's last.
    let due_now = shared::webhooks::Delivery {
        not_before: Some(shared::clock::now().unix_timestamp()),
        ..early
    };
    deliverer
        .handle(batch(sqs_message(
            &due_now,
            std::time::SystemTime::now(),
            1,
        )))
        .await;
    assert_eq!(failing.requests().len(), 2);
    let numbered: Vec<(u32, Outcome)> = stack
        .attempt_log(org.id, id, None)
        .await
        .iter()
        .map(|a| (a.attempt, a.outcome))
        .collect();
    assert_eq!(numbered, [(1, Outcome::Retrying), (2, Outcome::Failed)]);
}

/// A retry is queued before the message it comes from is deleted. When that deletion is
/// missed (a batch that outran the timeout), the message comes back and queues a second
/// copy: only the first copy received goes on, also when it is received again, or
/// redriven from the dead-letter queue under a new SQS message id.
#[tokio::test]
async fn of_two_copies_of_a_retry_only_the_first_received_goes_on() {
    let org = growth_org().await;
    let stack = stack().await;
    let failing = Receiver::start(|_, _| 500).await;
    let (id, _) = endpoint(&org, &failing.url, None).await;
    let (deliverer, queue) = stack
        .deliverer_with_own_queue(shared::webhooks::RetrySchedule::seconds(&[0; 8]))
        .await;
    let delivery = shared::webhooks::Delivery::new(org.id, id, &note_created()).unwrap();
    let now = std::time::SystemTime::now;
    let first = sqs_message(&delivery, now(), 1);
    deliverer.handle(batch(first.clone())).await;
    let mut received_again = first;
    received_again
        .attributes
        .insert("ApproximateReceiveCount".into(), "2".into());
    deliverer.handle(batch(received_again)).await;
    assert_eq!(failing.requests().len(), 2);
    let (copy, twin) = (queue.next().await, queue.next().await);
    assert_eq!(copy.requeued_from, twin.requeued_from);
    assert!(copy.requeued_from.is_some());
    assert_ne!(copy.copy_id, twin.copy_id);

    let copy_message = sqs_message(&copy, now(), 1);
    let reply = deliverer.handle(batch(copy_message.clone())).await;
    assert!(reply.batch_item_failures.is_empty());
    assert_eq!(
        failing.requests().len(),
        3,
        "the first copy received is sent"
    );
    let reply = deliverer.handle(batch(sqs_message(&twin, now(), 1))).await;
    assert!(
        reply.batch_item_failures.is_empty(),
        "the twin is done with"
    );
    assert_eq!(failing.requests().len(), 3, "the twin is not sent");
    deliverer.handle(batch(copy_message)).await;
    assert_eq!(
        failing.requests().len(),
        4,
        "the copy, received again, goes on"
    );
    let redriven = sqs_message(&copy, now(), 1);
    deliverer.handle(batch(redriven)).await;
    assert_eq!(failing.requests().len(), 5, "the copy, redriven, goes on");
}
