//! Creates the stack's AWS resources, each only if it is missing, so that restarting the
//! stack (moto keeps nothing across restarts) never breaks existing data or API keys.

use std::time::Duration;

use aws_sdk_dynamodb::types::{TableStatus, TimeToLiveSpecification};

use shared::table::schema as table;

pub const REGION: &str = "us-east-1";
/// DynamoDB Local accepts only letters and digits in access key ids.
pub const ACCESS_KEY_ID: &str = "leadgridlocal";
pub const SECRET_ACCESS_KEY: &str = "leadgridlocal";
pub const TABLE_NAME: &str = "leadgrid";
pub const CV_BUCKET: &str = "leadgrid-cvs";
pub const EVENTS_QUEUE: &str = "leadgrid-events";
pub const EVENTS_DLQ: &str = "leadgrid-events-dlq";
/// The slow lane of webhook deliveries (template.yaml's SlowDeliveriesQueue).
pub const SLOW_DELIVERIES_QUEUE: &str = "leadgrid-slow-deliveries";
pub const STREAM_FAILURE_QUEUE: &str = "leadgrid-stream-failures";
pub const API_KEY_SECRET_ID: &str = "leadgrid/api-keys";
pub const WEBHOOK_SECRET_ID: &str = "leadgrid/webhooks";
/// Deliveries a message gets before SQS moves it to the dead-letter queue. Above any retry
/// schedule the tests use: the delivery function moves a message there itself after its
/// schedule's last attempt, and this only catches messages that crash it.
pub const MAX_RECEIVE_COUNT: u32 = 20;
pub const QUEUE_VISIBILITY_SECONDS: u32 = 60;

pub struct Created {
    pub queue_url: String,
    pub slow_queue_url: String,
    pub dlq_url: String,
    pub stream_failure_url: String,
}

pub async fn ensure_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
    let exists = client.describe_table().table_name(name).send().await;
    if let Ok(existing) = &exists {
        add_missing_indexes(client, name, existing).await?;
    } else {
        let def = table::definition();
        client
            .create_table()
            .table_name(name)
            .set_attribute_definitions(Some(def.attributes))
            .set_key_schema(Some(def.keys))
            .set_global_secondary_indexes(Some(def.indexes))
            .stream_specification(def.stream)
            .billing_mode(def.billing)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "creating table {name}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
    }
    for _ in 0..100 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "describing table {name}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ttl = client.describe_time_to_live().table_name(name).send().await;
    let enabled = ttl
        .ok()
        .and_then(|out| out.time_to_live_description)
        .and_then(|d| d.attribute_name)
        .is_some_and(|attr| attr == table::TTL_ATTRIBUTE);
    if !enabled {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(table::TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| {
                format!(
                    "enabling TTL: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
    }
    Ok(())
}

/// A table made by an older version gains the indexes added since, one at a time as
/// DynamoDB requires.
async fn add_missing_indexes(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    existing: &aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput,
) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{CreateGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate};
    let present: Vec<&str> = existing
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|index| index.index_name())
        .collect();
    let def = table::definition();
    for index in def
        .indexes
        .iter()
        .filter(|i| !present.contains(&i.index_name()))
    {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(index.index_name())
            .set_key_schema(Some(index.key_schema().to_vec()))
            .set_projection(index.projection().cloned())
            .build()
            .map_err(|e| e.to_string())?;
        client
            .update_table()
            .table_name(name)
            .set_attribute_definitions(Some(def.attributes.clone()))
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder().create(create).build(),
            )
            .send()
            .await
            .map_err(|e| {
                format!(
                    "adding index {}: {}",
                    index.index_name(),
                    super::describe(e)
                )
            })?;
    }
    Ok(())
}

pub async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), String> {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let describe = |what: &str, e: &dyn std::fmt::Display| format!("{what} {bucket}: {e}");
    if client.head_bucket().bucket(bucket).send().await.is_err() {
        client
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| {
                describe(
                    "creating bucket",
                    &aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })?;
    }
    // Versioned, as the template's bucket is, so that erasing a CV is tried against every
    // version it leaves.
    client
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            describe(
                "versioning bucket",
                &aws_sdk_s3::error::DisplayErrorContext(e),
            )
        })
}

pub async fn ensure_queues(client: &aws_sdk_sqs::Client) -> Result<Created, String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dlq_url = client
        .create_queue()
        .queue_name(EVENTS_DLQ)
        .send()
        .await
        .map_err(|e| format!("SQS: {}", super::describe(e)))?
        .queue_url
        .ok_or("SQS returned no dead-letter queue URL")?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| format!("SQS: {}", super::describe(e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or("SQS returned no dead-letter queue ARN")?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
    });
    let mut lanes = Vec::new();
    for name in [EVENTS_QUEUE, SLOW_DELIVERIES_QUEUE] {
        let url = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                QUEUE_VISIBILITY_SECONDS.to_string(),
            )
            .send()
            .await
            .map_err(|e| format!("SQS: {}", super::describe(e)))?
            .queue_url
            .ok_or("SQS returned no queue URL")?;
        lanes.push(url);
    }
    let [queue_url, slow_queue_url] = <[String; 2]>::try_from(lanes).expect("two lanes");
    let stream_failure_url = client
        .create_queue()
        .queue_name(STREAM_FAILURE_QUEUE)
        .send()
        .await
        .map_err(|e| format!("SQS: {}", super::describe(e)))?
        .queue_url
        .ok_or("SQS returned no stream failure queue URL")?;
    Ok(Created {
        queue_url,
        slow_queue_url,
        dlq_url,
        stream_failure_url,
    })
}

/// Creates a secret with `secret_string` unless it exists. Locally the value
/// is kept on disk by the caller, so a restarted moto gets the same pepper back.
pub async fn ensure_secret(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    secret_string: &str,
) -> Result<(), String> {
    if client.describe_secret().secret_id(id).send().await.is_ok() {
        return Ok(());
    }
    client
        .create_secret()
        .name(id)
        .secret_string(secret_string)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "creating secret {id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })
}

/// A fresh `{"root_key": …}` secret string: 48 random bytes, hex-encoded.
pub fn new_secret_string() -> String {
    use rand::RngCore;
    let mut raw = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    serde_json::json!({ shared::secrets::ROOT_KEY_FIELD: hex::encode(raw) }).to_string()
}
