//! Transactions as values: the writes of one DynamoDB transaction, each condition labelled
//! with the refusal its failing means, built without a client so that domain code returns
//! them and tests inspect them; one place that runs them, tells a refusal from a conflict,
//! and retries a read-modify-write cycle.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::table::store::Db;
use crate::ApiError;

mod write;

pub use write::{
    check, delete, delete_versioned, exists, put, put_versioned, put_when, update, version_is,
    Condition, UpdateSpec, Write,
};

/// The writes of one transaction, and what the failing of each labelled condition means:
/// a refusal `R` for the client. A failed condition without a label means that what was
/// read has changed since: read again.
#[derive(Clone, Debug, PartialEq)]
pub struct Transaction<R = Infallible> {
    writes: Vec<Write>,
    refusals: Vec<Option<R>>,
}

impl<R> Default for Transaction<R> {
    fn default() -> Self {
        Self {
            writes: Vec::new(),
            refusals: Vec::new(),
        }
    }
}

impl<R> Transaction<R> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds writes whose failing conditions mean "read again".
    pub fn push(&mut self, write: Write) {
        self.writes.push(write);
        self.refusals.push(None);
    }

    /// Adds a write whose condition failing means `refusal`.
    pub fn push_refusing(&mut self, write: Write, refusal: R) {
        self.writes.push(write);
        self.refusals.push(Some(refusal));
    }

    /// Adds another transaction's writes, their refusals kept.
    pub fn append(&mut self, other: Transaction<R>) {
        self.writes.extend(other.writes);
        self.refusals.extend(other.refusals);
    }

    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// The refusal labelled on the `index`-th write, if any.
    pub fn refusal(&self, index: usize) -> Option<&R> {
        self.refusals.get(index).and_then(Option::as_ref)
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

impl<R: Clone> Transaction<R> {
    /// What the failed conditions (a code per write, in order) mean. A refusal is decided
    /// on what was read; if any of that changed meanwhile (an unlabelled condition failed),
    /// the refusal may not hold either, so the answer is to read again.
    fn judge(&self, codes: &[Option<String>]) -> NotWritten<R> {
        let failed: Vec<usize> = codes
            .iter()
            .enumerate()
            .filter(|(_, code)| code.as_deref() == Some("ConditionalCheckFailed"))
            .map(|(index, _)| index)
            .collect();
        if failed.iter().any(|index| self.refusal(*index).is_none()) {
            return NotWritten::Stale;
        }
        failed
            .iter()
            .find_map(|index| self.refusal(*index))
            .cloned()
            .map_or(NotWritten::Stale, NotWritten::Refused)
    }
}

impl<R> Extend<Write> for Transaction<R> {
    fn extend<I: IntoIterator<Item = Write>>(&mut self, writes: I) {
        for write in writes {
            self.push(write);
        }
    }
}

impl<R> FromIterator<Write> for Transaction<R> {
    fn from_iter<I: IntoIterator<Item = Write>>(writes: I) -> Self {
        let mut transaction = Self::new();
        transaction.extend(writes);
        transaction
    }
}

/// Why a transaction did not commit.
#[derive(Debug, PartialEq)]
pub enum NotWritten<R> {
    /// A labelled condition failed: the first, in the order the writes were added.
    Refused(R),
    /// An unlabelled condition failed, or another transaction got in the way: read again.
    Stale,
}

/// Runs the transaction once.
pub async fn commit<R: Clone>(
    db: &Db,
    transaction: &Transaction<R>,
) -> Result<Result<(), NotWritten<R>>, ApiError> {
    let items = transaction
        .writes
        .iter()
        .map(|write| write.clone().into_sdk(&db.table))
        .collect();
    match write(db, items).await? {
        Ok(()) => Ok(Ok(())),
        Err(Outcome::Conflict) => Ok(Err(NotWritten::Stale)),
        Err(Outcome::ConditionFailed(codes)) => Ok(Err(transaction.judge(&codes))),
    }
}

/// What one read decided: nothing (more) to write, answering `T`; or a transaction that,
/// once committed, makes `T` true.
pub enum Step<T, R> {
    Done(T),
    Write(T, Transaction<R>),
    /// Something read changed while deciding (a step that writes on its way): read again.
    ReadAgain,
}

/// Reads, decides and writes until the write commits (answering its `T`) or is refused
/// (answering its `R`), reading again each time what was read has changed since, within
/// [`Retry`]'s budget. `what` names the write in the error past that budget.
pub async fn read_modify_write<T, R, F, Fut>(
    db: &Db,
    what: &str,
    decide: F,
) -> Result<Result<T, R>, ApiError>
where
    R: Clone,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T, R>, ApiError>>,
{
    read_modify_write_within(db, what, &mut Retry::default(), decide).await
}

/// [`read_modify_write`] within the attempts `retry` has left: a caller that tries again
/// after a refusal spends one budget, not one per try.
pub async fn read_modify_write_within<T, R, F, Fut>(
    db: &Db,
    what: &str,
    retry: &mut Retry,
    mut decide: F,
) -> Result<Result<T, R>, ApiError>
where
    R: Clone,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T, R>, ApiError>>,
{
    while retry.next().await {
        let (answer, transaction) = match decide().await? {
            Step::Done(answer) => return Ok(Ok(answer)),
            Step::Write(answer, transaction) => (answer, transaction),
            Step::ReadAgain => continue,
        };
        match commit(db, &transaction).await? {
            Ok(()) => return Ok(Ok(answer)),
            Err(NotWritten::Refused(refusal)) => return Ok(Err(refusal)),
            Err(NotWritten::Stale) => continue,
        }
    }
    Err(ApiError::internal(format!("{what} kept conflicting")))
}

/// [`read_modify_write`] of a write that nothing refuses: every failed condition means
/// that what was read changed, and is read again.
pub async fn until_written<T, F, Fut>(db: &Db, what: &str, decide: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T, Infallible>, ApiError>>,
{
    match read_modify_write(db, what, decide).await? {
        Ok(answer) => Ok(answer),
        Err(never) => match never {},
    }
}

/// The versions of an item a write may replace: any (no precondition), or those a client
/// named by their ETags (`*` names every version).
#[derive(Clone, Debug, Default)]
pub struct Precondition(Option<Vec<String>>);

impl Precondition {
    /// Any version may be replaced.
    pub const fn none() -> Self {
        Self(None)
    }

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

/// How a transaction ended when it did not commit.
#[derive(Debug)]
enum Outcome {
    /// A condition failed; the codes are per item, in order (`None` where it passed).
    ConditionFailed(Vec<Option<String>>),
    /// Another transaction touched the same items; the caller should read again and retry.
    Conflict,
}

async fn write(db: &Db, items: Vec<TransactWriteItem>) -> Result<Result<(), Outcome>, ApiError> {
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
const MAX_ATTEMPTS: u32 = 24;
/// How long a write keeps retrying: a retry loop may run inside another's attempt (the
/// wait for the contact-links index inside a contact's deletion), and both must end within
/// the API functions' 10 s timeout.
const RETRY_BUDGET: Duration = Duration::from_secs(4);

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

/// A growing pause before attempt `n` of a conflicted write, drawn anywhere from zero to
/// its ceiling ("full jitter"): writers contending for one item spread out over the window
/// instead of retrying together, so each round lets more of them through.
/// <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>
async fn backoff(attempt: u32) {
    use rand::Rng;
    let ceiling = 10u64 << attempt.min(6);
    let millis = rand::thread_rng().gen_range(0..=ceiling);
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
    fn a_refusal_is_the_first_labelled_condition_and_only_when_nothing_read_changed() {
        use super::{delete, put, NotWritten, Transaction};
        let mut transaction = Transaction::new();
        transaction.push(put(Default::default(), Some("version = :v")));
        transaction.push_refusing(delete("PK", "limit", Some("n < :max")), "limit");
        transaction.push_refusing(
            put(Default::default(), Some("attribute_not_exists(PK)")),
            "taken",
        );
        let failed = |at: &[usize]| -> Vec<Option<String>> {
            (0..3)
                .map(|i| {
                    at.contains(&i)
                        .then(|| "ConditionalCheckFailed".to_string())
                })
                .collect()
        };
        assert_eq!(
            transaction.judge(&failed(&[2])),
            NotWritten::Refused("taken")
        );
        assert_eq!(
            transaction.judge(&failed(&[1, 2])),
            NotWritten::Refused("limit")
        );
        assert_eq!(transaction.judge(&failed(&[0, 2])), NotWritten::Stale);
        assert_eq!(transaction.judge(&failed(&[0])), NotWritten::Stale);
        assert_eq!(transaction.writes().len(), 3);
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
