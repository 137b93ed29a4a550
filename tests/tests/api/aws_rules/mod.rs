//! Rules AWS enforces that DynamoDB Local, moto and `cargo lambda watch` do not, held to
//! `template.yaml`, `samconfig.toml` and the docs. Each test names the AWS document whose
//! rule it encodes; the local stack would pass without any of them.

use serde_yaml_ng::Value;

use crate::routes::root_file;

mod alarms;
mod costs;
mod deploy;
mod gateway;
mod resources;

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

/// The routes of the API: one per path, and `$default`.
const API_ROUTES: usize = 25;
