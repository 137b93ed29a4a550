//! CloudWatch metrics as Embedded Metric Format lines on stdout: Lambda ships stdout to
//! CloudWatch Logs, which turns each line into metrics, so measuring costs no AWS call.
//!
//! - per API route: `Latency` (ms), `DynamoDBCalls` and `Requests`, by function, route
//!   template and status class;
//! - per webhook attempt: `AttemptLatency` (ms), `AttemptNumber` and `Attempts`, by
//!   function and outcome.
//!
//! Dimensions stay few-valued (no ids), so that the metrics stay cheap.

use std::cell::Cell;

pub const NAMESPACE: &str = "LeadGrid";

enum Unit {
    Milliseconds,
    Count,
}

impl Unit {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Milliseconds => "Milliseconds",
            Self::Count => "Count",
        }
    }
}

struct Metric {
    name: &'static str,
    value: f64,
    unit: Unit,
}

/// One EMF line: `dimensions` (name, value) as one dimension set, `metrics` as its values.
fn line(dimensions: &[(&str, &str)], metrics: &[Metric], timestamp_ms: i64) -> String {
    let mut record = serde_json::Map::new();
    record.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(name, _)| *name).collect::<Vec<_>>()],
                "Metrics": metrics
                    .iter()
                    .map(|m| serde_json::json!({ "Name": m.name, "Unit": m.unit.as_str() }))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value) in dimensions {
        record.insert((*name).into(), (*value).into());
    }
    for metric in metrics {
        record.insert(metric.name.into(), metric.value.into());
    }
    serde_json::Value::Object(record).to_string()
}

/// Writes one EMF line to stdout, where Lambda's log capture picks it up.
fn emit(dimensions: &[(&str, &str)], metrics: &[Metric]) {
    let now = time::OffsetDateTime::now_utc();
    let timestamp_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let line = line(dimensions, metrics, timestamp_ms);
    #[cfg(test)]
    EMITTED.with(|lines| lines.borrow_mut().push(line.clone()));
    println!("{line}");
}

#[cfg(test)]
thread_local! {
    static EMITTED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The lines this thread emitted, for tests of what the middleware measures.
#[cfg(test)]
pub fn emitted() -> Vec<serde_json::Value> {
    EMITTED.with(|lines| {
        lines
            .borrow()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    })
}

/// One API request's metrics.
pub fn request(method: &str, route: &str, status: u16, latency_ms: f64, dynamodb_calls: u32) {
    emit(
        &[
            ("Function", function_name()),
            ("Route", &format!("{method} {route}")),
            ("StatusClass", &format!("{}xx", status / 100)),
        ],
        &[
            Metric {
                name: "Latency",
                value: latency_ms,
                unit: Unit::Milliseconds,
            },
            Metric {
                name: "DynamoDBCalls",
                value: dynamodb_calls.into(),
                unit: Unit::Count,
            },
            Metric {
                name: "Requests",
                value: 1.0,
                unit: Unit::Count,
            },
        ],
    );
}

/// One webhook attempt's metrics.
pub fn attempt(outcome: &str, number: u32, latency_ms: f64) {
    emit(
        &[("Function", function_name()), ("Outcome", outcome)],
        &[
            Metric {
                name: "AttemptLatency",
                value: latency_ms,
                unit: Unit::Milliseconds,
            },
            Metric {
                name: "AttemptNumber",
                value: number.into(),
                unit: Unit::Count,
            },
            Metric {
                name: "Attempts",
                value: 1.0,
                unit: Unit::Count,
            },
        ],
    );
}

/// The function's name as Lambda sets it, the `Function` dimension; read once, not per
/// request.
fn function_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into())
    })
}

tokio::task_local! {
    static DYNAMODB_CALLS: Cell<u32>;
}

/// Runs `work`, counting the DynamoDB calls made from its task.
pub async fn counting_dynamodb_calls<F: std::future::Future>(work: F) -> (F::Output, u32) {
    DYNAMODB_CALLS
        .scope(Cell::new(0), async {
            let output = work.await;
            (output, DYNAMODB_CALLS.with(Cell::get))
        })
        .await
}

/// Counts every DynamoDB call made inside [`counting_dynamodb_calls`]; elsewhere (a
/// background prefetch) it counts nothing.
#[derive(Debug)]
pub struct DynamoDbCallCounter;

impl aws_sdk_dynamodb::config::Intercept for DynamoDbCallCounter {
    fn name(&self) -> &'static str {
        "DynamoDbCallCounter"
    }

    fn read_before_execution(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let _ = DYNAMODB_CALLS.try_with(|calls| calls.set(calls.get() + 1));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_its_dimensions_and_metrics_and_carries_their_values() {
        let line = line(
            &[
                ("Function", "dossiers"),
                ("Route", "GET /api/v1/dossiers/{id}"),
                ("StatusClass", "2xx"),
            ],
            &[
                Metric {
                    name: "Latency",
                    value: 12.5,
                    unit: Unit::Milliseconds,
                },
                Metric {
                    name: "DynamoDBCalls",
                    value: 3.0,
                    unit: Unit::Count,
                },
            ],
            1_700_000_000_000,
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(value["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(directive["Namespace"], "LeadGrid");
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["Function", "Route", "StatusClass"]])
        );
        assert_eq!(
            directive["Metrics"][0],
            serde_json::json!({"Name": "Latency", "Unit": "Milliseconds"})
        );
        assert_eq!(value["Route"], "GET /api/v1/dossiers/{id}");
        assert_eq!(value["Latency"], 12.5);
        assert_eq!(value["DynamoDBCalls"], 3.0);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn a_webhook_attempt_is_measured_by_its_outcome() {
        attempt("retrying", 3, 41.5);
        let emitted = emitted();
        let line = emitted.last().unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Function", "Outcome"]])
        );
        assert_eq!(line["Outcome"], "retrying");
        assert_eq!(line["AttemptNumber"], 3.0);
        assert_eq!(line["AttemptLatency"], 41.5);
        assert_eq!(line["Attempts"], 1.0);
    }

    #[tokio::test]
    async fn calls_are_counted_inside_the_scope_only() {
        let bump = || DYNAMODB_CALLS.try_with(|c| c.set(c.get() + 1)).is_ok();
        assert!(!bump(), "nothing counts outside a scope");
        let ((), calls) = counting_dynamodb_calls(async {
            bump();
            futures_util::future::join(async { bump() }, async { bump() }).await;
        })
        .await;
        assert_eq!(calls, 3);
    }
}
