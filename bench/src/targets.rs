//! The targets, each judged against the measured figures.

use serde_json::{json, Value};

use crate::api_functions;
use crate::operations::{
    ATTEMPTS_OF_EVENT, ATTEMPTS_PAGE_1, ATTEMPTS_PAGE_20, EVENTS_OF_TWO_TYPES, EVENTS_PAGE_1,
    EVENTS_PAGE_20, ONE_EVENT,
};

/// The targets, judged on the largest size measured against the smallest.
pub(crate) fn targets(report: &Value) -> Value {
    let ops = report["operations"].as_object().unwrap();
    let smallest = ops.values().next().unwrap();
    let largest = ops.values().next_back().unwrap();
    let calls = |name: &str| largest[name]["dynamodb_calls"].as_f64().unwrap_or(f64::NAN);
    let list_ratio = largest["GET /dossiers page 1"]["read_units"]
        .as_f64()
        .unwrap()
        / smallest["GET /dossiers page 1"]["read_units"]
            .as_f64()
            .unwrap();
    let overhead = largest["GET one dossier"]["overhead_ratio_p50"]
        .as_f64()
        .unwrap();
    let worst_cold = worst_against_peer(report, "on_demand_over_peer");
    let worst_after_init = worst_against_peer(report, "initialized_ahead_over_peer");
    let worst_init = worst_cold_start(report, "init_to_first_poll_ms_p50");
    let worst_rss = worst_cold_start(report, "peak_rss_mib_after_50");
    let auth_only = calls("auth + rate limit (unknown route)");
    let burst = &report["concurrent_creates"];
    let burst_failed = burst["failed"].as_u64().unwrap_or(u64::MAX);
    // Contact reads must cost the same from 1,000 contacts up to the largest organization.
    let thousand = ops.get("1000").unwrap_or(smallest);
    let search = "GET /contacts search, 10 matches";
    let (search_calls_ratio, search_rcu_ratio) = worst_growth(
        largest,
        thousand,
        &[
            search,
            "GET /contacts search, two words",
            "GET /contacts search and kind",
        ],
    );
    let (pool_calls_ratio, pool_rcu_ratio) = worst_growth(
        largest,
        thousand,
        &[
            "GET /contacts pool=in_pool page 1",
            "GET /contacts pool=expired page 1",
        ],
    );
    let (attempts_calls_ratio, attempts_rcu_ratio) = worst_growth(
        largest,
        thousand,
        &[ATTEMPTS_PAGE_1, ATTEMPTS_PAGE_20, ATTEMPTS_OF_EVENT],
    );
    let (events_calls_ratio, events_rcu_ratio) = worst_growth(
        largest,
        thousand,
        &[
            EVENTS_PAGE_1,
            EVENTS_PAGE_20,
            EVENTS_OF_TWO_TYPES,
            ONE_EVENT,
        ],
    );
    let search_over_get = largest[search]["p50_ms"].as_f64().unwrap_or(f64::NAN)
        / largest["GET one contact"]["p50_ms"]
            .as_f64()
            .unwrap_or(f64::NAN);
    json!([
        {"measure": "auth plus rate limit", "target": "1 DynamoDB round trip", "measured": format!("{auth_only}"), "met": auth_only <= 1.0},
        {"measure": "GET one dossier / contact", "target": "at most 2 round trips", "measured": format!("{} / {}", calls("GET one dossier"), calls("GET one contact")), "met": calls("GET one dossier") <= 2.0 && calls("GET one contact") <= 2.0},
        {"measure": "list page 1", "target": "at most 3 round trips; RCU ratio largest/smallest at most 1.1", "measured": format!("{} calls, RCU ratio {list_ratio:.2}", calls("GET /dossiers page 1")), "met": calls("GET /dossiers page 1") <= 3.0 && list_ratio <= 1.1},
        {"measure": "contact searches (10 matches, two words, with kind)", "target": "DynamoDB calls and RCU ratio largest/1,000 contacts at most 1.2", "measured": format!("worst: calls {search_calls_ratio:.2}, RCU {search_rcu_ratio:.2}"), "met": search_calls_ratio <= 1.2 && search_rcu_ratio <= 1.2},
        {"measure": "pool=in_pool and pool=expired page 1", "target": "DynamoDB calls and RCU ratio largest/1,000 contacts at most 1.2", "measured": format!("worst: calls {pool_calls_ratio:.2}, RCU {pool_rcu_ratio:.2}"), "met": pool_calls_ratio <= 1.2 && pool_rcu_ratio <= 1.2},
        {"measure": "attempt log: page 1, page 20 by cursor, one event", "target": "DynamoDB calls and RCU ratio largest/1,000 attempts at most 1.2", "measured": format!("worst: calls {attempts_calls_ratio:.2}, RCU {attempts_rcu_ratio:.2}"), "met": attempts_calls_ratio <= 1.2 && attempts_rcu_ratio <= 1.2},
        {"measure": "events: page 1, page 20 by cursor, two types, one event", "target": "DynamoDB calls and RCU ratio largest/1,000 contacts (their events) at most 1.2", "measured": format!("worst: calls {events_calls_ratio:.2}, RCU {events_rcu_ratio:.2}"), "met": events_calls_ratio <= 1.2 && events_rcu_ratio <= 1.2},
        {"measure": "search matching 10 contacts, p50", "target": "at most 3x GET one contact p50, largest organization", "measured": format!("{search_over_get:.2}x"), "met": search_over_get <= 3.0},
        {"measure": "POST dossier (JSON)", "target": "at most 4 round trips", "measured": format!("{}", calls("POST /dossiers (JSON)")), "met": calls("POST /dossiers (JSON)") <= 4.0},
        {"measure": "overhead ratio, GET one dossier", "target": "at most 1.3 at p50", "measured": format!("{overhead:.2}"), "met": overhead <= 1.3},
        {"measure": "cold first authenticated response (key only), on demand: process start to response", "target": "at most 1.5x a bare GetItem peer's (bench/peer), same run", "measured": format!("worst {worst_cold:.2}x (API functions)"), "met": worst_cold <= 1.5},
        {"measure": "first authenticated response (key only) of a sandbox initialized ahead: event to response", "target": "at most 1.5x the peer's, same run", "measured": format!("worst {worst_after_init:.2}x (API functions)"), "met": worst_after_init <= 1.5},
        {"measure": "concurrent POST /dossiers in one organization (16 clients)", "target": "none fails", "measured": format!("{} of {} created, {:.0} a second", burst["created"], burst["requests"], burst["per_second"].as_f64().unwrap_or(0.0)), "met": burst_failed == 0},
        {"measure": "init before first poll of /next", "target": "under 20 ms, every function", "measured": format!("worst {worst_init:.1} ms"), "met": worst_init < 20.0},
        {"measure": "peak RSS", "target": "under 64 MB", "measured": format!("worst {worst_rss:.1} MiB"), "met": worst_rss < 61.0},
    ])
}

/// The worst ratio, over the API functions, of their first authenticated response of a
/// key-only request to the peer's one `GetItem`: on demand (init included), or in a sandbox
/// initialized ahead. Only the API functions answer authenticated requests; `fanout` and
/// `delivery` are reported in the cold-start table without a target.
fn worst_against_peer(report: &Value, measure: &str) -> f64 {
    let against_peer = &report["key_only_against_peer"];
    api_functions()
        .iter()
        .map(|f| against_peer[*f][measure].as_f64().unwrap_or(f64::INFINITY))
        .fold(0.0, f64::max)
}

/// The largest `figure` of any function's cold starts, of either kind of event.
fn worst_cold_start(report: &Value, figure: &str) -> f64 {
    report["cold_starts"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|k| k.as_object().unwrap().values())
        .filter_map(|s| s[figure].as_f64())
        .fold(0.0, f64::max)
}

/// The largest growth, over `operations`, of DynamoDB calls and of read units from the
/// organization of 1,000 contacts to the largest.
fn worst_growth(largest: &Value, thousand: &Value, operations: &[&str]) -> (f64, f64) {
    let growth = |operation: &str, measure: &str| {
        largest[operation][measure].as_f64().unwrap_or(f64::NAN)
            / thousand[operation][measure].as_f64().unwrap_or(f64::NAN)
    };
    operations
        .iter()
        .map(|op| (growth(op, "dynamodb_calls"), growth(op, "read_units")))
        .fold((0.0f64, 0.0f64), |(calls, rcu), (c, r)| {
            (calls.max(c), rcu.max(r))
        })
}
