//! SDK interceptors that count what each request costs: DynamoDB calls, their summed
//! latency and consumed capacity (asked for on every call), and S3 and Secrets Manager
//! calls (the API functions have no SQS client).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::{BatchGetItemInput, BatchGetItemOutput},
    delete_item::{DeleteItemInput, DeleteItemOutput},
    get_item::{GetItemInput, GetItemOutput},
    put_item::{PutItemInput, PutItemOutput},
    query::{QueryInput, QueryOutput},
    transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput},
    update_item::{UpdateItemInput, UpdateItemOutput},
};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_types::config_bag::{Storable, StoreReplace};

#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub dynamodb_calls: u32,
    pub dynamodb_time: Duration,
    pub read_units: f64,
    pub write_units: f64,
    pub s3_calls: u32,
    pub secrets_calls: u32,
}

/// One meter per measured client set; requests are measured one at a time.
#[derive(Clone, Debug, Default)]
pub struct Meter(Arc<Mutex<Tally>>);

impl Meter {
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Debug)]
struct Sent(Instant);

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

/// A transaction's write units as DynamoDB bills them, computed from the request: DynamoDB
/// Local 3 under-reports transactions (amazon-dynamodb-local-samples#31).
#[derive(Debug)]
struct TransactionUnits(f64);

impl Storable for TransactionUnits {
    type Storer = StoreReplace<Self>;
}

/// Two write units per transaction item per started KB. A put's size is its item's; an
/// update, delete or condition check is counted as one KB, which the small counters and
/// markers these touch never exceed, while a contact or dossier update is the size of that
/// item: an estimate, from below, for those. Index writes as DynamoDB bills them: each
/// index whose key a put's item carries stores a copy (every index projects `ALL`), one
/// standard write unit per started KB; a put that moves the item within an index costs two
/// there (a delete and a put), counted as one.
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes>
fn transaction_units(input: &TransactWriteItemsInput) -> f64 {
    input
        .transact_items()
        .iter()
        .map(|item| match item.put() {
            Some(put) => {
                let kb = item_size(put.item()).div_ceil(1024).max(1) as f64;
                let indexes = INDEXES
                    .iter()
                    .filter(|index| put.item().contains_key(index.pk))
                    .count() as f64;
                2.0 * kb + indexes * kb
            }
            None => 2.0,
        })
        .sum()
}

/// The global secondary indexes.
const INDEXES: [shared::table::keys::Index; 5] = {
    use shared::table::keys::{GSI1, GSI2, GSI3, GSI4, GSI5};
    [GSI1, GSI2, GSI3, GSI4, GSI5]
};

/// DynamoDB's item size: attribute names plus values.
fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        _ => 0,
    }
}

#[derive(Clone, Debug)]
pub struct DynamoMeter(pub Meter);

fn units(consumed: Option<&ConsumedCapacity>) -> f64 {
    consumed.and_then(|c| c.capacity_units()).unwrap_or(0.0)
}

impl Intercept for DynamoMeter {
    fn name(&self) -> &'static str {
        "DynamoMeter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let total = Some(ReturnConsumedCapacity::Total);
        let input = context.input_mut();
        if let Some(i) = input.downcast_mut::<GetItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<QueryInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<BatchGetItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<PutItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<UpdateItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<DeleteItemInput>() {
            i.return_consumed_capacity = total;
        } else if let Some(i) = input.downcast_mut::<TransactWriteItemsInput>() {
            i.return_consumed_capacity = total;
            let units = transaction_units(i);
            cfg.interceptor_state().store_put(TransactionUnits(units));
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Sent(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let elapsed = cfg
            .load::<Sent>()
            .map(|s| s.0.elapsed())
            .unwrap_or_default();
        let (mut read, mut write) = (0.0, 0.0);
        if let Some(Ok(output)) = context.output_or_error() {
            if let Some(o) = output.downcast_ref::<GetItemOutput>() {
                read = units(o.consumed_capacity());
            } else if let Some(o) = output.downcast_ref::<QueryOutput>() {
                read = units(o.consumed_capacity());
            } else if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
                read = o.consumed_capacity().iter().map(|c| units(Some(c))).sum();
            } else if let Some(o) = output.downcast_ref::<PutItemOutput>() {
                write = units(o.consumed_capacity());
            } else if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
                write = units(o.consumed_capacity());
            } else if let Some(o) = output.downcast_ref::<DeleteItemOutput>() {
                write = units(o.consumed_capacity());
            } else if output.downcast_ref::<TransactWriteItemsOutput>().is_some() {
                write = cfg.load::<TransactionUnits>().map_or(0.0, |u| u.0);
            }
        }
        let mut tally = self.0 .0.lock().unwrap();
        tally.dynamodb_calls += 1;
        tally.dynamodb_time += elapsed;
        tally.read_units += read;
        tally.write_units += write;
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Service {
    S3,
    Secrets,
}

/// Counts the calls of one other AWS client.
#[derive(Clone, Debug)]
pub struct CallMeter(pub Meter, pub Service);

impl Intercept for CallMeter {
    fn name(&self) -> &'static str {
        "CallMeter"
    }

    fn read_before_execution(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut tally = self.0 .0.lock().unwrap();
        match self.1 {
            Service::S3 => tally.s3_calls += 1,
            Service::Secrets => tally.secrets_calls += 1,
        }
        Ok(())
    }
}
