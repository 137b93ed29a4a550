//! Which items a query reads (a partition of the table or an index, and a range of its
//! sort keys), and the pages it reads them in.

use aws_sdk_dynamodb::types::ReturnConsumedCapacity;

use super::keys::Index;
use super::schema::{PK, SK};
use super::store::{capacity, from_item, s, unexpired, Db, Item};
use crate::ApiError;
use serde::de::DeserializeOwned;

/// Which sort keys of the partition a query reads.
#[derive(Clone, Debug)]
pub enum SortKey {
    Any,
    BeginsWith(String),
    Between(String, String),
    Below(String),
    Above(String),
}

/// Sorts above every character a key can hold after a prefix, so that the keys beginning
/// with a prefix are those from the prefix up to the prefix followed by this: U+10FFFF is
/// the last code point (and a noncharacter, never part of a key).
const PAST_EVERY_KEY: char = '\u{10FFFF}';

/// One partition of the table or of an index, and the sort keys to read in it.
#[derive(Clone, Debug)]
pub struct Query {
    index: Option<Index>,
    pk: String,
    sort: SortKey,
    newest_first: bool,
    consistent: bool,
}

impl Query {
    /// A partition of the table, read consistently.
    pub fn table(pk: &str) -> Self {
        Self {
            index: None,
            pk: pk.to_string(),
            sort: SortKey::Any,
            newest_first: false,
            consistent: true,
        }
    }

    /// A partition of an index (eventually consistent, as every GSI is).
    pub fn index(index: Index, pk: &str) -> Self {
        Self {
            index: Some(index),
            consistent: false,
            ..Self::table(pk)
        }
    }

    /// Reads the table at half the cost, possibly missing a write of the last second.
    pub fn eventually_consistent(self) -> Self {
        Self {
            consistent: false,
            ..self
        }
    }

    pub fn sort(self, sort: SortKey) -> Self {
        Self { sort, ..self }
    }

    pub fn newest_first(self) -> Self {
        Self {
            newest_first: true,
            ..self
        }
    }
}

/// The pages of one query, and the read capacity they cost so far.
pub struct Pages<'a> {
    db: &'a Db,
    query: Query,
    start: Option<Item>,
    done: bool,
    pub capacity: f64,
}

impl<'a> Pages<'a> {
    pub(super) fn new(db: &'a Db, query: Query) -> Self {
        Self {
            db,
            query,
            start: None,
            done: false,
            capacity: 0.0,
        }
    }

    /// Whether the last page has been read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next page, of at most `limit` items (DynamoDB's 1 MB otherwise); `None` after
    /// the last.
    pub async fn next(&mut self, limit: Option<usize>) -> Result<Option<Vec<Item>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let Query {
            index,
            pk,
            sort,
            newest_first,
            consistent,
        } = &self.query;
        let (pk_name, sk_name) = index.map_or((PK, SK), |index| (index.pk, index.sk));
        let condition = match sort {
            SortKey::Any => "#pk = :pk",
            // As a range: on DynamoDB the two are the same, and DynamoDB Local answers a
            // range from its index but `begins_with` by reading the whole partition.
            SortKey::BeginsWith(_) => "#pk = :pk AND #sk BETWEEN :a AND :b",
            SortKey::Between(..) => "#pk = :pk AND #sk BETWEEN :a AND :b",
            SortKey::Below(_) => "#pk = :pk AND #sk < :a",
            SortKey::Above(_) => "#pk = :pk AND #sk > :a",
        };
        let mut request = self
            .db
            .client()
            .query()
            .table_name(&self.db.table)
            .set_index_name(index.map(|index| index.name.to_string()))
            .consistent_read(*consistent)
            .scan_index_forward(!newest_first)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .key_condition_expression(condition)
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(pk))
            .set_limit(limit.map(|l| l.clamp(1, 1000) as i32))
            .set_exclusive_start_key(self.start.take());
        match sort {
            SortKey::Any => {}
            SortKey::BeginsWith(prefix) => {
                request = request
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":a", s(prefix))
                    .expression_attribute_values(":b", s(format!("{prefix}{PAST_EVERY_KEY}")));
            }
            SortKey::Below(a) | SortKey::Above(a) => {
                request = request
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":a", s(a));
            }
            SortKey::Between(a, b) => {
                request = request
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":a", s(a))
                    .expression_attribute_values(":b", s(b));
            }
        }
        let out = request.send().await?;
        self.capacity += capacity(out.consumed_capacity());
        self.start = out.last_evaluated_key;
        self.done = self.start.is_none();
        let items = out.items.unwrap_or_default();
        Ok(Some(items.into_iter().filter(unexpired).collect()))
    }
}

/// Queries: every one goes through [`Pages`].
impl Db {
    /// Every item of a global secondary index partition.
    pub async fn query_index<T: DeserializeOwned>(
        &self,
        index: Index,
        value: &str,
    ) -> Result<Vec<T>, ApiError> {
        self.query_all(Query::index(index, value)).await
    }

    /// Every item under `pk` whose sort key starts with `prefix`, in sort-key order.
    pub async fn query_prefix<T: DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
    ) -> Result<Vec<T>, ApiError> {
        self.query_all(Query::table(pk).sort(SortKey::BeginsWith(prefix.into())))
            .await
    }

    /// Every item `query` finds, page after page.
    pub async fn query_all<T: DeserializeOwned>(&self, query: Query) -> Result<Vec<T>, ApiError> {
        let mut pages = self.pages(query);
        let mut items = Vec::new();
        while let Some(page) = pages.next(None).await? {
            for item in page {
                items.push(from_item(item)?);
            }
        }
        Ok(items)
    }

    /// The pages of `query`, read one at a time.
    pub fn pages(&self, query: Query) -> Pages<'_> {
        Pages::new(self, query)
    }
}
