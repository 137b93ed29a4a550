//! Rules AWS enforces that DynamoDB Local, moto and `cargo lambda watch` do not, held to
//! `template.yaml`, `samconfig.toml` and the docs. Each test names the AWS document whose
//! rule it encodes; the local stack would pass without any of them.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use serde_yaml_ng::Value;

use crate::routes::root_file;

fn template() -> Value {
    serde_yaml_ng::from_str(&root_file("template.yaml")).expect("template.yaml parses")
}

/// The resources of one type, by logical id.
fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .map(|(name, resource)| (name.as_str().unwrap(), resource))
        .collect()
}

/// `!Ref X` or `!GetAtt X.Y` as `X` or `X.Y`; plain text as itself.
fn reference(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => tagged.value.as_str().unwrap_or_default().to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    }
}

fn list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// CloudWatch cannot publish to a topic encrypted with the AWS managed key `alias/aws/sns`:
/// its key policy does not allow `cloudwatch.amazonaws.com` and cannot be changed. Every
/// alarm's topic uses a customer managed key whose policy lets CloudWatch `kms:Decrypt` and
/// `kms:GenerateDataKey*`.
/// <https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger>
#[test]
fn every_alarm_notifies_a_topic_whose_key_cloudwatch_may_use() {
    let template = template();
    let resources = &template["Resources"];
    let mut topics = BTreeSet::new();
    for (name, alarm) in of_type(&template, "AWS::CloudWatch::Alarm") {
        let actions = list(&alarm["Properties"]["AlarmActions"]);
        assert!(!actions.is_empty(), "{name} notifies nobody");
        topics.extend(actions.into_iter().map(reference));
    }
    for topic in topics {
        let key = &resources[topic.as_str()]["Properties"]["KmsMasterKeyId"];
        let Value::Tagged(tagged) = key else {
            panic!("{topic}'s key is {key:?}: an AWS managed key, which CloudWatch cannot use");
        };
        assert_eq!(tagged.tag, "!Ref", "{topic}'s key");
        let key = &resources[tagged.value.as_str().unwrap()];
        assert_eq!(key["Type"], "AWS::KMS::Key", "{topic}'s key");
        let lets_cloudwatch = list(&key["Properties"]["KeyPolicy"]["Statement"])
            .into_iter()
            .any(|statement| {
                let actions: Vec<&str> = list(&statement["Action"])
                    .into_iter()
                    .filter_map(Value::as_str)
                    .collect();
                statement["Effect"] == "Allow"
                    && statement["Principal"]["Service"] == "cloudwatch.amazonaws.com"
                    && actions.contains(&"kms:Decrypt")
                    && actions.contains(&"kms:GenerateDataKey*")
            });
        assert!(
            lets_cloudwatch,
            "{topic}'s key policy does not let CloudWatch use it"
        );
    }
}

/// CloudFormation deletes a resource with its stack, or when an update replaces it, unless
/// its `DeletionPolicy` and `UpdateReplacePolicy` are `Retain`. The table and the bucket
/// are kept; the secrets every API key and endpoint secret derive from must be kept too.
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html>
#[test]
fn the_data_and_the_secrets_it_needs_outlive_the_stack() {
    let template = template();
    for kind in [
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SecretsManager::Secret",
    ] {
        let found = of_type(&template, kind);
        assert!(!found.is_empty(), "{kind}");
        for (name, resource) in found {
            assert_eq!(resource["DeletionPolicy"], "Retain", "{name}");
            assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{name}");
        }
    }
}

/// An HTTP API passes a named stage in every request's `rawPath` (`/prod/api/v1/…`), which
/// no route of the functions matches: the stage is `$default` only, and a custom domain
/// (a regional one, with a certificate in the stack's region) gives the API another base
/// URL, its stage mapped at the domain's root.
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html>
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-mappings.html>
#[test]
fn the_base_url_output_is_right_with_and_without_a_custom_domain() {
    let template = template();
    let stage = &template["Parameters"]["StageName"];
    assert_eq!(list(&stage["AllowedValues"]), [&Value::from("$default")]);
    let value = &template["Outputs"]["ApiBaseUrl"]["Value"];
    let Value::Tagged(branch) = value else {
        panic!("ApiBaseUrl is {value:?}")
    };
    assert_eq!(branch.tag, "!If");
    let arms = branch.value.as_sequence().unwrap();
    assert_eq!(arms[0], "HasDomain");
    assert_eq!(reference(&arms[1]), "https://${DomainName}/api/v1");
    assert_eq!(
        reference(&arms[2]),
        "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/v1"
    );
    let domains = of_type(&template, "AWS::ApiGatewayV2::DomainName");
    let [(domain, resource)] = domains.as_slice() else {
        panic!("one custom domain: {domains:?}")
    };
    assert_eq!(resource["Condition"], "HasDomain");
    let configuration = &resource["Properties"]["DomainNameConfigurations"][0];
    assert_eq!(configuration["EndpointType"], "REGIONAL");
    assert_eq!(
        reference(&configuration["CertificateArn"]),
        "CertificateArn"
    );
    let mappings = of_type(&template, "AWS::ApiGatewayV2::ApiMapping");
    let [(_, mapping)] = mappings.as_slice() else {
        panic!("one API mapping")
    };
    let mapping = &mapping["Properties"];
    assert_eq!(reference(&mapping["DomainName"]), *domain);
    assert_eq!(reference(&mapping["Stage"]), "Api.Stage");
    assert!(
        mapping.get("ApiMappingKey").is_none(),
        "served at the domain's root"
    );
    let rule = &template["Rules"]["DomainNeedsCertificate"];
    assert!(serde_yaml_ng::to_string(rule)
        .unwrap()
        .contains("CertificateArn"));
}

/// HTTP API routes match a method and a path; a request whose method has no route on a
/// known path falls to `$default`. One `ANY` route per path sends every method to the
/// function that owns the path, which answers 405 for the methods it does not serve (and
/// the local gateway, which routes by path, then behaves as API Gateway does).
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html>
#[test]
fn every_path_reaches_its_owner_whatever_the_method() {
    let template = template();
    let mut paths = BTreeSet::new();
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        let events = function["Properties"]["Events"].as_mapping();
        for (_, event) in events.into_iter().flatten() {
            if event["Type"] != "HttpApi" {
                continue;
            }
            let properties = &event["Properties"];
            let Some(path) = properties["Path"].as_str() else {
                assert_eq!(name, "FlowsFunction", "only flows takes $default");
                continue;
            };
            assert_eq!(properties["Method"], "ANY", "{name}: {path}");
            assert!(paths.insert(path.to_string()), "{path} routed twice");
        }
    }
    assert_eq!(paths.len(), API_ROUTES - 1);
}

/// The routes of the API: one per path, and `$default`.
const API_ROUTES: usize = 22;

/// A stage's default route settings throttle each route on its own: the gateway's total
/// is the rate times the routes. The parameter and the docs say so, with the count.
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html>
#[test]
fn the_gateway_throttle_is_documented_per_route_with_the_route_count() {
    let template = template();
    let description = template["Parameters"]["ApiThrottleRate"]["Description"]
        .as_str()
        .unwrap();
    let routes = format!("{API_ROUTES} routes");
    assert!(description.contains("each route"), "{description}");
    assert!(description.contains(&routes), "{description}");
    let deploy = root_file("docs/deploy.md");
    assert!(
        deploy.contains(&routes),
        "docs/deploy.md names the {routes}"
    );
    assert!(!deploy.contains("across all routes"));
    assert!(!root_file("docs/operations.md").contains("across all routes"));
}

/// Lambda refuses a synchronous request over 6 MB before the function runs, and API
/// Gateway then answers 5xx. Its own `5xx` metric cannot tell that from a fault; the access
/// log can (`integrationStatus`, Lambda's own answer: 413), so the alarm counts from it.
/// <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html>
#[test]
fn requests_over_lambdas_payload_limit_do_not_page() {
    let template = template();
    let resources = &template["Resources"];
    let format = resources["Api"]["Properties"]["AccessLogSettings"]["Format"]
        .as_str()
        .unwrap();
    assert!(
        format.contains(r#""status":$context.status,"#),
        "a number: {format}"
    );
    assert!(format.contains(r#""integrationStatus":"$context.integrationStatus""#));
    let filters = of_type(&template, "AWS::Logs::MetricFilter");
    let [(_, filter)] = filters.as_slice() else {
        panic!("one metric filter")
    };
    let filter = &filter["Properties"];
    assert_eq!(reference(&filter["LogGroupName"]), "ApiAccessLogs");
    assert_eq!(
        filter["FilterPattern"],
        r#"{ $.status >= 500 && $.integrationStatus != "413" }"#
    );
    let metric = &filter["MetricTransformations"][0];
    let alarm = &resources["Api5xxAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], metric["MetricName"]);
    assert_eq!(
        reference(&alarm["Namespace"]),
        reference(&metric["MetricNamespace"])
    );
    assert_eq!(alarm["Statistic"], "Sum");
    assert!(
        !serde_yaml_ng::to_string(resources)
            .unwrap()
            .contains("AWS/ApiGateway"),
        "no alarm on the gateway's own 5xx"
    );
}

/// SAM's build cache hashes only each function's `CodeUri` folder: a change in `shared/` or
/// `Cargo.lock` would leave the cached binary, and `sam deploy` would ship it.
/// <https://github.com/aws/aws-sam-cli/issues/4662>
#[test]
fn sam_builds_are_never_cached() {
    let config = root_file("samconfig.toml");
    assert!(config.contains("\ncached = false\n"), "{config}");
    assert!(!root_file("Makefile").contains("--cached"));
}

/// `dynamodb:ListStreams` has no resource type: granted on a table or stream ARN, it is
/// never allowed.
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html>
#[test]
fn actions_without_a_resource_type_are_granted_on_every_resource() {
    let template = template();
    for (role, resource) in of_type(&template, "AWS::IAM::Role") {
        for policy in list(&resource["Properties"]["Policies"]) {
            for statement in list(&policy["PolicyDocument"]["Statement"]) {
                let actions: Vec<&str> = list(&statement["Action"])
                    .into_iter()
                    .filter_map(Value::as_str)
                    .collect();
                if actions.contains(&"dynamodb:ListStreams") {
                    assert_eq!(actions, ["dynamodb:ListStreams"], "{role}");
                    assert_eq!(statement["Resource"], "*", "{role}");
                }
            }
        }
    }
}

/// A table is encrypted at rest with an AWS owned key, free, unless `SSESpecification` asks
/// for KMS: `SSEEnabled: true` alone picks the AWS managed key, billed per request. Said as
/// `SSEEnabled: false`, so that a stack deployed with `true` is moved back.
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html>
#[test]
fn the_table_uses_the_free_owned_key_unless_a_customer_key_is_named() {
    let template = template();
    for (name, table) in of_type(&template, "AWS::DynamoDB::Table") {
        let sse = &table["Properties"]["SSESpecification"];
        assert!(
            sse["SSEEnabled"] == false || !sse["KMSMasterKeyId"].is_null(),
            "{name}: SSEEnabled without a key of our own is billed for nothing"
        );
    }
}

/// What must be watched on AWS: every function's errors and throttles; every queue's depth;
/// the delivery queues' messages in flight (a standard queue gives nothing past about
/// 120,000); the stream mapping's failures to record what it gave up on; DynamoDB's
/// throttles on the table and every index; the stream's lag and the API's 5xx.
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html>
/// <https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html>
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html>
#[test]
fn every_function_queue_and_index_has_its_alarms() {
    let template = template();
    let alarms = of_type(&template, "AWS::CloudWatch::Alarm");
    let watched = |metric: &str, value: &str| {
        alarms.iter().any(|(_, alarm)| {
            let alarm = &alarm["Properties"];
            alarm["MetricName"] == metric
                && list(&alarm["Dimensions"])
                    .iter()
                    .any(|d| reference(&d["Value"]) == value)
        })
    };
    let functions = of_type(&template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 7, "the template's functions");
    for (function, _) in &functions {
        for metric in ["Errors", "Throttles"] {
            assert!(
                watched(metric, function),
                "{function} has no {metric} alarm"
            );
        }
    }
    let queues = of_type(&template, "AWS::SQS::Queue");
    assert_eq!(queues.len(), 4, "the template's queues");
    for (queue, _) in &queues {
        let name = format!("{queue}.QueueName");
        assert!(
            watched("ApproximateNumberOfMessagesVisible", &name),
            "{queue} has no depth alarm"
        );
    }
    for queue in ["EventsQueue", "SlowDeliveriesQueue"] {
        let name = format!("{queue}.QueueName");
        assert!(
            watched("ApproximateNumberOfMessagesNotVisible", &name),
            "{queue} has no in-flight alarm"
        );
    }
    assert!(watched("IteratorAge", "FanoutFunction"), "stream lag");
    assert!(
        watched("DestinationDeliveryFailures", "FanoutFunction"),
        "the stream mapping's on-failure destination"
    );
    let mut throttled = BTreeSet::new();
    for (name, alarm) in &alarms {
        let metrics = list(&alarm["Properties"]["Metrics"]);
        // CloudWatch refuses a metric-math alarm of more than 10 metrics.
        // <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-limits.html>
        let stats = metrics
            .iter()
            .filter(|m| !m["MetricStat"].is_null())
            .count();
        assert!(stats <= 10, "{name} has {stats} metrics");
        for metric in metrics {
            let stat = &metric["MetricStat"]["Metric"];
            if stat.is_null() || stat["Namespace"] != "AWS/DynamoDB" {
                continue;
            }
            let index = list(&stat["Dimensions"])
                .iter()
                .find(|d| d["Name"] == "GlobalSecondaryIndexName")
                .map(|d| d["Value"].as_str().unwrap().to_string())
                .unwrap_or_else(|| "table".into());
            throttled.insert((index, stat["MetricName"].as_str().unwrap().to_string()));
        }
    }
    let table = &of_type(&template, "AWS::DynamoDB::Table")[0].1;
    let mut indexes: Vec<String> = list(&table["Properties"]["GlobalSecondaryIndexes"])
        .iter()
        .map(|i| i["IndexName"].as_str().unwrap().to_string())
        .collect();
    indexes.push("table".into());
    for index in indexes {
        for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
            assert!(
                throttled.contains(&(index.clone(), metric.to_string())),
                "no alarm on {metric} of {index}"
            );
        }
    }
}

/// One row of the prompts table in docs/deploy.md: SAM's prompt, `<…>` marking what
/// varies, and the documented answer (Enter: the default).
struct Prompt {
    pattern: String,
    answer: String,
}

fn documented_prompts() -> Vec<Prompt> {
    let deploy = root_file("docs/deploy.md");
    let table = deploy
        .split("<!-- sam-deploy-guided-prompts -->\n")
        .nth(1)
        .expect("docs/deploy.md has the guided deploy's prompts");
    table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let pattern = cells[1].trim_matches('`').to_string();
            let answer = if cells[2].starts_with("Enter") {
                String::new()
            } else {
                cells[2]
                    .split('`')
                    .nth(1)
                    .expect("an answer in backticks")
                    .to_string()
            };
            Prompt { pattern, answer }
        })
        .collect()
}

/// Whether `text` is `pattern`, each `<…>` of it standing for any text.
fn fits(pattern: &str, text: &str) -> bool {
    match pattern.split_once('<') {
        None => pattern == text,
        Some((head, rest)) => {
            let tail = rest.split_once('>').map_or("", |(_, tail)| tail);
            text.starts_with(head)
                && (head.len()..=text.len())
                    .any(|at| text.is_char_boundary(at) && fits(tail, &text[at..]))
        }
    }
}

/// `sam deploy --guided` asks its questions before it needs AWS; answered as docs/deploy.md
/// says, it must reach "Looking for resources needed for deployment" (where, without
/// credentials here, it stops). Its default for each API route, "has no authentication. Is
/// this okay? [y/N]", would stop the deploy.
/// <https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-deploy.html>
#[test]
fn the_documented_answers_take_sam_deploy_guided_to_the_end_of_its_questions() {
    use std::io::{Read, Write};
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let sam = format!("{root}/.venv/bin/sam");
    let prompts = documented_prompts();
    assert!(prompts.len() >= 10, "the prompts table");
    let dir = std::env::temp_dir().join(format!("leadgrid-sam-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["template.yaml", "samconfig.toml"] {
        std::fs::copy(format!("{root}/{file}"), dir.join(file)).unwrap();
    }
    let mut child = Command::new(&sam)
        .args(["deploy", "--guided"])
        .current_dir(&dir)
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the SAM CLI in .venv (make setup)");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (sender, output) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stdout.read(&mut buffer) {
            if read == 0
                || sender
                    .send(String::from_utf8_lossy(&buffer[..read]).into())
                    .is_err()
            {
                break;
            }
        }
    });
    let mut transcript = String::new();
    let mut answered = 0;
    let mut asked = Vec::new();
    while let Ok(chunk) = output.recv_timeout(std::time::Duration::from_secs(60)) {
        transcript.push_str(&chunk);
        let pending = &transcript[answered..];
        if !pending.ends_with("]: ") {
            continue;
        }
        let prompt = pending
            .rsplit(['\t', '\n'])
            .next()
            .unwrap()
            .trim_end_matches(": ")
            .trim()
            .to_string();
        let Some(row) = prompts.iter().find(|row| fits(&row.pattern, &prompt)) else {
            let _ = child.kill();
            panic!("SAM asks `{prompt}`, which docs/deploy.md does not answer");
        };
        writeln!(stdin, "{}", row.answer).unwrap();
        asked.push(prompt);
        answered = transcript.len();
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        transcript.contains("Looking for resources needed for deployment"),
        "the questions did not end; asked {asked:#?}\n{transcript}"
    );
    let authentication = asked
        .iter()
        .filter(|p| p.ends_with("has no authentication. Is this okay? [y/N]"))
        .count();
    assert_eq!(authentication, API_ROUTES, "asked once per route");
}

/// The direct-upload limit the docs quote is the code's, which is what fits in Lambda's
/// 6 MB request after base64.
/// <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>
#[test]
fn the_documented_direct_upload_limit_is_the_codes() {
    use shared::cv::{DIRECT_UPLOAD_MAX_BYTES, LAMBDA_REQUEST_BYTES};
    assert_eq!(LAMBDA_REQUEST_BYTES, 6_291_456);
    assert!(DIRECT_UPLOAD_MAX_BYTES.div_ceil(3) * 4 < LAMBDA_REQUEST_BYTES - 60 * 1024);
    let digits = DIRECT_UPLOAD_MAX_BYTES.to_string();
    let mut quoted = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            quoted.push(',');
        }
        quoted.push(digit);
    }
    for doc in ["docs/api-guide.md", "docs/deploy.md"] {
        assert!(
            root_file(doc).contains(&quoted),
            "{doc} does not quote {quoted} bytes"
        );
    }
}

/// The global secondary indexes `template.yaml` declares.
fn indexes_of(template: &Value) -> BTreeSet<String> {
    let (_, table) = of_type(template, "AWS::DynamoDB::Table")[0];
    list(&table["Properties"]["GlobalSecondaryIndexes"])
        .iter()
        .map(|index| serde_yaml_ng::to_string(index).unwrap())
        .collect()
}

/// One table update may create or delete one global secondary index, and CloudFormation
/// makes one update of a template's whole change: two at once (or changing an index's keys
/// or projection, which replaces it) fail the deploy. Held commit by commit: against the
/// last commit that changed the template, at most one index is created or deleted.
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-dynamodb-table.html#cfn-dynamodb-table-globalsecondaryindexes>
#[test]
fn each_change_of_the_template_touches_at_most_one_index() {
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&root)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).to_string())
    };
    // The commit before the last one that changed the template, or before the working
    // tree's change when the template has uncommitted edits.
    let edited = git(&["diff", "--quiet", "HEAD", "--", "template.yaml"]).is_none();
    let changes = git(&["log", "--format=%H", "-n", "2", "--", "template.yaml"])
        .expect("git history (a clone of the repository)");
    let changes: Vec<&str> = changes.lines().collect();
    let before = if edited {
        changes.first()
    } else {
        changes.get(1)
    };
    let Some(before) = before else {
        return; // the template's first commit: nothing deployed to compare with
    };
    let old = git(&["show", &format!("{before}:template.yaml")]).unwrap();
    let old = indexes_of(&serde_yaml_ng::from_str(&old).unwrap());
    let new = indexes_of(&template());
    // Changing an index's keys or projection replaces it: a deletion and a creation.
    let changed = old.symmetric_difference(&new).count();
    assert!(
        changed <= 1,
        "{changed} index creations or deletions since {before}: deploy them one at a time"
    );
}

/// docs/deploy.md's monthly cost table adds up: each row's arithmetic gives its dollars (to
/// the cent), the rows give the total, and it counts as many alarms and alarm metrics as
/// `template.yaml` declares.
#[test]
fn the_monthly_cost_table_adds_up() {
    let doc = root_file("docs/deploy.md");
    let section = doc
        .split("## Cost of a month")
        .nth(1)
        .expect("docs/deploy.md has a monthly cost table");
    let rows: Vec<Vec<&str>> = section
        .lines()
        .skip_while(|line| !line.starts_with("| item"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    let cents = |dollars: &str| -> i64 {
        (dollars.trim_matches('*').parse::<f64>().unwrap() * 100.0).round() as i64
    };
    let mut sum = 0;
    for row in &rows[..rows.len() - 1] {
        let (item, arithmetic, dollars) = (row[0], row[2], row[3]);
        let computed = (evaluate(&arithmetic.replace(',', "")) * 100.0).round() as i64;
        assert_eq!(computed, cents(dollars), "{item}: {arithmetic}");
        sum += cents(dollars);
    }
    let total = rows.last().unwrap();
    assert_eq!(total[0], "**total**");
    assert_eq!(sum, cents(total[3]), "the total");

    let template = root_file("template.yaml");
    let alarms = template.matches("Type: AWS::CloudWatch::Alarm").count();
    let alarm_row = rows.iter().find(|r| r[0] == "CloudWatch alarms").unwrap();
    assert!(
        alarm_row[1].starts_with(&format!("{alarms} alarms")),
        "{}",
        alarm_row[1]
    );
}

/// `a × b + (c × d) …`: products and sums of decimal numbers, as the cost table writes them.
fn evaluate(expression: &str) -> f64 {
    fn sum(tokens: &mut std::iter::Peekable<std::vec::IntoIter<String>>) -> f64 {
        let mut total = product(tokens);
        while tokens.peek().is_some_and(|t| t == "+") {
            tokens.next();
            total += product(tokens);
        }
        total
    }
    fn product(tokens: &mut std::iter::Peekable<std::vec::IntoIter<String>>) -> f64 {
        let mut value = factor(tokens);
        while tokens.peek().is_some_and(|t| t == "×") {
            tokens.next();
            value *= factor(tokens);
        }
        value
    }
    fn factor(tokens: &mut std::iter::Peekable<std::vec::IntoIter<String>>) -> f64 {
        match tokens.next().as_deref() {
            Some("(") => {
                let value = sum(tokens);
                assert_eq!(tokens.next().as_deref(), Some(")"));
                value
            }
            Some(number) => number.parse().unwrap_or_else(|_| panic!("{number:?}")),
            None => panic!("an expression ends early"),
        }
    }
    let spaced = expression.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<String> = spaced.split_whitespace().map(str::to_string).collect();
    let mut tokens = tokens.into_iter().peekable();
    let value = sum(&mut tokens);
    assert!(tokens.next().is_none(), "{expression}");
    value
}
