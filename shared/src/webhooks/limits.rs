//! Per-minute budgets that keep one organization's webhooks from using up what every
//! organization shares: the requests sent to one destination host, and the test pings sent
//! to one endpoint, and the recoveries asked for. Each is a counter item per organization and window, taken with one
//! conditional UpdateItem, that expires with its window.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::table::keys::{egress_window_sk, org_pk, recovery_window_sk, test_window_sk};
use crate::table::schema::TTL_ATTRIBUTE;
use crate::table::store::{n, Db, Expression};
use crate::ApiError;

/// The most requests (deliveries, retries and tests alike) one organization's endpoints
/// may send to one host in a minute; those beyond wait for the next minute in the queue.
pub const HOST_REQUESTS_PER_MINUTE: u64 = 600;
/// The most test pings one endpoint may be sent in a minute; beyond it `…/test` is 429.
pub const TESTS_PER_MINUTE: u64 = 5;
/// The most recoveries one organization may ask for in a clock minute; beyond it `…/recover` is
/// 429. With at most `MAX_RECOVERED_PER_CALL` events each, a minute's recoveries queue at
/// most half a host's minute of deliveries: live traffic keeps the other half.
pub const RECOVERIES_PER_MINUTE: u64 = 3;

/// What a budget is for.
pub enum Budget<'a> {
    /// Requests to one destination host (lower case, as URLs serialize it).
    Host(&'a str),
    /// Test pings to one endpoint.
    Tests(Uuid),
    /// Recoveries, for all the organization's endpoints.
    Recoveries,
}

/// Takes one from `org`'s budget for the minute `now` falls in. `None` when taken; when the
/// budget is spent, the seconds until the next minute's opens.
pub async fn take(
    db: &Db,
    org: Uuid,
    budget: Budget<'_>,
    limit: u64,
    now: OffsetDateTime,
) -> Result<Option<u64>, ApiError> {
    let seconds = now.unix_timestamp();
    let minute = seconds.div_euclid(60);
    let next_window = ((minute + 1) * 60 - seconds).max(1) as u64;
    if limit == 0 {
        return Ok(Some(next_window));
    }
    let sk = match budget {
        Budget::Host(host) => egress_window_sk(host, minute),
        Budget::Tests(endpoint) => test_window_sk(endpoint, minute),
        Budget::Recoveries => recovery_window_sk(minute),
    };
    let count = Expression {
        text: "ADD taken :one SET #ttl = :ttl",
        names: &[("#ttl", TTL_ATTRIBUTE)],
        values: vec![
            (":one", n(1)),
            (":limit", n(limit)),
            (":ttl", n((minute + 2) * 60)),
        ],
    };
    let taken = db
        .update_if(
            &org_pk(org),
            &sk,
            &count,
            Some("attribute_not_exists(taken) OR taken < :limit"),
        )
        .await?;
    Ok(taken.err().map(|_| next_window))
}
