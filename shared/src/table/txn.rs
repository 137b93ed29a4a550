//! Building and running DynamoDB transactions: one place that knows how a cancelled
//! transaction is told apart from a conflicting one, and how conflicts are retried.

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use crate::table::store::{key, Db, Item};
use crate::ApiError;

pub fn put(db: &Db, item: Item, condition: Option<&str>) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(&db.table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_string))
        .build()
        .expect("put has table and item");
    TransactWriteItem::builder().put(put).build()
}

/// A put that must replace exactly the version it was computed from (or create a new item
/// when `version` is 0).
/// A put under a condition with placeholders of its own.
pub fn put_when(
    db: &Db,
    item: Item,
    condition: &crate::table::store::Expression<'_>,
) -> TransactWriteItem {
    let mut put = Put::builder()
        .table_name(&db.table)
        .set_item(Some(item))
        .condition_expression(condition.text);
    for (placeholder, name) in condition.names {
        put = put.expression_attribute_names(*placeholder, *name);
    }
    for (placeholder, value) in &condition.values {
        put = put.expression_attribute_values(*placeholder, value.clone());
    }
    TransactWriteItem::builder()
        .put(put.build().expect("put has table and item"))
        .build()
}

pub fn put_versioned(db: &Db, item: Item, version: u64) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(&db.table)
        .set_item(Some(item))
        .condition_expression(if version == 0 {
            "attribute_not_exists(PK)"
        } else {
            "version = :expected_version"
        })
        .set_expression_attribute_values((version > 0).then(|| {
            [(
                ":expected_version".to_string(),
                AttributeValue::N(version.to_string()),
            )]
            .into()
        }))
        .build()
        .expect("put has table and item");
    TransactWriteItem::builder().put(put).build()
}

pub fn delete(db: &Db, pk: &str, sk: &str, condition: Option<&str>) -> TransactWriteItem {
    let delete = Delete::builder()
        .table_name(&db.table)
        .set_key(Some(key(pk, sk)))
        .set_condition_expression(condition.map(str::to_string))
        .build()
        .expect("delete has table and key");
    TransactWriteItem::builder().delete(delete).build()
}

/// A delete that must remove exactly the version it was decided on.
pub fn delete_versioned(db: &Db, pk: &str, sk: &str, version: u64) -> TransactWriteItem {
    let delete = Delete::builder()
        .table_name(&db.table)
        .set_key(Some(key(pk, sk)))
        .condition_expression("version = :v")
        .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        .build()
        .expect("delete has table and key");
    TransactWriteItem::builder().delete(delete).build()
}

pub fn exists(db: &Db, pk: &str, sk: &str) -> TransactWriteItem {
    check(db, pk, sk, "attribute_exists(PK)", Vec::new(), Vec::new())
}

/// Fails the transaction unless the item meets `condition`, without writing it.
pub fn check(
    db: &Db,
    pk: &str,
    sk: &str,
    condition: &str,
    names: Vec<(&str, &str)>,
    values: Vec<(&str, AttributeValue)>,
) -> TransactWriteItem {
    let mut check = ConditionCheck::builder()
        .table_name(&db.table)
        .set_key(Some(key(pk, sk)))
        .condition_expression(condition);
    for (name, value) in names {
        check = check.expression_attribute_names(name, value);
    }
    for (name, value) in values {
        check = check.expression_attribute_values(name, value);
    }
    let check = check
        .build()
        .expect("condition check has table, key and condition");
    TransactWriteItem::builder().condition_check(check).build()
}

/// Fails the transaction unless the item is still at `version`, without writing it.
pub fn version_is(db: &Db, pk: &str, sk: &str, version: u64) -> TransactWriteItem {
    let version = AttributeValue::N(version.to_string());
    check(
        db,
        pk,
        sk,
        "version = :v",
        Vec::new(),
        vec![(":v", version)],
    )
}

/// The versions of an item a write may replace: any (no precondition), or those a client
/// named by their ETags (`*` names every version).
#[derive(Clone, Debug, Default)]
pub struct Precondition(Option<Vec<String>>);

impl Precondition {
    pub fn one_of(etags: Vec<String>) -> Self {
        Self(Some(etags))
    }

    /// Whether a write may proceed on an item at `version`. Tags are compared strongly
    /// (RFC 9110 §13.1.1): a weak tag (`W/"1"`) never matches, nor does anything that is
    /// not a quoted tag; `*` matches every version.
    pub fn allows(&self, version: u64) -> bool {
        match &self.0 {
            None => true,
            Some(tags) => {
                let current = format!("\"{version}\"");
                tags.iter().any(|tag| tag == "*" || *tag == current)
            }
        }
    }

    /// 412 unless the current `version` is one the client named.
    pub fn check(&self, version: u64, what: &str) -> Result<(), ApiError> {
        if self.allows(version) {
            Ok(())
        } else {
            Err(ApiError::PreconditionFailed(format!(
                "The {what} has changed since the version in If-Match; its current ETag is \"{version}\"."
            )))
        }
    }
}

/// An update built from an expression and its placeholders.
pub struct UpdateSpec {
    pub pk: String,
    pub sk: String,
    pub expression: String,
    pub condition: Option<String>,
    pub names: Vec<(String, String)>,
    pub values: Vec<(String, AttributeValue)>,
}

pub fn update(db: &Db, spec: UpdateSpec) -> TransactWriteItem {
    let mut update = Update::builder()
        .table_name(&db.table)
        .set_key(Some(key(&spec.pk, &spec.sk)))
        .update_expression(spec.expression)
        .set_condition_expression(spec.condition);
    for (name, value) in spec.names {
        update = update.expression_attribute_names(name, value);
    }
    for (name, value) in spec.values {
        update = update.expression_attribute_values(name, value);
    }
    TransactWriteItem::builder()
        .update(
            update
                .build()
                .expect("update has table, key and expression"),
        )
        .build()
}

/// How a transaction ended when it did not commit.
#[derive(Debug)]
pub enum Outcome {
    /// A condition failed; the codes are per item, in order (`None` where it passed).
    ConditionFailed(Vec<Option<String>>),
    /// Another transaction touched the same items; the caller should read again and retry.
    Conflict,
}

pub async fn write(
    db: &Db,
    items: Vec<TransactWriteItem>,
) -> Result<Result<(), Outcome>, ApiError> {
    let result = db
        .client()
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await;
    let err = match result {
        Ok(_) => return Ok(Ok(())),
        Err(err) => err,
    };
    match err.into_service_error() {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            let reasons: Vec<(Option<&str>, Option<&str>)> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| (r.code(), r.message()))
                .collect();
            cancellation(&reasons).map(Err)
        }
        TransactWriteItemsError::TransactionInProgressException(_) => Ok(Err(Outcome::Conflict)),
        other => Err(ApiError::internal(format!("transaction: {other}"))),
    }
}

/// What a cancelled transaction means, from each item's (code, message). A refusal of the
/// request itself (an item too large, a type mismatch) is the same on every attempt: an
/// error, neither a condition to re-read nor a conflict worth retrying.
fn cancellation(reasons: &[(Option<&str>, Option<&str>)]) -> Result<Outcome, ApiError> {
    let codes: Vec<Option<String>> = reasons
        .iter()
        .map(|(code, _)| code.filter(|c| *c != "None").map(str::to_string))
        .collect();
    let refused = reasons.iter().find(|(code, _)| {
        code.is_some_and(|c| {
            c != "None" && c != "ConditionalCheckFailed" && !RETRIED_CODES.contains(&c)
        })
    });
    if let Some((code, message)) = refused {
        return Err(ApiError::internal(format!(
            "transaction refused: {} {}",
            code.unwrap_or_default(),
            message.unwrap_or_default()
        )));
    }
    let conflict = codes
        .iter()
        .flatten()
        .any(|code| RETRIED_CODES.contains(&code.as_str()));
    if conflict || codes.iter().all(Option::is_none) {
        Ok(Outcome::Conflict)
    } else {
        Ok(Outcome::ConditionFailed(codes))
    }
}

/// Cancellation reasons that another attempt may get past.
/// <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html>
const RETRIED_CODES: [&str; 3] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

/// How often a read-compute-write cycle is attempted before giving up with a 500.
const MAX_ATTEMPTS: u32 = 12;
/// How long a write keeps retrying: a retry loop may run inside another's attempt (a
/// contact made by a dossier create), and both must end well within the API functions'
/// 10 s timeout.
const RETRY_BUDGET: Duration = Duration::from_secs(3);

/// The attempts of a write that may conflict: the first at once, each retry after a
/// jittered backoff, at most [`MAX_ATTEMPTS`] in all and none started after
/// [`RETRY_BUDGET`].
#[derive(Debug)]
pub struct Retry {
    made: u32,
    started: std::time::Instant,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            made: 0,
            started: std::time::Instant::now(),
        }
    }
}

impl Retry {
    /// Waits as a retry should; `false` once every attempt is spent.
    pub async fn next(&mut self) -> bool {
        if self.made >= MAX_ATTEMPTS || (self.made > 0 && self.started.elapsed() >= RETRY_BUDGET) {
            return false;
        }
        if self.made > 0 {
            backoff(self.made).await;
        }
        self.made += 1;
        true
    }
}

/// A short, jittered, growing pause before attempt `n` of a conflicted write.
async fn backoff(attempt: u32) {
    use rand::Rng;
    let ceiling = 10u64 << attempt.min(6);
    let millis = rand::thread_rng().gen_range(ceiling / 2..=ceiling);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

#[cfg(test)]
mod tests {
    use super::Precondition;

    fn tags(raw: &[&str]) -> Precondition {
        Precondition::one_of(raw.iter().map(|t| t.to_string()).collect())
    }

    #[tokio::test]
    async fn retries_stop_at_their_budget_so_nested_loops_end_within_the_timeout() {
        let mut fresh = super::Retry::default();
        assert!(fresh.next().await, "the first attempt is always made");
        let mut spent = super::Retry {
            made: 1,
            started: std::time::Instant::now() - super::RETRY_BUDGET,
        };
        assert!(!spent.next().await);
    }

    #[test]
    fn only_conflicts_are_retried_and_a_refused_request_is_an_error() {
        use super::{cancellation, Outcome};
        let judged = |reasons: &[(Option<&str>, Option<&str>)]| cancellation(reasons);
        assert!(matches!(
            judged(&[(Some("None"), None), (Some("TransactionConflict"), None)]),
            Ok(Outcome::Conflict)
        ));
        assert!(matches!(
            judged(&[(Some("ConditionalCheckFailed"), None), (Some("None"), None)]),
            Ok(Outcome::ConditionFailed(codes)) if codes == [Some("ConditionalCheckFailed".to_string()), None]
        ));
        let refused = judged(&[
            (Some("ConditionalCheckFailed"), None),
            (
                Some("ValidationError"),
                Some("Item size has exceeded the maximum allowed size"),
            ),
        ]);
        assert_eq!(refused.unwrap_err().code(), "internal");
    }

    #[test]
    fn if_match_compares_strongly() {
        assert!(Precondition::default().allows(3));
        assert!(tags(&["\"3\""]).allows(3));
        assert!(tags(&["\"1\"", "\"3\""]).allows(3));
        assert!(tags(&["*"]).allows(3));
        assert!(!tags(&["\"2\""]).allows(3));
        assert!(!tags(&["W/\"3\""]).allows(3), "a weak tag never matches");
        assert!(!tags(&["3"]).allows(3), "an unquoted tag is no entity-tag");
        assert_eq!(
            tags(&["W/\"3\""]).check(3, "dossier").unwrap_err().code(),
            "precondition_failed"
        );
    }
}
