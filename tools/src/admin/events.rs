//! `leadgrid-admin events redrive`: domain events the stream consumer gave up on, fanned
//! out again.
//!
//! After its retries, the stream's event source mapping sends a record's *position* to the
//! stream failure queue (`DDBStreamBatchInfo`: shard and sequence numbers), not the record.
//! The redrive reads those positions back from the stream (it keeps records for 24 hours),
//! re-reads each outbox item they point to, and fans its event out through the same code as
//! the `fanout` function. A redriven outbox item is marked, so redriving the same positions
//! again sends nothing twice. A queue message is deleted only once every event it points to
//! is fanned out, was already redriven, or has left the outbox (`EventRetentionDays`).

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::{OperationType, Record, ShardIteratorType};
use serde::{Deserialize, Serialize};
use shared::domain::outbox::{self, OUTBOX_PREFIX};
use shared::webhooks::fanout::Fanout;

use super::{Admin, AdminError, AdminResult};

/// What the event source mapping sends to its on-failure destination, as far as we read it.
#[derive(Debug, Deserialize)]
pub struct FailureRecord {
    #[serde(rename = "DDBStreamBatchInfo")]
    pub batch: BatchInfo,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub stream_arn: String,
}

#[derive(Debug, Default, Serialize)]
pub struct RedriveReport {
    /// Failure-queue messages read, and deleted because everything they point to is done.
    pub messages: usize,
    pub messages_done: usize,
    /// Events fanned out by this run, with the number of deliveries queued for each.
    pub redriven: Vec<RedrivenEvent>,
    /// Events an earlier redrive had already fanned out.
    pub already_redriven: Vec<String>,
    /// Outbox items past their retention, which no redrive can send.
    pub expired: usize,
    /// Messages left in the queue (they come back after its visibility timeout), and why.
    pub kept: Vec<KeptMessage>,
}

#[derive(Debug, Serialize)]
pub struct RedrivenEvent {
    pub event_id: String,
    pub queued: usize,
}

#[derive(Debug, Serialize)]
pub struct KeptMessage {
    pub message_id: String,
    pub reason: String,
}

/// Empty reads of an open shard before the range's end counts as not reached: DynamoDB
/// Streams may answer empty pages before records that exist.
const MOST_EMPTY_READS: u32 = 5;
/// Long enough for one run to finish its messages before SQS shows them again.
const VISIBILITY_SECONDS: i32 = 300;

/// `a` comes after `b` in a shard (sequence numbers are decimal strings of any length).
fn after(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

pub struct Redrive<'a> {
    pub admin: &'a Admin,
    pub streams: &'a aws_sdk_dynamodbstreams::Client,
    pub sqs: &'a aws_sdk_sqs::Client,
    pub failure_queue_url: &'a str,
    pub events_queue_url: &'a str,
}

impl Redrive<'_> {
    pub async fn run(&self) -> AdminResult<RedriveReport> {
        let fanout = Fanout {
            db: self.admin.db.clone(),
            sqs: self.sqs.clone(),
            queue_url: self.events_queue_url.to_string(),
        };
        let mut endpoints = HashMap::new();
        let mut report = RedriveReport::default();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(self.failure_queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(VISIBILITY_SECONDS)
                .send()
                .await
                .map_err(|e| {
                    AdminError(format!(
                        "reading the stream failure queue: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    ))
                })?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(report);
            }
            for message in messages {
                report.messages += 1;
                let id = message.message_id.clone().unwrap_or_default();
                match self
                    .redrive_message(&message, &fanout, &mut endpoints, &mut report)
                    .await
                {
                    Ok(()) => {
                        self.delete(&message).await?;
                        report.messages_done += 1;
                    }
                    Err(reason) => report.kept.push(KeptMessage {
                        message_id: id,
                        reason,
                    }),
                }
            }
        }
    }

    async fn redrive_message(
        &self,
        message: &aws_sdk_sqs::types::Message,
        fanout: &Fanout,
        endpoints: &mut HashMap<uuid::Uuid, Vec<shared::webhooks::Endpoint>>,
        report: &mut RedriveReport,
    ) -> Result<(), String> {
        let failure: FailureRecord = serde_json::from_str(message.body().unwrap_or_default())
            .map_err(|e| format!("not a stream failure record: {e}"))?;
        for record in self.records(&failure.batch).await? {
            let Some((pk, sk)) = outbox_keys(&record) else {
                continue;
            };
            let Some(found) = outbox::find(&self.admin.db, &pk, &sk)
                .await
                .map_err(|e| e.to_string())?
            else {
                report.expired += 1;
                continue;
            };
            if found.already_redriven {
                report.already_redriven.push(found.envelope.id);
                continue;
            }
            let queued = fanout
                .fan_out(found.org, &found.envelope, endpoints)
                .await
                .map_err(|e| format!("fanning out {}: {e}", found.envelope.id))?;
            outbox::mark_redriven(&self.admin.db, &pk, &sk, shared::clock::now())
                .await
                .map_err(|e| e.to_string())?;
            report.redriven.push(RedrivenEvent {
                event_id: found.envelope.id,
                queued,
            });
        }
        Ok(())
    }

    /// The stream records from the batch's first sequence number to its last.
    async fn records(&self, batch: &BatchInfo) -> Result<Vec<Record>, String> {
        let streams_error = |what: &str, e: &dyn std::fmt::Display| {
            format!(
                "{what} of shard {} at {}: {e} (the stream keeps records for 24 hours)",
                batch.shard_id, batch.start_sequence_number
            )
        };
        let mut iterator = self
            .streams
            .get_shard_iterator()
            .stream_arn(&batch.stream_arn)
            .shard_id(&batch.shard_id)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(&batch.start_sequence_number)
            .send()
            .await
            .map_err(|e| {
                streams_error(
                    "reading",
                    &aws_sdk_dynamodbstreams::error::DisplayErrorContext(e),
                )
            })?
            .shard_iterator;
        let mut records = Vec::new();
        let mut empty_reads = 0;
        while let Some(current) = iterator {
            let page = self
                .streams
                .get_records()
                .shard_iterator(current)
                .send()
                .await
                .map_err(|e| {
                    streams_error(
                        "reading",
                        &aws_sdk_dynamodbstreams::error::DisplayErrorContext(e),
                    )
                })?;
            let page_records = page.records.unwrap_or_default();
            empty_reads = if page_records.is_empty() {
                empty_reads + 1
            } else {
                0
            };
            if take_until(&mut records, page_records, &batch.end_sequence_number) {
                return Ok(records);
            }
            if empty_reads >= MOST_EMPTY_READS {
                return Err(streams_error(
                    "reaching the end",
                    &format!("no record up to {}", batch.end_sequence_number),
                ));
            }
            iterator = page.next_shard_iterator;
        }
        // The shard is closed and read to its end.
        Ok(records)
    }

    async fn delete(&self, message: &aws_sdk_sqs::types::Message) -> AdminResult<()> {
        self.sqs
            .delete_message()
            .queue_url(self.failure_queue_url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                AdminError(format!(
                    "deleting a redriven message: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                ))
            })
    }
}

/// Appends `page`'s records up to the one numbered `end`; answers whether `end` was reached.
/// The range's last record may be the shard's last so far: reaching it ends the read, since
/// an open shard answers empty pages after it, not an end.
fn take_until(records: &mut Vec<Record>, page: Vec<Record>, end: &str) -> bool {
    for record in page {
        let sequence = record
            .dynamodb
            .as_ref()
            .and_then(|d| d.sequence_number.clone())
            .unwrap_or_default();
        if after(&sequence, end) {
            return true;
        }
        records.push(record);
        if sequence == end {
            return true;
        }
    }
    false
}

/// The keys of an outbox insert, the only records the `fanout` function is handed.
fn outbox_keys(record: &Record) -> Option<(String, String)> {
    if record.event_name != Some(OperationType::Insert) {
        return None;
    }
    let keys = record.dynamodb.as_ref()?.keys.as_ref()?;
    let text = |name: &str| keys.get(name)?.as_s().ok().cloned();
    let (pk, sk) = (text("PK")?, text("SK")?);
    sk.starts_with(OUTBOX_PREFIX).then_some((pk, sk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(after("1000", "999"));
        assert!(!after("999", "1000"));
        assert!(!after("42", "42"));
        assert!(after("43", "42"));
    }

    fn record(sequence: &str) -> Record {
        Record::builder()
            .dynamodb(
                aws_sdk_dynamodbstreams::types::StreamRecord::builder()
                    .sequence_number(sequence)
                    .build(),
            )
            .build()
    }

    fn sequences(records: &[Record]) -> Vec<&str> {
        records
            .iter()
            .filter_map(|r| r.dynamodb.as_ref()?.sequence_number.as_deref())
            .collect()
    }

    /// The demonstration found this: a range ending at the shard's newest record read
    /// five empty pages after it and gave up.
    #[test]
    fn a_range_ends_at_its_last_record_even_when_nothing_follows_it() {
        let mut records = Vec::new();
        assert!(!take_until(
            &mut records,
            vec![record("19"), record("20")],
            "21"
        ));
        assert!(take_until(&mut records, vec![record("21")], "21"));
        assert_eq!(sequences(&records), ["19", "20", "21"]);
        let mut records = Vec::new();
        assert!(take_until(
            &mut records,
            vec![record("8"), record("100")],
            "99"
        ));
        assert_eq!(sequences(&records), ["8"]);
    }

    #[test]
    fn reads_the_failure_record_lambda_sends() {
        let body = r#"{"requestContext":{"requestId":"r","functionArn":"arn:aws:lambda:eu-west-1:1:function:f","condition":"RetryAttemptsExhausted","approximateInvokeCount":11},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2026-12-06T03:00:00.000Z","DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"100","endSequenceNumber":"200","approximateArrivalOfFirstRecord":"2026-12-06T02:59:00Z","approximateArrivalOfLastRecord":"2026-12-06T02:59:01Z","batchSize":2,"streamArn":"arn:aws:dynamodb:eu-west-1:1:table/t/stream/x"}}"#;
        let record: FailureRecord = serde_json::from_str(body).unwrap();
        assert_eq!(record.batch.start_sequence_number, "100");
        assert_eq!(record.batch.end_sequence_number, "200");
        assert_eq!(record.batch.shard_id, "shardId-1");
    }
}
