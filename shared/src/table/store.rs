//! The handle on the single table, and the only code outside transactions ([`super::txn`])
//! that calls DynamoDB: typed and raw reads, conditional single-item writes, and one paging
//! helper that every query goes through (in [`super::query`], which reads through this).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeysAndAttributes, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::table::schema::{PK, SK};
use crate::ApiError;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct Db {
    client: aws_sdk_dynamodb::Client,
    pub table: String,
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Errors of the single-item writes that take a condition.
pub trait ConditionalWriteError {
    fn condition_failed(&self) -> bool;
}

macro_rules! conditional_write_error {
    ($($error:ty),*) => {$(
        impl ConditionalWriteError for $error {
            fn condition_failed(&self) -> bool {
                self.is_conditional_check_failed_exception()
            }
        }
    )*};
}

conditional_write_error!(
    aws_sdk_dynamodb::operation::put_item::PutItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError
);

/// Whether a conditional single-item write happened (`false`: its condition failed).
pub fn written<O, E, R>(
    result: Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, ApiError>
where
    E: ConditionalWriteError + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if err.as_service_error().is_some_and(|e| e.condition_failed()) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// Serializes `value` and adds its keys and entity name.
pub fn to_item<T: Serialize>(
    value: &T,
    pk: &str,
    sk: &str,
    entity: &str,
) -> Result<Item, ApiError> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    item.insert(PK.into(), s(pk));
    item.insert(SK.into(), s(sk));
    item.insert("entity".into(), s(entity));
    Ok(item)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, ApiError> {
    Ok(serde_dynamo::from_item(item)?)
}

/// A counter attribute of `item`: 0 when it is absent or not a number.
pub fn counter(item: &Item, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

pub fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

impl Db {
    /// Opens the client's connection (on AWS, its TLS session) before a request needs it,
    /// with a read of the nil organization's item, which never exists.
    pub async fn open_connection(&self) -> Result<(), ApiError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                &crate::table::keys::org_pk(uuid::Uuid::nil()),
                crate::table::keys::ORG_SK,
            )))
            .projection_expression(PK)
            .send()
            .await?;
        Ok(())
    }

    /// Every call through the handle counts towards its request's `DynamoDBCalls` metric.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        let config = client
            .config()
            .to_builder()
            .interceptor(crate::metrics::DynamoDbCallCounter)
            .build();
        Self {
            client: aws_sdk_dynamodb::Client::from_conf(config),
            table: table.into(),
        }
    }

    /// A handle that can build requests but not send them, for unit tests of what a
    /// transaction would write.
    #[cfg(test)]
    pub fn offline() -> Self {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        Self::new(aws_sdk_dynamodb::Client::from_conf(config), "t")
    }

    /// The item at `pk`/`sk`, read consistently, as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<T>, ApiError> {
        self.get_item(pk, sk).await?.map(from_item).transpose()
    }

    /// Every item of the table whose sort key is `sk` and that lacks `attribute`: a Scan of
    /// the whole table, for one-time upgrades run by operators, never for requests.
    pub async fn scan_for_missing(&self, sk: &str, attribute: &str) -> Result<Vec<Item>, ApiError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("SK = :sk AND attribute_not_exists(#missing)")
                .expression_attribute_names("#missing", attribute)
                .expression_attribute_values(":sk", s(sk))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            found.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// The item at `pk`/`sk`, read consistently, as stored; an expired one is gone.
    pub async fn get_item(&self, pk: &str, sk: &str) -> Result<Option<Item>, ApiError> {
        Ok(self.read_item(pk, sk, &[]).await?.0.filter(unexpired))
    }

    /// The named attributes of the item at `pk`/`sk`, read consistently, and the read
    /// capacity it cost.
    pub async fn read_item(
        &self,
        pk: &str,
        sk: &str,
        attributes: &[String],
    ) -> Result<(Option<Item>, f64), ApiError> {
        let mut request = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if !attributes.is_empty() {
            let placeholders: Vec<String> =
                (0..attributes.len()).map(|i| format!("#a{i}")).collect();
            request = request.projection_expression(placeholders.join(", "));
            for (placeholder, name) in placeholders.iter().zip(attributes) {
                request = request.expression_attribute_names(placeholder, name);
            }
        }
        let out = request.send().await?;
        let capacity = capacity(out.consumed_capacity());
        Ok((out.item, capacity))
    }

    /// The items at `keys` (any number), read consistently; missing ones are left out.
    pub async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, ApiError> {
        let mut found = Vec::new();
        let mut unprocessed = Unprocessed::default();
        for chunk in keys.chunks(100) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(ApiError::internal)?,
            );
            while let Some(pending) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await?;
                found.extend(
                    out.responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default()
                        .into_iter()
                        .filter(unexpired),
                );
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
                if request.is_some() {
                    unprocessed.wait().await?;
                }
            }
        }
        Ok(found)
    }

    /// Writes `item` unconditionally.
    pub async fn put_item(&self, item: Item) -> Result<(), ApiError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    /// Writes `items` unconditionally, 25 to a BatchWriteItem, retrying what DynamoDB
    /// leaves unprocessed. For bulk loads only (the benchmark's seeding): nothing ties the
    /// items together.
    pub async fn put_all(&self, items: Vec<Item>) -> Result<(), ApiError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut unprocessed = Unprocessed::default();
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(|e| ApiError::internal(format!("put request: {e}")))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<_, ApiError>>()?;
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    unprocessed.wait().await?;
                }
            }
        }
        Ok(())
    }

    /// Writes `item` if `condition` holds; otherwise answers the item that stopped it.
    pub async fn put_if(
        &self,
        item: Item,
        condition: &Expression<'_>,
    ) -> Result<Result<(), Option<Item>>, ApiError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition.text)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (placeholder, name) in condition.names {
            put = put.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in &condition.values {
            put = put.expression_attribute_values(*placeholder, value.clone());
        }
        match put.send().await {
            Ok(_) => Ok(Ok(())),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(e) => Ok(Err(e.item)),
                other => Err(ApiError::internal(format!("put: {other}"))),
            },
        }
    }

    /// Applies `update` to the item at `pk`/`sk` if its condition holds. Answers the item
    /// as it is after the update, or (when the condition failed) as it was, if it exists.
    pub async fn update_if(
        &self,
        pk: &str,
        sk: &str,
        update: &Expression<'_>,
        condition: Option<&str>,
    ) -> Result<Result<Item, Option<Item>>, ApiError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(update.text)
            .set_condition_expression(condition.map(str::to_string))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (placeholder, name) in update.names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in &update.values {
            request = request.expression_attribute_values(*placeholder, value.clone());
        }
        // A write to an item a transaction is writing at that moment (an API key's count
        // while a plan change stamps the key) is refused, not queued: try again shortly.
        let mut conflicts = 0;
        loop {
            match request.clone().send().await {
                Ok(out) => return Ok(Ok(out.attributes.unwrap_or_default())),
                Err(err) => match err.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(e) => return Ok(Err(e.item)),
                    UpdateItemError::TransactionConflictException(_)
                        if conflicts < MAX_TRANSACTION_CONFLICTS =>
                    {
                        conflicts += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(10 << conflicts)).await;
                    }
                    other => return Err(ApiError::internal(format!("update: {other}"))),
                },
            }
        }
    }

    /// Deletes the item at `pk`/`sk` if `condition` holds; `false` if it did not.
    pub async fn delete_if(
        &self,
        pk: &str,
        sk: &str,
        condition: &Expression<'_>,
    ) -> Result<bool, ApiError> {
        let mut request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .condition_expression(condition.text);
        for (placeholder, name) in condition.names {
            request = request.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in &condition.values {
            request = request.expression_attribute_values(*placeholder, value.clone());
        }
        written(request.send().await)
    }

    pub(super) fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }
}

/// An expression with its placeholders: a condition, or an update's `SET`/`ADD` clauses.
#[derive(Debug, Default)]
pub struct Expression<'a> {
    pub text: &'a str,
    pub names: &'a [(&'a str, &'a str)],
    pub values: Vec<(&'a str, AttributeValue)>,
}

pub(super) fn capacity(consumed: Option<&ConsumedCapacity>) -> f64 {
    consumed.and_then(|c| c.capacity_units()).unwrap_or(0.0)
}

/// Whether an item is still live: TTL deletes items up to a few days after their expiry,
/// so one past its `expires_at_epoch` is treated as already gone.
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html>
pub fn unexpired(item: &Item) -> bool {
    match item.get(crate::table::schema::TTL_ATTRIBUTE) {
        Some(AttributeValue::N(at)) => at
            .parse::<i64>()
            .map_or(true, |at| at >= crate::clock::now().unix_timestamp()),
        _ => true,
    }
}

/// The waits between requests for what a batch call left unprocessed: DynamoDB leaves items
/// unprocessed when a partition is throttled, and asking again at once only adds to it.
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/programming-with-retries.html>
#[derive(Default)]
struct Unprocessed {
    waits: u32,
}

/// How often a single write meets an in-flight transaction before it gives up (waiting
/// 20, 40, 80 and 160 ms in between).
const MAX_TRANSACTION_CONFLICTS: u32 = 4;

/// Past this many waits (about 5 s in all) the batch call gives up.
const MAX_UNPROCESSED_WAITS: u32 = 8;

impl Unprocessed {
    async fn wait(&mut self) -> Result<(), ApiError> {
        use rand::Rng;
        if self.waits >= MAX_UNPROCESSED_WAITS {
            return Err(ApiError::internal(
                "DynamoDB kept leaving part of a batch unprocessed",
            ));
        }
        let ceiling = 25u64 << self.waits.min(6);
        let millis = rand::thread_rng().gen_range(ceiling / 2..=ceiling);
        self.waits += 1;
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
        Ok(())
    }
}
