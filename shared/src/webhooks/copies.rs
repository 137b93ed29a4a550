//! A message queued again (a retry, a wait for the host's budget, a move to the slow lane,
//! a wait for a far-off retry) is sent before the message it comes from is deleted. If that
//! deletion never happens (the batch outran the function's timeout, the process died), the
//! old message is received again and queues a second copy, which would start a second
//! chain of attempts. Each copy names the message it was queued from, and only the first
//! copy received goes on: it claims that name with its own `copy_id`, in one conditional
//! PutItem. The `copy_id` is in the body, so the claimant still goes on when it comes back
//! from the dead-letter queue (a redrive gives it a new SQS message id). Only messages
//! queued again pay for the claim; a first delivery does not.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::table::keys::{org_pk, requeued_from_sk};
use crate::table::schema::TTL_ATTRIBUTE;
use crate::table::store::{key, n, s, Db, Expression};
use crate::ApiError;

/// How long a claim is kept: as long as the queues and their dead-letter queue keep a
/// message (14 days, template.yaml), so that a twin is dropped and the claimant goes on
/// whenever either is received.
const CLAIM_KEPT_FOR: time::Duration = time::Duration::days(15);

/// Whether the copy `copy_id`, queued again from the message `parent`, is the one that
/// goes on: the first copy received, or that same copy received again (or redriven).
pub async fn goes_on(
    db: &Db,
    org: Uuid,
    parent: &str,
    copy_id: &str,
    now: OffsetDateTime,
) -> Result<bool, ApiError> {
    let mut claim = key(&org_pk(org), &requeued_from_sk(parent));
    claim.insert("copy_id".to_string(), s(copy_id));
    claim.insert(
        TTL_ATTRIBUTE.to_string(),
        n((now + CLAIM_KEPT_FOR).unix_timestamp()),
    );
    let first_or_same = Expression {
        text: "attribute_not_exists(PK) OR copy_id = :mine",
        values: vec![(":mine", s(copy_id))],
        ..Default::default()
    };
    Ok(db.put_if(claim, &first_or_same).await?.is_ok())
}
