//! Every JSON file in `events/` parses as the event of the function it is for, and that
//! function handles it: in process, and as its built binary through the Lambda Runtime API,
//! as `cargo lambda invoke --data-file events/…` hands it over (see docs/local-stack.md).

use std::path::PathBuf;

use http::HeaderValue;
use integration_tests::{growth_org, runtime_api, stack};
use tower::ServiceExt;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test]
async fn every_sample_event_is_used_by_this_test() {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "api-contacts-list.json",
            "api-dossiers-list.json",
            "api-events-list.json",
            "api-flows-list.json",
            "api-notes-list.json",
            "api-webhook-endpoints-list.json",
            "dynamodb-stream-outbox.json",
            "sqs-delivery-batch.json",
        ]
    );
}

#[tokio::test]
async fn api_samples_are_http_api_v2_requests_the_routers_serve() {
    let org = growth_org().await;
    let core = || stack();
    let cases = [
        (
            "api-flows-list.json",
            flows::router(core().await.core()),
            200,
        ),
        (
            "api-dossiers-list.json",
            dossiers::router(core().await.core(), core().await.cvs()),
            200,
        ),
        (
            "api-contacts-list.json",
            contacts::router(core().await.core()),
            200,
        ),
        (
            "api-notes-list.json",
            notes::router(core().await.core()),
            404,
        ),
        (
            "api-webhook-endpoints-list.json",
            webhook_endpoints::router(core().await.webhook_endpoints()),
            200,
        ),
    ];
    for (name, router, status) in cases {
        let text = read(name);
        let sample: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Without a real key the sample is refused, in the error shape.
        let refused = router.clone().oneshot(request_clone(&text)).await.unwrap();
        assert_eq!(refused.status(), 401, "{name}");
        assert_eq!(
            refused.headers()["x-request-id"],
            sample["requestContext"]["requestId"].as_str().unwrap(),
            "{name}: API Gateway's request id is echoed"
        );
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {}", org.key)).unwrap(),
        );
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{name}");
    }
}

fn request_clone(text: &str) -> lambda_http::Request {
    lambda_http::request::from_str(text).expect("sample parses")
}

/// The sample's outbox record, for an organization of this test's with one endpoint, is
/// fanned out to a queue of this test's own (so that no poller takes the message first),
/// and the message there names the endpoint and carries the sample's event.
#[tokio::test]
async fn stream_sample_is_a_dynamodb_event_the_fanout_function_queues() {
    let text = read("dynamodb-stream-outbox.json");
    let sample: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(shared::domain::outbox::passes_stream_filter(
        &sample["Records"][0]
    ));
    let sample_org = "01a217e8-2b69-729d-a2db-7e9aa4dc2465";
    assert!(text.contains(sample_org));

    let org = growth_org().await;
    let stack = stack().await;
    let endpoint = stack
        .admin()
        .create_webhook(
            org.id,
            "https://hooks.example.com/leadgrid",
            vec![shared::webhooks::Subscription::Every],
            shared::webhooks::Destinations::parse("public").unwrap(),
        )
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("sample-fanout-{}", org.id))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // Its own queue, which the template knows nothing of: not recorded as the function's.
    let fanout = shared::webhooks::fanout::Fanout {
        queue_url: queue_url.clone(),
        sqs: sqs.clone(),
        ..stack.fanout()
    };

    let event: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&text.replace(sample_org, &org.id.to_string())).unwrap();
    let response = fanout::handle(&fanout, event).await;
    assert!(response.batch_item_failures.is_empty());

    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1, "one message for the one endpoint");
    let delivery: shared::webhooks::Delivery =
        serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(
        (delivery.org, delivery.endpoint_id),
        (org.id, endpoint.endpoint.id)
    );
    assert_eq!(delivery.event_id, "evt_01a217e82b69729da2db7e9aa4dc9999");
    assert_eq!(
        delivery.event_type,
        shared::webhooks::WebhookType::Domain(
            shared::domain::outbox::EventType::DossierStageChanged
        )
    );
    let payload: serde_json::Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!(payload["data"]["status"], "active");
    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn queue_sample_is_an_sqs_event_the_delivery_function_reads() {
    let event: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(&read("sqs-delivery-batch.json")).unwrap();
    let delivery: shared::webhooks::Delivery =
        serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    let stack = integration_tests::stack().await;
    let response = stack
        .deliverer(integration_tests::quick_schedule())
        .handle(event)
        .await;
    // The sample's endpoint does not exist here: the attempt is logged as skipped, and the
    // message is done with rather than retried.
    assert!(response.batch_item_failures.is_empty());
    let attempts = stack
        .attempt_log(delivery.org, delivery.endpoint_id, Some(&delivery.event_id))
        .await;
    assert_eq!(
        attempts.last().unwrap().outcome,
        shared::webhooks::Outcome::Skipped
    );
}

/// Each sample, queued on a local Runtime API, is taken and answered by its function's binary
/// (built by `make build`), started with this process's environment as `cargo lambda watch`
/// starts it. The API samples carry a real key; the stream and queue samples name an
/// organization and endpoint that do not exist here, which their functions accept and skip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sample_is_answered_by_its_function_binary_through_the_runtime_api() {
    let org = growth_org().await;
    let cases = [
        ("api-flows-list.json", "flows", serde_json::json!(200)),
        ("api-dossiers-list.json", "dossiers", serde_json::json!(200)),
        ("api-contacts-list.json", "contacts", serde_json::json!(200)),
        // The sample's dossier is not one of this organization's.
        ("api-notes-list.json", "notes", serde_json::json!(404)),
        (
            "api-webhook-endpoints-list.json",
            "webhook-endpoints",
            serde_json::json!(200),
        ),
        ("api-events-list.json", "events", serde_json::json!(200)),
        (
            "dynamodb-stream-outbox.json",
            "fanout",
            serde_json::json!([]),
        ),
        ("sqs-delivery-batch.json", "delivery", serde_json::json!([])),
    ];
    for (name, function, expected) in cases {
        let mut event: serde_json::Value = serde_json::from_str(&read(name)).unwrap();
        if function != "fanout" && function != "delivery" {
            event["headers"]["authorization"] = format!("Bearer {}", org.key).into();
        }
        let binary = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/debug")
            .join(function);
        assert!(
            binary.exists(),
            "{}: build the functions first (`make build`)",
            binary.display()
        );
        let mut runtime = runtime_api::Emulator::start().await;
        runtime.send(event);
        let mut child = tokio::process::Command::new(&binary)
            .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        let (_, response) = runtime.response().await.unwrap_or_else(|| {
            panic!("{function} did not answer {name}: {:?}", runtime.failures())
        });
        child.kill().await.ok();
        assert!(
            runtime.failures().is_empty(),
            "{name}: {:?}",
            runtime.failures()
        );
        let answer = if expected.is_array() {
            &response["batchItemFailures"]
        } else {
            &response["statusCode"]
        };
        assert_eq!(answer, &expected, "{name}: {response}");
    }
}
