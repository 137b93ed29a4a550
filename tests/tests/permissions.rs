//! Each function's role in `template.yaml` grants exactly what the function was seen
//! calling during the integration tests (see `integration_tests::aws_calls`): every call
//! is allowed, and every grant is used by some call. `make integration` runs this after the
//! `api` tests, with the call log they wrote.
//!
//! A few grants serve callers other than our code, and are listed here with why; they
//! must be granted exactly so. SAM attaches nothing implicitly: every function names its
//! own role, so none gets the AWS managed policies (basic execution, SQS poller, stream
//! poller) whose actions are granted on every resource.

use std::collections::{BTreeMap, BTreeSet};

use leadgrid_tools::local::resources;
use serde_yaml_ng::Value;

/// Grants that no SDK call of ours needs: (function, action, resource, why).
const NOT_CALLED_BY_OUR_CODE: &[(&str, &str, &str, &str)] = &[
    (
        "dossiers",
        "s3:ListBucket",
        "bucket/leadgrid-cvs",
        "without it S3 answers 403, not 404, to a HeadObject of a missing upload",
    ),
    (
        "fanout",
        "dynamodb:GetRecords",
        "stream",
        "the event source mapping reads the stream",
    ),
    (
        "fanout",
        "dynamodb:GetShardIterator",
        "stream",
        "the event source mapping reads the stream",
    ),
    (
        "fanout",
        "dynamodb:DescribeStream",
        "stream",
        "the event source mapping reads the stream",
    ),
    (
        "fanout",
        "dynamodb:ListStreams",
        "*",
        "the event source mapping lists the table's streams; the action has no resource type, so IAM matches it only on `*`",
    ),
    (
        "fanout",
        "sqs:SendMessage",
        "queue/leadgrid-stream-failures",
        "the event source mapping reports the records it gives up on",
    ),
    (
        "delivery",
        "sqs:ReceiveMessage",
        "queue/leadgrid-events",
        "the event source mapping receives",
    ),
    (
        "delivery",
        "sqs:DeleteMessage",
        "queue/leadgrid-events",
        "the event source mapping deletes",
    ),
    (
        "delivery",
        "sqs:GetQueueAttributes",
        "queue/leadgrid-events",
        "the event source mapping reads the queue's settings",
    ),
    (
        "delivery",
        "sqs:ReceiveMessage",
        "queue/leadgrid-slow-deliveries",
        "the slow lane's event source mapping receives",
    ),
    (
        "delivery",
        "sqs:DeleteMessage",
        "queue/leadgrid-slow-deliveries",
        "the slow lane's event source mapping deletes",
    ),
    (
        "delivery",
        "sqs:GetQueueAttributes",
        "queue/leadgrid-slow-deliveries",
        "the slow lane's event source mapping reads the queue's settings",
    ),
];

/// The local name of what a template resource expression names.
fn local_name(expression: &str) -> Option<String> {
    let names = [
        (
            "LeadGridTable.Arn",
            format!("table/{}", resources::TABLE_NAME),
        ),
        ("LeadGridTable.StreamArn", "stream".to_string()),
        ("CvBucket.Arn", format!("bucket/{}", resources::CV_BUCKET)),
        (
            "EventsQueue.Arn",
            format!("queue/{}", resources::EVENTS_QUEUE),
        ),
        (
            "SlowDeliveriesQueue.Arn",
            format!("queue/{}", resources::SLOW_DELIVERIES_QUEUE),
        ),
        (
            "EventsDeadLetterQueue.Arn",
            format!("queue/{}", resources::EVENTS_DLQ),
        ),
        (
            "StreamFailureQueue.Arn",
            format!("queue/{}", resources::STREAM_FAILURE_QUEUE),
        ),
        (
            "ApiKeySecret",
            format!("secret/{}", resources::API_KEY_SECRET_ID),
        ),
        (
            "AppSecret",
            format!("secret/{}", resources::WEBHOOK_SECRET_ID),
        ),
    ];
    // Only an action without a resource type may be granted on every resource; the
    // exemptions above must name it, or the test finds it unused.
    if expression == "*" {
        return Some("*".to_string());
    }
    if let Some(rest) = expression.strip_prefix("${CvBucket.Arn}/") {
        return Some(format!("object/{}/{rest}", resources::CV_BUCKET));
    }
    let (name, suffix) = match expression.strip_prefix("${") {
        Some(sub) => sub.split_once('}')?,
        None => (expression, ""),
    };
    names
        .iter()
        .find(|(logical, _)| *logical == name)
        .map(|(_, local)| format!("{local}{suffix}"))
}

/// A resource expression as text: `!GetAtt X.Arn`, `!Ref X` or `!Sub '...'`.
fn expression(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => tagged.value.as_str().unwrap_or_default().to_string(),
        Value::String(text) => text.clone(),
        other => panic!("an unexpected resource {other:?}"),
    }
}

fn list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        one => vec![one],
    }
}

/// IAM's `*` matches any run of characters, `/` included.
fn matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len())
                    .any(|skip| matches(tail, &text[head.len() + skip..]))
        }
    }
}

/// Each function's grants, `(action, resource pattern)`, its logs and X-Ray grants aside.
fn grants() -> BTreeMap<String, BTreeSet<(String, String)>> {
    let template: Value =
        serde_yaml_ng::from_str(include_str!("../../template.yaml")).expect("template.yaml");
    let resources = &template["Resources"];
    let mut grants = BTreeMap::new();
    for (name, resource) in resources.as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let name = name.as_str().unwrap();
        let function = shared::functions::Function::of_template(name)
            .unwrap_or_else(|| panic!("{name} is not in the registry"))
            .as_str()
            .to_string();
        let properties = &resource["Properties"];
        assert!(
            properties.get("Policies").is_none(),
            "{name} has Policies: SAM would add its managed policies to a role it makes"
        );
        let role = expression(&properties["Role"]);
        let role = role.strip_suffix(".Arn").expect("Role: !GetAtt <role>.Arn");
        let role = &resources[role]["Properties"];
        assert!(role.get("ManagedPolicyArns").is_none(), "{name}'s role");
        let mut granted = BTreeSet::new();
        for policy in list(&role["Policies"]) {
            for statement in list(&policy["PolicyDocument"]["Statement"]) {
                // `!If [TracingActive, <X-Ray statement>, !Ref AWS::NoValue]`.
                if let Value::Tagged(tagged) = statement {
                    assert_eq!(tagged.tag, "!If");
                    assert_eq!(tagged.value[1]["Action"][0], "xray:PutTraceSegments");
                    continue;
                }
                assert_eq!(statement["Effect"], "Allow");
                let actions: Vec<&str> = list(&statement["Action"])
                    .into_iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                if actions.iter().all(|a| a.starts_with("logs:")) {
                    assert_eq!(
                        expression(&statement["Resource"]),
                        format!("{}Logs.Arn", &name[..name.len() - "Function".len()]),
                        "{name} writes only its own log group"
                    );
                    continue;
                }
                for resource in list(&statement["Resource"]) {
                    let text = expression(resource);
                    let local = local_name(&text)
                        .unwrap_or_else(|| panic!("{name} is granted on {text}, unknown here"));
                    for action in &actions {
                        granted.insert((action.to_string(), local.clone()));
                    }
                }
            }
        }
        grants.insert(function, granted);
    }
    grants
}

#[test]
fn every_role_grants_exactly_what_its_function_calls() {
    let path = std::env::var(integration_tests::aws_calls::LOG_VAR).unwrap_or_else(|_| {
        panic!(
            "{} names no call log: run this through `make integration`, after the api tests",
            integration_tests::aws_calls::LOG_VAR
        )
    });
    let log = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut calls: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for line in log.lines() {
        let [function, action, resource] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("a malformed call log line {line:?}");
        };
        calls
            .entry(function.into())
            .or_default()
            .insert((action.into(), resource.into()));
    }
    let grants = grants();
    assert_eq!(
        grants.keys().collect::<Vec<_>>(),
        calls.keys().collect::<Vec<_>>(),
        "every function is seen calling AWS"
    );
    let mut problems = Vec::new();
    for (function, granted) in &grants {
        let exempt: BTreeSet<(String, String)> = NOT_CALLED_BY_OUR_CODE
            .iter()
            .filter(|(f, ..)| f == function)
            .map(|(_, action, resource, _)| (action.to_string(), resource.to_string()))
            .collect();
        for missing in exempt.difference(granted) {
            problems.push(format!(
                "{function}: {missing:?} is listed as needed but not granted"
            ));
        }
        for (action, resource) in &calls[function] {
            if !granted
                .iter()
                .any(|(a, pattern)| a == action && matches(pattern, resource))
            {
                problems.push(format!(
                    "{function} calls {action} on {resource}: not granted"
                ));
            }
        }
        for (action, pattern) in granted.difference(&exempt) {
            if !calls[function]
                .iter()
                .any(|(a, resource)| a == action && matches(pattern, resource))
            {
                problems.push(format!(
                    "{function} is granted {action} on {pattern}, which no call used"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn iam_wildcards_match_as_iam_does() {
    assert!(matches(
        "object/b/*/dossiers/*",
        "object/b/{id}/dossiers/{id}/cv.pdf"
    ));
    assert!(matches("table/t/index/*", "table/t/index/GSI1"));
    assert!(!matches("table/t", "table/t/index/GSI1"));
    assert!(!matches("object/b/uploads/*", "object/b/{id}/dossiers/x"));
}
