//! The local AWS stack: DynamoDB Local and moto as child processes, the resources the
//! functions expect, and the event source mappings (stream and queue pollers) that AWS would
//! run. Used by `leadgrid-local dev` (`make dev`) and `leadgrid-local test` (`make test`).

pub mod pollers;
pub mod resources;
pub mod services;
pub mod stack;

/// The variables every function reads, with the names they have on AWS.
#[derive(Clone, Debug)]
pub struct StackEnv {
    pub vars: Vec<(String, String)>,
}

impl StackEnv {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn to_env_file(&self) -> String {
        self.vars
            .iter()
            .map(|(key, value)| format!("{key}={value}\n"))
            .collect()
    }

    /// Sets the variables in this process, so SDK clients built afterwards use the stack.
    pub fn apply(&self) {
        for (key, value) in &self.vars {
            // Called before any other thread reads the environment.
            std::env::set_var(key, value);
        }
    }
}

/// Reads `KEY=VALUE` lines; blank lines and `#` comments are skipped.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// An SDK error with its whole chain of causes, for operators' eyes.
pub fn describe<E: std::error::Error>(err: E) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_round_trip() {
        let env = StackEnv {
            vars: vec![
                ("TABLE_NAME".into(), "leadgrid".into()),
                ("A".into(), "b=c".into()),
            ],
        };
        let text = format!("# comment\n\n{}", env.to_env_file());
        assert_eq!(parse_env_file(&text), env.vars);
        assert_eq!(env.get("A"), Some("b=c"));
    }
}
