//! A thin handle on the single table: typed get, put and prefix queries over serde items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::table::schema::{PK, SK};
use crate::ApiError;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct Db {
    pub client: aws_sdk_dynamodb::Client,
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

    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<T>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await?;
        out.item.map(from_item).transpose()
    }

    /// Every item of a global secondary index partition.
    pub async fn query_index<T: DeserializeOwned>(
        &self,
        index: &str,
        pk_attribute: &str,
        value: &str,
    ) -> Result<Vec<T>, ApiError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attribute)
            .expression_attribute_values(":pk", s(value));
        all_pages(query).await
    }

    /// Every item under `pk` whose sort key starts with `prefix`, in sort-key order.
    pub async fn query_prefix<T: DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
    ) -> Result<Vec<T>, ApiError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        all_pages(query).await
    }
}

/// Runs `query` page after page and deserializes every item it returns.
async fn all_pages<T: DeserializeOwned>(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
) -> Result<Vec<T>, ApiError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = query.clone().set_exclusive_start_key(start).send().await?;
        for item in out.items.unwrap_or_default() {
            items.push(from_item(item)?);
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}
