//! Which AWS actions each function's clients are seen calling, and on what, so that
//! `tests/tests/permissions.rs` can hold each role in `template.yaml` to them: a grant no
//! call needs, or a call no grant allows, fails it.
//!
//! `make integration` names a file in `LEADGRID_AWS_CALL_LOG`; the clients of the cores,
//! CV stores, fan-out and deliverer that tests build for a function then append each
//! distinct `function<TAB>action<TAB>resource` line to it. The action is the IAM action
//! the call needs (a transaction needs one per kind of item it writes, a `HeadObject`
//! needs `s3:GetObject`); the resource is the table, index, stream, object key, queue or
//! secret, by its local name.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use aws_sdk_dynamodb::config::ConfigBag;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use serde_json::Value;

pub const LOG_VAR: &str = "LEADGRID_AWS_CALL_LOG";

#[derive(Clone, Debug)]
pub struct Recorder {
    function: &'static str,
}

struct Log {
    seen: Mutex<HashSet<String>>,
    file: Mutex<std::fs::File>,
}

fn log() -> Option<&'static Log> {
    static LOG: OnceLock<Option<Log>> = OnceLock::new();
    LOG.get_or_init(|| {
        let path = std::env::var_os(LOG_VAR)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.to_string_lossy()));
        Some(Log {
            seen: Mutex::default(),
            file: Mutex::new(file),
        })
    })
    .as_ref()
}

impl Recorder {
    /// A recorder for `function`'s clients, when the run keeps a call log.
    pub fn of(function: &'static str) -> Option<Self> {
        log().map(|_| Self { function })
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "AwsCallRecorder"
    }

    // Before signing, not before transmitting: presigned URLs (which browsers use with the
    // function's permissions) are signed but never sent by the SDK.
    fn read_before_signing(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some(log), Some(metadata)) = (log(), cfg.load::<Metadata>()) else {
            return Ok(());
        };
        let request = context.request();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let copy_source = request.headers().get("x-amz-copy-source");
        let call = Call {
            uri: request.uri(),
            body: &body,
            copy_source,
        };
        for (action, resource) in needs(metadata.service(), metadata.name(), &call) {
            let line = format!("{}\t{action}\t{resource}\n", self.function);
            if log.seen.lock().unwrap().insert(line.clone()) {
                log.file.lock().unwrap().write_all(line.as_bytes())?;
            }
        }
        Ok(())
    }
}

struct Call<'a> {
    uri: &'a str,
    body: &'a Value,
    copy_source: Option<&'a str>,
}

/// The IAM actions a request needs, each with the resource it acts on.
fn needs(service: &str, operation: &str, call: &Call<'_>) -> Vec<(String, String)> {
    let body = call.body;
    let service = service.to_ascii_lowercase().replace([' ', '-'], "");
    match service.as_str() {
        "dynamodb" => dynamodb_needs(operation, body),
        "dynamodbstreams" => vec![(format!("dynamodb:{operation}"), "stream".to_string())],
        "sqs" => {
            let queue = text(&body["QueueUrl"]);
            let name = queue.rsplit('/').next().unwrap_or_default();
            // A batch needs the permission of the call it batches.
            let action = operation.strip_suffix("Batch").unwrap_or(operation);
            vec![(format!("sqs:{action}"), format!("queue/{name}"))]
        }
        "secretsmanager" => vec![(
            format!("secretsmanager:{operation}"),
            format!("secret/{}", text(&body["SecretId"])),
        )],
        "s3" => s3_needs(operation, call),
        other => vec![(format!("{other}:{operation}"), "?".into())],
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn dynamodb_needs(operation: &str, body: &Value) -> Vec<(String, String)> {
    let table = |v: &Value| format!("table/{}", text(&v["TableName"]));
    match operation {
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|item| {
                [
                    ("Put", "PutItem"),
                    ("Update", "UpdateItem"),
                    ("Delete", "DeleteItem"),
                    ("ConditionCheck", "ConditionCheckItem"),
                ]
                .into_iter()
                .filter(|(kind, _)| item.get(*kind).is_some())
                .map(|(kind, action)| (format!("dynamodb:{action}"), table(&item[kind])))
            })
            .collect(),
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.keys())
            .map(|name| (format!("dynamodb:{operation}"), format!("table/{name}")))
            .collect(),
        _ => {
            let mut resource = table(body);
            if let Some(index) = body["IndexName"].as_str() {
                resource = format!("{resource}/index/{index}");
            }
            vec![(format!("dynamodb:{operation}"), resource)]
        }
    }
}

fn s3_needs(operation: &str, call: &Call<'_>) -> Vec<(String, String)> {
    // Path style: /<bucket>/<key>.
    let path = call
        .uri
        .split("://")
        .nth(1)
        .and_then(|rest| rest.find('/').map(|at| &rest[at + 1..]))
        .unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let object = format!("object/{bucket}/{}", shape(key));
    let action = match operation {
        "HeadObject" | "GetObject" => "s3:GetObject",
        "PutObject" => "s3:PutObject",
        "DeleteObject" => "s3:DeleteObject",
        "CopyObject" => {
            let source = call.copy_source.unwrap_or_default();
            let (source_bucket, source_key) = source.split_once('/').unwrap_or((source, ""));
            return vec![
                ("s3:PutObject".into(), object),
                (
                    "s3:GetObject".into(),
                    format!("object/{source_bucket}/{}", shape(source_key)),
                ),
            ];
        }
        other => return vec![(format!("s3:{other}"), format!("bucket/{bucket}"))],
    };
    vec![(action.to_string(), object)]
}

/// A key with each id replaced by `{id}`, so that a log line stands for every key of the
/// same shape.
fn shape(key: &str) -> String {
    key.split('/')
        .map(|segment| {
            let stem = segment.split('.').next().unwrap_or_default();
            if uuid::Uuid::parse_str(stem).is_ok() {
                segment.replacen(stem, "{id}", 1)
            } else {
                segment.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
