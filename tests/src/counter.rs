//! Counting a client's DynamoDB calls and the items they read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use shared::web::Core;

use crate::Stack;

/// Counts the DynamoDB calls made through a client, as the SDK sends them, and the items
/// they read (what a Query examined, what a GetItem or BatchGetItem returned).
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    calls: Arc<AtomicUsize>,
    items: Arc<AtomicUsize>,
}

impl aws_sdk_dynamodb::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef<
            '_,
        >,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemOutput, get_item::GetItemOutput, query::QueryOutput,
        };
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let read = if let Some(query) = output.downcast_ref::<QueryOutput>() {
            query.scanned_count() as usize
        } else if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            usize::from(get.item().is_some())
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            batch
                .responses()
                .map(|r| r.values().map(Vec::len).sum())
                .unwrap_or(0)
        } else {
            0
        };
        self.items.fetch_add(read, Ordering::SeqCst);
        Ok(())
    }
}

impl CallCounter {
    /// The calls made since the last `take`.
    pub fn take(&self) -> usize {
        self.items.store(0, Ordering::SeqCst);
        self.calls.swap(0, Ordering::SeqCst)
    }

    /// The items read since the last `take` or `take_items`.
    pub fn take_items(&self) -> usize {
        self.items.swap(0, Ordering::SeqCst)
    }
}

impl Stack {
    /// A `Core` whose DynamoDB calls are counted.
    pub fn counted_core(&self) -> (Core, CallCounter) {
        let counter = CallCounter::default();
        let conf = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .interceptor(counter.clone())
            .build();
        let mut core = self.core();
        core.db = shared::table::store::Db::new(
            aws_sdk_dynamodb::Client::from_conf(conf),
            &self.config.table_name,
        );
        (core, counter)
    }
}
