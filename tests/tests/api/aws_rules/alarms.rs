//! Alarms: each reaches a topic CloudWatch may use, and everything that must be watched is.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

use super::{list, of_type, reference, template};

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
    assert_eq!(functions.len(), 8, "the template's functions");
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
