//! The stream poller: the table's stream, read as the deployed event source mapping reads
//! it, invoking `fanout`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use serde_json::{json, Value};
use tokio::sync::watch;

use shared::domain::outbox::passes_stream_filter;

use super::{batch_item_failures, Invoker};

fn stream_item(
    map: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>,
) -> Option<Value> {
    let item = serde_dynamo::Item::from(map?.clone());
    serde_json::to_value(item).ok()
}

/// A stream record in the JSON shape Lambda hands to a DynamoDB stream consumer.
pub fn lambda_stream_record(record: &Record, stream_arn: &str, region: &str) -> Value {
    let data = record.dynamodb.as_ref();
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": data.and_then(|d| d.approximate_creation_date_time).map(|t| t.secs()),
        "Keys": stream_item(data.and_then(|d| d.keys.as_ref())).unwrap_or(json!({})),
        "SequenceNumber": data.and_then(|d| d.sequence_number.clone()),
        "SizeBytes": data.and_then(|d| d.size_bytes),
        "StreamViewType": data.and_then(|d| d.stream_view_type.as_ref()).map(|v| v.as_str().to_string()),
    });
    if let Some(image) = stream_item(data.and_then(|d| d.new_image.as_ref())) {
        dynamodb["NewImage"] = image;
    }
    if let Some(image) = stream_item(data.and_then(|d| d.old_image.as_ref())) {
        dynamodb["OldImage"] = image;
    }
    json!({
        "eventID": record.event_id,
        "eventName": record.event_name.as_ref().map(|n| n.as_str().to_string()),
        "eventVersion": record.event_version.clone().unwrap_or_else(|| "1.1".into()),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

/// How many times a failing stream record is retried before it is given up on: its
/// position goes to the failure queue, as the deployed mapping's on-failure destination.
const STREAM_MAX_RETRIES: u32 = 5;
/// Records read per shard and poll: the most `GetRecords` returns; and per invocation: the
/// template's `BatchSize`, counted after the filter, as Lambda counts them.
const STREAM_PAGE: i32 = 1000;
const STREAM_BATCH: usize = 100;

#[derive(Default)]
struct Shard {
    iterator: Option<String>,
    closed: bool,
    /// The record that failed last, and how many times in a row.
    failing: Option<(String, u32)>,
}

pub struct StreamPoller<I> {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub table: String,
    pub region: String,
    pub function: String,
    pub invoker: I,
    /// Where the last processed sequence number of each shard is kept across restarts.
    pub checkpoint_file: Option<PathBuf>,
    shards: HashMap<String, Shard>,
    checkpoints: HashMap<String, String>,
    stream_arn: Option<String>,
    /// Where shards present at start-up begin without a checkpoint; shards that appear
    /// later always begin at their start, so nothing written after start-up is missed.
    initial_position: ShardIteratorType,
    discovered: bool,
    failure_queue: Option<(aws_sdk_sqs::Client, String)>,
}

impl<I: Invoker> StreamPoller<I> {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: &str,
        region: &str,
        function: &str,
        invoker: I,
        checkpoint_file: Option<PathBuf>,
    ) -> Self {
        let checkpoints = checkpoint_file
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        Self {
            dynamodb,
            streams,
            table: table.into(),
            region: region.into(),
            function: function.into(),
            invoker,
            checkpoint_file,
            shards: HashMap::new(),
            checkpoints,
            stream_arn: None,
            initial_position: ShardIteratorType::TrimHorizon,
            discovered: false,
            failure_queue: None,
        }
    }

    /// Where records given up on are reported, like the mapping's `OnFailure` destination.
    pub fn with_failure_queue(mut self, sqs: aws_sdk_sqs::Client, queue_url: &str) -> Self {
        self.failure_queue = Some((sqs, queue_url.to_string()));
        self
    }

    /// Like an event source mapping with `StartingPosition: LATEST`.
    pub fn starting_at_latest(mut self) -> Self {
        self.initial_position = ShardIteratorType::Latest;
        self
    }

    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut last_error = None;
        loop {
            let outcome = self.poll_once().await.err();
            if outcome.is_some() && outcome != last_error {
                eprintln!("[stream poller] {}", outcome.as_deref().unwrap_or_default());
            }
            last_error = outcome;
            // Lambda polls each shard four times a second.
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    async fn discover(&mut self) -> Result<String, String> {
        let arn = match &self.stream_arn {
            Some(arn) => arn.clone(),
            None => {
                let out = self
                    .dynamodb
                    .describe_table()
                    .table_name(&self.table)
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "describe table: {}",
                            aws_sdk_dynamodb::error::DisplayErrorContext(e)
                        )
                    })?;
                let arn = out
                    .table
                    .and_then(|t| t.latest_stream_arn)
                    .ok_or("the table has no stream")?;
                self.stream_arn = Some(arn.clone());
                arn
            }
        };
        let mut start = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(&arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "describe stream: {}",
                        aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)
                    )
                })?;
            let Some(description) = out.stream_description else {
                break;
            };
            for shard in description.shards.unwrap_or_default() {
                let Some(id) = shard.shard_id else { continue };
                if !self.shards.contains_key(&id) {
                    let iterator = self.iterator(&arn, &id).await?;
                    self.shards.insert(
                        id,
                        Shard {
                            iterator: Some(iterator),
                            ..Shard::default()
                        },
                    );
                }
            }
            start = description.last_evaluated_shard_id;
            if start.is_none() {
                break;
            }
        }
        self.discovered = true;
        Ok(arn)
    }

    async fn iterator(&self, arn: &str, shard: &str) -> Result<String, String> {
        let after = self.checkpoints.get(shard);
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard);
        let request = match after {
            Some(seq) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
            None if !self.discovered => request.shard_iterator_type(self.initial_position.clone()),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        match request.send().await {
            Ok(out) => out
                .shard_iterator
                .ok_or_else(|| "no shard iterator".to_string()),
            // A checkpoint older than the stream's retention: start from what is left.
            Err(_) if after.is_some() => self
                .streams
                .get_shard_iterator()
                .stream_arn(arn)
                .shard_id(shard)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "shard iterator: {}",
                        aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)
                    )
                })?
                .shard_iterator
                .ok_or_else(|| "no shard iterator".to_string()),
            Err(e) => Err(format!(
                "shard iterator: {}",
                aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)
            )),
        }
    }

    /// Reads every open shard once and delivers what passes the filter. Returns how many
    /// records were delivered.
    pub async fn poll_once(&mut self) -> Result<usize, String> {
        let arn = self.discover().await?;
        let mut delivered = 0;
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in ids {
            delivered += self.poll_shard(&arn, &id).await?;
        }
        self.save_checkpoints();
        Ok(delivered)
    }

    async fn poll_shard(&mut self, arn: &str, id: &str) -> Result<usize, String> {
        let Some(iterator) = self.shards.get(id).and_then(|s| s.iterator.clone()) else {
            return Ok(0);
        };
        let out = self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(STREAM_PAGE)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "get records: {}",
                    aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)
                )
            })?;
        let records = out.records.unwrap_or_default();
        let events: Vec<Value> = records
            .iter()
            .map(|r| lambda_stream_record(r, arn, &self.region))
            .filter(passes_stream_filter)
            .collect();
        let mut retry_from = None;
        for batch in events.chunks(STREAM_BATCH) {
            retry_from = self.invoke_batch(batch).await;
            if retry_from.is_some() {
                break;
            }
        }
        if let Some(seq) = retry_from {
            self.retry_or_give_up(arn, id, &records, &seq).await?;
            return Ok(0);
        }
        let shard = self.shards.get_mut(id).expect("shard is tracked");
        shard.failing = None;
        shard.iterator = out.next_shard_iterator;
        shard.closed = shard.iterator.is_none();
        if let Some(seq) = records
            .last()
            .and_then(|r| r.dynamodb.as_ref()?.sequence_number.clone())
        {
            self.checkpoints.insert(id.to_string(), seq);
        }
        Ok(events.len())
    }

    /// After the record `seq` of `records` failed: the batches before it were delivered, so
    /// a restart goes on after them; the record is read again, or, once its own retries
    /// are spent, given up on, as the deployed mapping does.
    async fn retry_or_give_up(
        &mut self,
        arn: &str,
        id: &str,
        records: &[Record],
        seq: &str,
    ) -> Result<(), String> {
        let sequence = |r: &Record| r.dynamodb.as_ref()?.sequence_number.clone();
        let done = records
            .iter()
            .map_while(sequence)
            .take_while(|s| s != seq)
            .last();
        if let Some(done) = done {
            self.checkpoints.insert(id.to_string(), done);
        }
        let failing = &mut self.shards.get_mut(id).expect("shard is tracked").failing;
        let times = match failing.take() {
            Some((record, times)) if record == seq => times + 1,
            _ => 1,
        };
        let from = if times <= STREAM_MAX_RETRIES {
            *failing = Some((seq.to_string(), times));
            ShardIteratorType::AtSequenceNumber
        } else {
            // The deployed mapping bisects a failing batch down to the record that fails
            // (`BisectBatchOnFunctionError`), reports that record's position and goes on
            // after it.
            eprintln!("[stream poller] giving up on record {seq} of shard {id} after {STREAM_MAX_RETRIES} retries");
            self.report_failure(arn, id, seq).await?;
            self.checkpoints.insert(id.to_string(), seq.to_string());
            ShardIteratorType::AfterSequenceNumber
        };
        let iterator = self
            .streams
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(id)
            .shard_iterator_type(from)
            .sequence_number(seq)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "shard iterator: {}",
                    aws_sdk_dynamodbstreams::error::DisplayErrorContext(e)
                )
            })?;
        self.shards.get_mut(id).expect("shard is tracked").iterator = iterator.shard_iterator;
        Ok(())
    }

    /// Sends the record's position to the failure queue in the shape Lambda gives it.
    async fn report_failure(&self, arn: &str, shard: &str, seq: &str) -> Result<(), String> {
        let Some((sqs, queue_url)) = &self.failure_queue else {
            return Ok(());
        };
        let now = shared::clock::format(shared::clock::now());
        let body = json!({
            "requestContext": {
                "requestId": uuid::Uuid::new_v4().to_string(),
                "functionArn": format!("arn:aws:lambda:{}:000000000000:function:{}", self.region, self.function),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": STREAM_MAX_RETRIES + 1,
            },
            "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" },
            "version": "1.0",
            "timestamp": now,
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": seq,
                "endSequenceNumber": seq,
                "approximateArrivalOfFirstRecord": now,
                "approximateArrivalOfLastRecord": now,
                "batchSize": 1,
                "streamArn": arn,
            },
        });
        sqs.send_message()
            .queue_url(queue_url)
            .message_body(body.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "reporting a failed record: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                )
            })
    }

    /// Invokes the function with `events` (the filtered `records`), as the event source
    /// mapping would. Answers the sequence number to retry the batch from, if any record
    /// failed.
    async fn invoke_batch(&self, events: &[Value]) -> Option<String> {
        let sequence = |e: &Value| e["dynamodb"]["SequenceNumber"].as_str().map(str::to_string);
        match self
            .invoker
            .invoke(&self.function, json!({ "Records": events }))
            .await
        {
            Ok(response) => {
                let failed = batch_item_failures(&response);
                events
                    .iter()
                    .filter_map(sequence)
                    .find(|seq| failed.contains(seq))
            }
            Err(err) => {
                eprintln!("[stream poller] {err}");
                events.first().and_then(sequence)
            }
        }
    }

    fn save_checkpoints(&self) {
        if let Some(path) = &self.checkpoint_file {
            if let Ok(text) = serde_json::to_string(&self.checkpoints) {
                let _ = std::fs::write(path, text);
            }
        }
    }
}
