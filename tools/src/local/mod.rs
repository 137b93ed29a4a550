//! The local AWS stack: DynamoDB Local and moto as child processes, the resources the
//! functions expect, and the event source mappings (stream and queue pollers) that AWS would
//! run. Used by `leadgrid-local dev` (`make dev`) and `leadgrid-local test` (`make test`).

pub mod pollers;
pub mod resources;
pub mod services;
pub mod stack;

use std::future::Future;
use std::path::Path;
use std::time::Instant;

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

    /// `KEY='value'` lines, as shells and dotenv readers (`leadgrid-admin --env-file`)
    /// read them: single quotes keep a value as it is.
    pub fn to_env_file(&self) -> String {
        self.vars
            .iter()
            .map(|(key, value)| format!("{key}='{}'\n", value.replace('\'', r"'\''")))
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

/// One step of starting the stack, as `tools/step` shows the Makefile's: named as it starts,
/// timed when it ends, and named with the log to read when it fails.
pub async fn step<T>(
    name: &str,
    log: Option<&Path>,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    println!("==> {name}");
    let started = Instant::now();
    match work.await {
        Ok(value) => {
            println!("<== {name}: {:.1} s", started.elapsed().as_secs_f64());
            Ok(value)
        }
        Err(err) => Err(match log {
            Some(log) => format!("{name} failed: {err}. Its log: {}", log.display()),
            None => format!("{name} failed: {err}"),
        }),
    }
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
                ("QUOTED".into(), r#"{"a": "it's # not a comment"}"#.into()),
            ],
        };
        let text = format!("# comment\n\n{}", env.to_env_file());
        let read: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
            .map(Result::unwrap)
            .collect();
        assert_eq!(read, env.vars);
        assert_eq!(env.get("A"), Some("b=c"));
    }
}
