//! 600 requests per minute per key, counted in DynamoDB.

use std::collections::BTreeSet;

use integration_tests::{growth_org, one_window, stack, Call};

#[tokio::test]
async fn the_601st_request_in_a_window_gets_429_with_retry_after() {
    let org = growth_org().await;
    let router = flows::router(stack().await.core_at(one_window()));

    // The first requests count down one by one.
    for expected in [599, 598, 597] {
        let reply = Call::get("/api/v1/nope").key(&org.key).send(&router).await;
        assert_eq!(
            reply.header("x-ratelimit-remaining"),
            Some(expected.to_string().as_str())
        );
    }
    // The rest arrive concurrently; each still sees its own count.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let router = router.clone();
        let key = org.key.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..(597 / 8 + 1) {
                let reply = Call::get("/api/v1/nope").key(&key).send(&router).await;
                seen.push((
                    reply.status.as_u16(),
                    reply.header("x-ratelimit-remaining").unwrap().to_string(),
                ));
            }
            seen
        }));
    }
    let mut remaining = BTreeSet::new();
    let mut limited = 0;
    for task in tasks {
        for (status, left) in task.await.unwrap() {
            if status == 429 {
                limited += 1;
            } else {
                assert_eq!(status, 404);
                remaining.insert(left.parse::<u64>().unwrap());
            }
        }
    }
    // 3 + 8 * 75 = 603 requests: 600 allowed, each with a distinct remaining count.
    assert_eq!(remaining.len(), 597);
    assert_eq!(remaining.first(), Some(&0));
    assert_eq!(remaining.last(), Some(&596));
    assert_eq!(limited, 3);

    let reply = Call::get("/api/v1/flows").key(&org.key).send(&router).await;
    assert_eq!(
        (reply.status.as_u16(), reply.error_code()),
        (429, "rate_limited")
    );
    assert_eq!(reply.header("x-ratelimit-limit"), Some("600"));
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("0"));
    // The clock stands at the window's first second.
    assert_eq!(reply.header("retry-after"), Some("60"));

    // Another key of the same organization has its own budget.
    let other = org.key_with(&[shared::web::auth::Scope::FlowsRead]).await;
    let reply = Call::get("/api/v1/flows").key(&other).send(&router).await;
    assert_eq!(reply.status, 200);
}

/// The same key with one character of its secret part changed.
fn forged(key: &str) -> String {
    let mut chars: Vec<char> = key.chars().collect();
    let at = "lg_live_".len() + 60;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// A key that does not verify costs one DynamoDB round trip, its own item's conditional
/// update, which writes nothing: no plan read, no idempotency claim, no count, however
/// large the body. A valid key on a new container costs that update and the plan read.
#[tokio::test]
async fn a_key_that_does_not_verify_costs_one_round_trip_and_writes_nothing() {
    let org = growth_org().await;
    let stack = stack().await;
    let clock = one_window();
    let warm = flows::router(stack.core_at(clock));
    let first = Call::get("/api/v1/nope").key(&org.key).send(&warm).await;
    assert_eq!(first.header("x-ratelimit-remaining"), Some("599"));

    let (mut core, calls) = stack.counted_core();
    core.clock = clock;
    let reply = Call::get("/api/v1/nope")
        .key(&org.key)
        .send(&flows::router(core))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("598"));
    assert_eq!(
        calls.take(),
        1,
        "a new container: one write verifies, counts and answers the plan"
    );

    let big = vec![b'a'; 4 * 1024 * 1024];
    let unknown = shared::web::auth::generate_key(uuid::Uuid::now_v7()).plaintext;
    for (what, key) in [
        ("forged secret", forged(&org.key)),
        ("unknown org", unknown),
    ] {
        for idempotent in [false, true] {
            let (mut core, calls) = stack.counted_core();
            core.clock = clock;
            let mut request = integration_tests::post("/api/v1/dossiers")
                .key(&key)
                .raw("application/json", big.clone());
            if idempotent {
                request = request.header(
                    "idempotency-key",
                    &format!("forged-{}", uuid::Uuid::now_v7()),
                );
            }
            let reply = request.send(&dossiers::router(core, stack.cvs())).await;
            assert_eq!(reply.status, 401, "{what}");
            assert_eq!(reply.body["error"]["code"], "unauthorized");
            assert_eq!(calls.take(), 1, "{what}, idempotent: {idempotent}");
        }
    }
    let next = Call::get("/api/v1/nope").key(&org.key).send(&warm).await;
    assert_eq!(
        next.header("x-ratelimit-remaining"),
        Some("597"),
        "the forged requests counted nothing"
    );
}

/// Two containers whose clocks straddle a minute's boundary: once one has started the new
/// window, requests the other counts by the old minute go into the new window too. None is
/// refused as an invalid key, and every count is distinct.
#[tokio::test]
async fn requests_straddling_a_window_boundary_count_into_the_newer_window() {
    let org = growth_org().await;
    let stack = stack().await;
    let shared::clock::Clock::Fixed(start) = one_window() else {
        unreachable!("one_window is a fixed clock")
    };
    let behind = flows::router(stack.core_at(shared::clock::Clock::Fixed(
        start - time::Duration::seconds(1),
    )));
    let ahead = flows::router(stack.core_at(shared::clock::Clock::Fixed(start)));

    let first = Call::get("/api/v1/nope").key(&org.key).send(&behind).await;
    assert_eq!(first.header("x-ratelimit-remaining"), Some("599"));
    let new_window = Call::get("/api/v1/nope").key(&org.key).send(&ahead).await;
    assert_eq!(new_window.header("x-ratelimit-remaining"), Some("599"));

    let replies = futures_util::future::join_all((0..20).map(|i| {
        let router = if i % 2 == 0 { &behind } else { &ahead };
        Call::get("/api/v1/nope").key(&org.key).send(router)
    }))
    .await;
    let mut remaining = BTreeSet::new();
    for reply in replies {
        assert_eq!(reply.status, 404, "{}", reply.body);
        remaining.insert(
            reply
                .header("x-ratelimit-remaining")
                .unwrap()
                .parse::<u64>()
                .unwrap(),
        );
    }
    assert_eq!(remaining, (579..=598).collect::<BTreeSet<u64>>());
}
