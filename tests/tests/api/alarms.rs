//! `template.yaml`'s alarms: every function and every queue is watched, the stream's lag
//! and the API's 5xx too, and every alarm notifies the alarm topic.

/// The template's resources, in order: each one's name and the text of its block.
fn resources() -> Vec<(String, String)> {
    let template = include_str!("../../../template.yaml");
    let body = template
        .split("\nResources:\n")
        .nth(1)
        .and_then(|rest| rest.split("\nOutputs:\n").next())
        .expect("template.yaml has Resources and Outputs");
    let mut found: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        let top_level = line
            .strip_prefix("  ")
            .and_then(|rest| rest.strip_suffix(':'))
            .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric()));
        match (top_level, found.last_mut()) {
            (Some(name), _) => found.push((name.to_string(), String::new())),
            (None, Some((_, block))) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, None) => {}
        }
    }
    found
}

#[test]
fn every_function_and_queue_has_its_alarms_and_every_alarm_notifies() {
    let resources = resources();
    let of_type = |kind: &str| -> Vec<(String, String)> {
        resources
            .iter()
            .filter(|(_, block)| block.contains(&format!("    Type: {kind}\n")))
            .cloned()
            .collect()
    };
    let alarms = of_type("AWS::CloudWatch::Alarm");
    let watched = |metric: &str, value: &str| {
        alarms.iter().any(|(_, alarm)| {
            alarm.contains(&format!("      MetricName: {metric}\n"))
                && alarm.contains(&format!("          Value: {value}\n"))
        })
    };
    let functions = of_type("AWS::Serverless::Function");
    assert_eq!(functions.len(), 7, "the template's functions");
    for (function, _) in &functions {
        for metric in ["Errors", "Throttles"] {
            assert!(
                watched(metric, &format!("!Ref {function}")),
                "{function} has no {metric} alarm"
            );
        }
    }
    let queues = of_type("AWS::SQS::Queue");
    assert_eq!(queues.len(), 4, "the template's queues");
    for (queue, _) in &queues {
        assert!(
            watched(
                "ApproximateNumberOfMessagesVisible",
                &format!("!GetAtt {queue}.QueueName")
            ),
            "{queue} has no depth alarm"
        );
    }
    assert!(watched("IteratorAge", "!Ref FanoutFunction"), "stream lag");
    assert!(watched("5xx", "!Ref Api"), "API 5xx");
    for (name, alarm) in &alarms {
        assert!(
            alarm.contains("      AlarmActions: [!Ref AlarmTopic]\n"),
            "{name} notifies nobody"
        );
    }
}
