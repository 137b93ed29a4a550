//! Starting and stopping the whole local stack.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::resources::{self, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};
use super::services::{self, Service};
use super::{step, StackEnv};

pub enum Storage {
    /// Kept under `.leadgrid/dynamodb`, so a restart loses nothing (`make dev`).
    Persistent,
    /// Gone when the stack stops (`make test`).
    InMemory,
}

pub struct Stack {
    pub env: StackEnv,
    pub services: Vec<Service>,
}

impl Stack {
    pub async fn stop(self) {
        for service in self.services.into_iter().rev() {
            service.stop().await;
        }
    }
}

fn port_from_env(name: &str, default: u16) -> Result<u16, String> {
    match std::env::var(name) {
        Ok(raw) => raw
            .parse()
            .map_err(|_| format!("{name} must be a port number, not {raw:?}")),
        Err(_) if services::port_is_free(default) => Ok(default),
        Err(_) => services::free_port(),
    }
}

/// Starts DynamoDB Local and moto, creates what is missing and returns the environment
/// the functions need. `state` is the `.leadgrid` folder.
pub async fn start(root: &Path, state: &Path, storage: Storage) -> Result<Stack, String> {
    std::fs::create_dir_all(state).map_err(|e| format!("{}: {e}", state.display()))?;
    let (dynamodb_port, moto_port, data_dir) = ports_and_data_dir(state, &storage)?;
    let mut stack = Stack {
        env: StackEnv { vars: Vec::new() },
        services: Vec::new(),
    };
    let started = async {
        let ports = (dynamodb_port, moto_port);
        start_services(&mut stack.services, root, state, ports, data_dir.as_deref()).await?;
        let secret_strings = secret_strings(state, &storage)?;
        let mut env = environment(dynamodb_port, moto_port);
        env.apply();
        let queues = step(
            "creating resources (table, bucket, queues, secrets)",
            None,
            create_resources(&secret_strings),
        )
        .await?;
        add_queues_and_destinations(&mut env, queues);
        env.apply();
        Ok(env)
    }
    .await;
    match started {
        Ok(env) => {
            stack.env = env;
            Ok(stack)
        }
        Err(err) => {
            stack.stop().await;
            Err(err)
        }
    }
}

/// The ports DynamoDB Local and moto listen on, and where DynamoDB Local keeps its data.
fn ports_and_data_dir(
    state: &Path,
    storage: &Storage,
) -> Result<(u16, u16, Option<PathBuf>), String> {
    Ok(match storage {
        Storage::Persistent => {
            let dir = state.join("dynamodb");
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            (
                port_from_env("LEADGRID_DYNAMODB_PORT", 8000)?,
                port_from_env("LEADGRID_MOTO_PORT", 5000)?,
                Some(dir),
            )
        }
        Storage::InMemory => (services::free_port()?, services::free_port()?, None),
    })
}

/// Spawns DynamoDB Local and moto into `running` and waits until both listen.
async fn start_services(
    running: &mut Vec<Service>,
    root: &Path,
    state: &Path,
    (dynamodb_port, moto_port): (u16, u16),
    data_dir: Option<&Path>,
) -> Result<(), String> {
    let dynamodb_log = state.join(format!("dynamodb-{dynamodb_port}.log"));
    let moto_log = state.join(format!("moto-{moto_port}.log"));
    // Both start at once; each step waits for its own port.
    running.push(Service::spawn(
        "dynamodb-local",
        services::dynamodb_command(root, dynamodb_port, data_dir)?,
        Some(&dynamodb_log),
    )?);
    running.push(Service::spawn(
        "moto",
        services::moto_command(root, moto_port)?,
        Some(&moto_log),
    )?);
    for (name, port, log) in [
        ("DynamoDB Local", dynamodb_port, &dynamodb_log),
        ("moto (S3, SQS, Secrets Manager)", moto_port, &moto_log),
    ] {
        step(
            &format!("starting {name} on port {port}"),
            Some(log),
            async {
                if services::wait_for_port(port, Duration::from_secs(60)).await {
                    Ok(())
                } else {
                    Err("nothing listens after 60 s".to_string())
                }
            },
        )
        .await?;
    }
    Ok(())
}

/// The secret strings of the API-key secret and the webhook secret.
fn secret_strings(state: &Path, storage: &Storage) -> Result<[String; 2], String> {
    // `secret.json` held the single secret of earlier versions, whose root gave both
    // the key pepper and the webhook key: as the API-key secret, and as the first
    // webhook secret, it keeps local keys and endpoint secrets working.
    Ok(match storage {
        Storage::Persistent => {
            let (single, webhook) = (state.join("secret.json"), state.join("webhook-secret.json"));
            let upgrading = single.exists() && !webhook.exists();
            let api_keys = persistent_secret(&single, None)?;
            let webhooks = persistent_secret(&webhook, upgrading.then_some(&api_keys))?;
            [api_keys, webhooks]
        }
        Storage::InMemory => [
            resources::new_secret_string(),
            resources::new_secret_string(),
        ],
    })
}

/// The table, the CV bucket, the queues and both secrets, each created when missing.
async fn create_resources(secret_strings: &[String; 2]) -> Result<resources::Created, String> {
    let sdk = shared::config::aws().await;
    resources::ensure_table(&aws_sdk_dynamodb::Client::new(&sdk), resources::TABLE_NAME).await?;
    resources::ensure_bucket(&shared::config::s3_client(&sdk), resources::CV_BUCKET).await?;
    let queues = resources::ensure_queues(&aws_sdk_sqs::Client::new(&sdk)).await?;
    let secretsmanager = aws_sdk_secretsmanager::Client::new(&sdk);
    for (id, secret_string) in [resources::API_KEY_SECRET_ID, resources::WEBHOOK_SECRET_ID]
        .into_iter()
        .zip(secret_strings)
    {
        resources::ensure_secret(&secretsmanager, id, secret_string).await?;
    }
    Ok(queues)
}

fn add_queues_and_destinations(env: &mut StackEnv, queues: resources::Created) {
    env.vars.push(("EVENTS_QUEUE_URL".into(), queues.queue_url));
    env.vars.push(("EVENTS_DLQ_URL".into(), queues.dlq_url));
    env.vars
        .push(("SLOW_DELIVERIES_QUEUE_URL".into(), queues.slow_queue_url));
    env.vars
        .push(("STREAM_FAILURE_QUEUE_URL".into(), queues.stream_failure_url));
    // Local receivers listen on plain http on 127.0.0.1; deployed stacks allow public
    // https addresses only.
    env.vars.push((
        "WEBHOOK_ALLOWED_DESTINATIONS".into(),
        "public,loopback".into(),
    ));
    env.vars
        .push(("WEBHOOK_REQUIRE_HTTPS".into(), "false".into()));
}

fn environment(dynamodb_port: u16, moto_port: u16) -> StackEnv {
    let moto = format!("http://127.0.0.1:{moto_port}");
    let vars = [
        ("AWS_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_string()),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://127.0.0.1:{dynamodb_port}"),
        ),
        (
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
            format!("http://127.0.0.1:{dynamodb_port}"),
        ),
        ("AWS_ENDPOINT_URL_S3", moto.clone()),
        ("AWS_ENDPOINT_URL_SQS", moto.clone()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto),
        ("TABLE_NAME", resources::TABLE_NAME.to_string()),
        ("CV_BUCKET", resources::CV_BUCKET.to_string()),
        (
            "API_KEY_SECRET_ID",
            resources::API_KEY_SECRET_ID.to_string(),
        ),
        (
            "WEBHOOK_SECRET_ID",
            resources::WEBHOOK_SECRET_ID.to_string(),
        ),
    ];
    StackEnv {
        vars: vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

/// Each local secret lives on disk, so that API keys and endpoint secrets survive restarts.
/// A missing one starts as `first` when given, else fresh.
fn persistent_secret(path: &PathBuf, first: Option<&String>) -> Result<String, String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        use shared::secrets::SecretMaterial;
        if shared::secrets::WebhookMasterKey::from_secret_string(&existing).is_ok() {
            return Ok(existing);
        }
    }
    let fresh = first.cloned().unwrap_or_else(resources::new_secret_string);
    std::fs::write(path, &fresh).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(fresh)
}
