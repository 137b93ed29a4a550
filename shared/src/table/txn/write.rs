//! The writes a transaction is made of, as values: built without a client, turned into
//! the SDK's items only when the transaction runs.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use crate::table::store::{key, Item};

/// A condition with its placeholders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Condition {
    pub text: String,
    pub names: Vec<(String, String)>,
    pub values: Vec<(String, AttributeValue)>,
}

impl Condition {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            ..Self::default()
        }
    }

    /// The item is at `version`, or (for 0) does not exist yet.
    pub fn version(version: u64) -> Self {
        if version == 0 {
            return Self::new("attribute_not_exists(PK)");
        }
        Self::at_version(version)
    }

    /// The item exists at `version`.
    pub fn at_version(version: u64) -> Self {
        Self {
            values: vec![(
                ":expected_version".into(),
                AttributeValue::N(version.to_string()),
            )],
            ..Self::new("version = :expected_version")
        }
    }
}

impl From<&crate::table::store::Expression<'_>> for Condition {
    fn from(expression: &crate::table::store::Expression<'_>) -> Self {
        Self {
            text: expression.text.to_string(),
            names: expression
                .names
                .iter()
                .map(|(placeholder, name)| (placeholder.to_string(), name.to_string()))
                .collect(),
            values: expression
                .values
                .iter()
                .map(|(placeholder, value)| (placeholder.to_string(), value.clone()))
                .collect(),
        }
    }
}

/// One write of a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Delete {
        pk: String,
        sk: String,
        condition: Option<Condition>,
    },
    /// Fails the transaction unless the item meets the condition, writing nothing.
    Check {
        pk: String,
        sk: String,
        condition: Condition,
    },
    Update(UpdateSpec),
}

pub fn put(item: Item, condition: Option<&str>) -> Write {
    Write::Put {
        item,
        condition: condition.map(Condition::new),
    }
}

/// A put under a condition with placeholders of its own.
pub fn put_when(item: Item, condition: &crate::table::store::Expression<'_>) -> Write {
    Write::Put {
        item,
        condition: Some(condition.into()),
    }
}

/// A put that must replace exactly the version it was computed from (or create a new item
/// when `version` is 0).
pub fn put_versioned(item: Item, version: u64) -> Write {
    Write::Put {
        item,
        condition: Some(Condition::version(version)),
    }
}

pub fn delete(pk: &str, sk: &str, condition: Option<&str>) -> Write {
    Write::Delete {
        pk: pk.to_string(),
        sk: sk.to_string(),
        condition: condition.map(Condition::new),
    }
}

/// A delete that must remove exactly the version it was decided on.
pub fn delete_versioned(pk: &str, sk: &str, version: u64) -> Write {
    Write::Delete {
        pk: pk.to_string(),
        sk: sk.to_string(),
        condition: Some(Condition::at_version(version)),
    }
}

pub fn exists(pk: &str, sk: &str) -> Write {
    check(pk, sk, Condition::new("attribute_exists(PK)"))
}

/// Fails the transaction unless the item meets `condition`, without writing it.
pub fn check(pk: &str, sk: &str, condition: Condition) -> Write {
    Write::Check {
        pk: pk.to_string(),
        sk: sk.to_string(),
        condition,
    }
}

/// Fails the transaction unless the item is still at `version`, without writing it.
pub fn version_is(pk: &str, sk: &str, version: u64) -> Write {
    check(pk, sk, Condition::at_version(version))
}

/// An update built from an expression and its placeholders.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateSpec {
    pub pk: String,
    pub sk: String,
    pub expression: String,
    pub condition: Option<String>,
    pub names: Vec<(String, String)>,
    pub values: Vec<(String, AttributeValue)>,
}

pub fn update(spec: UpdateSpec) -> Write {
    Write::Update(spec)
}

impl Write {
    pub(super) fn into_sdk(self, table: &str) -> TransactWriteItem {
        let builder = TransactWriteItem::builder();
        match self {
            Write::Put { item, condition } => {
                let condition = condition.unwrap_or_default();
                let put = Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .set_condition_expression(
                        (!condition.text.is_empty()).then_some(condition.text),
                    )
                    .set_expression_attribute_names(placeholders(condition.names))
                    .set_expression_attribute_values(placeholders(condition.values));
                builder.put(put.build().expect("put has table and item"))
            }
            Write::Delete { pk, sk, condition } => {
                let condition = condition.unwrap_or_default();
                let delete = Delete::builder()
                    .table_name(table)
                    .set_key(Some(key(&pk, &sk)))
                    .set_condition_expression(
                        (!condition.text.is_empty()).then_some(condition.text),
                    )
                    .set_expression_attribute_names(placeholders(condition.names))
                    .set_expression_attribute_values(placeholders(condition.values));
                builder.delete(delete.build().expect("delete has table and key"))
            }
            Write::Check { pk, sk, condition } => {
                let check = ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key(&pk, &sk)))
                    .condition_expression(condition.text)
                    .set_expression_attribute_names(placeholders(condition.names))
                    .set_expression_attribute_values(placeholders(condition.values));
                builder.condition_check(
                    check
                        .build()
                        .expect("condition check has table, key and condition"),
                )
            }
            Write::Update(spec) => {
                let update = Update::builder()
                    .table_name(table)
                    .set_key(Some(key(&spec.pk, &spec.sk)))
                    .update_expression(spec.expression)
                    .set_condition_expression(spec.condition)
                    .set_expression_attribute_names(placeholders(spec.names))
                    .set_expression_attribute_values(placeholders(spec.values));
                builder.update(
                    update
                        .build()
                        .expect("update has table, key and expression"),
                )
            }
        }
        .build()
    }
}

/// An expression's placeholders as the SDK takes them (none: not set at all, which
/// DynamoDB requires of an empty map).
fn placeholders<V>(pairs: Vec<(String, V)>) -> Option<std::collections::HashMap<String, V>> {
    (!pairs.is_empty()).then(|| pairs.into_iter().collect())
}
