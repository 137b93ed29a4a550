//! The deployment's Lambda functions, listed once: the Makefile, template.yaml, the
//! workspace, the watch router, `events/`, the bench and the tests are held to this list by
//! one drift test, and each function's settings are read and checked against it, once, at
//! init.

use crate::config::Config;

crate::wire_enum! {
    /// One Lambda function: an API resource group, or a step of the event pipeline. Its
    /// wire name is its crate's, its binary's and its folder's under `functions/`.
    pub enum Function {
        Dossiers = "dossiers",
        Contacts = "contacts",
        Flows = "flows",
        Notes = "notes",
        WebhookEndpoints = "webhook-endpoints",
        Events = "events",
        Fanout = "fanout",
        Delivery = "delivery",
    }
}

/// What invokes a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// API Gateway (HTTP API, payload v2).
    Api,
    /// The table's DynamoDB stream.
    Stream,
    /// An SQS queue.
    Queue,
}

impl Function {
    pub fn trigger(self) -> Trigger {
        match self {
            Function::Fanout => Trigger::Stream,
            Function::Delivery => Trigger::Queue,
            _ => Trigger::Api,
        }
    }

    /// The functions API Gateway invokes.
    pub fn api() -> impl Iterator<Item = Function> {
        Self::ALL
            .into_iter()
            .filter(|function| function.trigger() == Trigger::Api)
    }

    /// The function whose resource in template.yaml is `template_id`.
    pub fn of_template(template_id: &str) -> Option<Function> {
        Self::ALL
            .into_iter()
            .find(|function| function.template_id() == template_id)
    }

    /// Its resource in template.yaml.
    pub fn template_id(self) -> String {
        let words: String = self
            .as_str()
            .split('-')
            .map(|word| word[..1].to_uppercase() + &word[1..])
            .collect();
        format!("{words}Function")
    }

    /// The sample event in `events/` that `cargo lambda invoke` (and the bench) sends it.
    pub fn sample_event(self) -> String {
        match self.trigger() {
            Trigger::Api => format!("events/api-{}-list.json", self.as_str()),
            Trigger::Stream => "events/dynamodb-stream-outbox.json".into(),
            Trigger::Queue => "events/sqs-delivery-batch.json".into(),
        }
    }

    /// The settings it cannot start without, beside `TABLE_NAME`, which every one needs.
    pub fn required_settings(self) -> &'static [&'static str] {
        match self {
            Function::Dossiers => &["API_KEY_SECRET_ID", "CV_BUCKET"],
            Function::Contacts | Function::Flows | Function::Notes | Function::Events => {
                &["API_KEY_SECRET_ID"]
            }
            Function::WebhookEndpoints => {
                &["API_KEY_SECRET_ID", "WEBHOOK_SECRET_ID", "EVENTS_QUEUE_URL"]
            }
            Function::Fanout => &["EVENTS_QUEUE_URL"],
            Function::Delivery => &[
                "WEBHOOK_SECRET_ID",
                "EVENTS_QUEUE_URL",
                "EVENTS_DLQ_URL",
                "SLOW_DELIVERIES_QUEUE_URL",
            ],
        }
    }

    /// Its settings, read once at init: an error names every required one missing, so a
    /// function that cannot work stops at init, never at a request.
    pub fn settings(self) -> Result<Config, String> {
        let config = Config::from_env()?;
        let missing: Vec<&str> = self
            .required_settings()
            .iter()
            .copied()
            .filter(|name| !config.has(name))
            .collect();
        if missing.is_empty() {
            Ok(config)
        } else {
            Err(format!(
                "the {} function needs these environment variables, which are not set: {}",
                self.as_str(),
                missing.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

    fn read(path: &str) -> String {
        std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn names() -> Vec<String> {
        Function::ALL
            .iter()
            .map(|f| f.as_str().to_string())
            .collect()
    }

    /// The words after `NAME :=` on the Makefile's line that sets it.
    fn make_list(makefile: &str, name: &str) -> Vec<String> {
        let line = makefile
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} := ")))
            .unwrap_or_else(|| panic!("the Makefile sets no {name}"));
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn the_makefile_builds_and_packages_every_function() {
        let makefile = read("Makefile");
        assert_eq!(make_list(&makefile, "FUNCTIONS"), names());
        let packaged: Vec<String> = Function::ALL
            .iter()
            .map(|f| f.template_id().trim_end_matches("Function").to_string())
            .collect();
        assert_eq!(make_list(&makefile, "SAM_FUNCTIONS"), packaged);
    }

    /// Each function's resource, with its code and the settings it needs (its own, or the
    /// globals'); and no function the registry does not list.
    #[test]
    fn the_template_deploys_every_function_with_its_settings() {
        let template = read("template.yaml");
        let globals = template.split("\nResources:\n").next().unwrap();
        for function in Function::ALL {
            let start = format!("\n  {}:\n", function.template_id());
            let block = template
                .split(&start)
                .nth(1)
                .and_then(|rest| rest.split("\n\n").next())
                .unwrap_or_else(|| panic!("template.yaml has no {}", function.template_id()));
            assert!(
                block.contains(&format!("CodeUri: functions/{}\n", function.as_str())),
                "{}'s CodeUri",
                function.template_id()
            );
            for setting in ["TABLE_NAME"].iter().chain(function.required_settings()) {
                let set = |text: &str| text.contains(&format!("          {setting}: "));
                assert!(
                    set(block) || globals.contains(&format!("        {setting}: ")),
                    "{} does not set {setting}",
                    function.template_id()
                );
            }
        }
        let deployed = template.matches("Type: AWS::Serverless::Function").count();
        assert_eq!(
            deployed,
            Function::ALL.len(),
            "a function the registry does not list"
        );
    }

    #[test]
    fn the_workspace_and_the_watch_router_hold_the_functions() {
        let cargo = read("Cargo.toml");
        let on_disk: BTreeSet<String> = std::fs::read_dir(format!("{ROOT}/functions"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(on_disk, names().into_iter().collect());
        for name in names() {
            assert!(cargo.contains(&format!("\"functions/{name}\",")), "{name}");
        }
        let routed: BTreeSet<&str> = cargo
            .lines()
            .filter(|line| line.starts_with("\"/api/v1/"))
            .filter_map(|line| line.rsplit_once(" = ").map(|(_, f)| f.trim_matches('"')))
            .collect();
        let api: BTreeSet<&str> = Function::api().map(Function::as_str).collect();
        assert_eq!(routed, api);
    }

    #[test]
    fn every_function_has_its_sample_event_and_no_event_is_orphaned() {
        let samples: BTreeSet<String> = Function::ALL.iter().map(|f| f.sample_event()).collect();
        let on_disk: BTreeSet<String> = std::fs::read_dir(format!("{ROOT}/events"))
            .unwrap()
            .map(|entry| format!("events/{}", entry.unwrap().file_name().to_string_lossy()))
            .collect();
        assert_eq!(on_disk, samples);
    }

    #[test]
    fn template_ids_are_the_names_in_pascal_case() {
        assert_eq!(
            Function::WebhookEndpoints.template_id(),
            "WebhookEndpointsFunction"
        );
        assert_eq!(Function::Dossiers.template_id(), "DossiersFunction");
        assert_eq!(Function::api().count(), 6);
    }
}
