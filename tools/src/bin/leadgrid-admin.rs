//! `leadgrid-admin`: the operator's CLI for organizations, members, API keys and flows.
//! Every command prints one JSON object on stdout; errors go to stderr with a non-zero exit.

use std::collections::HashMap;
use std::process::ExitCode;

use serde_json::{json, Value};
use shared::admin::webhooks::parse_event_types;
use shared::admin::{parse_scopes, Admin, AdminError, AdminResult};
use shared::flows::{DossierType, StageSpec};
use shared::orgs::Plan;
use shared::webhooks::Destinations;
use uuid::Uuid;

const USAGE: &str = "usage: leadgrid-admin [--env-file PATH] <command>

commands:
  org create --name NAME [--plan free|pro|growth]
  org set-plan --org ORG --plan PLAN
  org set-pool-days --org ORG --days N
  member add --org ORG --email EMAIL [--name NAME]
  key create --org ORG --scopes S1,S2,... [--expires-at RFC3339]
  key revoke --org ORG --id KEY_ID
  key list --org ORG
  flow create --org ORG --type candidate|sales --name NAME --stages JSON
  webhook create --org ORG --url URL [--events T1,T2]   (default: every event type)
  webhook list --org ORG
  webhook delete --org ORG --id ID
  webhook rotate-secret --org ORG --id ID [--grace-hours H]   (default 24)
  webhook attempts --org ORG --id ID [--event EVT]
  webhook replay --org ORG --id ID --event EVT

Settings come from the environment (TABLE_NAME, SECRET_ID, EVENTS_QUEUE_URL,
WEBHOOK_ALLOWED_DESTINATIONS, AWS_*), or from --env-file.
Without either, .leadgrid/local.env (written by `make dev`) is used when it exists.";

struct Args {
    words: Vec<String>,
    flags: HashMap<String, String>,
}

impl Args {
    fn parse(raw: Vec<String>) -> Result<Self, String> {
        let mut words = Vec::new();
        let mut flags = HashMap::new();
        let mut iter = raw.into_iter();
        while let Some(arg) = iter.next() {
            if let Some(flag) = arg.strip_prefix("--") {
                let (name, value) = match flag.split_once('=') {
                    Some((name, value)) => (name.to_string(), value.to_string()),
                    None => {
                        let value = iter
                            .next()
                            .ok_or_else(|| format!("--{flag} needs a value"))?;
                        (flag.to_string(), value)
                    }
                };
                if flags.insert(name.clone(), value).is_some() {
                    return Err(format!("--{name} given twice"));
                }
            } else {
                words.push(arg);
            }
        }
        Ok(Self { words, flags })
    }

    fn take(&mut self, name: &str) -> Option<String> {
        self.flags.remove(name)
    }

    fn required(&mut self, name: &str) -> AdminResult<String> {
        self.take(name)
            .ok_or_else(|| AdminError(format!("--{name} is required")))
    }

    fn org(&mut self) -> AdminResult<Uuid> {
        uuid(&self.required("org")?, "--org")
    }

    fn finish(self) -> AdminResult<()> {
        match self.flags.keys().next() {
            Some(name) => Err(AdminError(format!("unknown option --{name}"))),
            None => Ok(()),
        }
    }
}

fn uuid(raw: &str, what: &str) -> AdminResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AdminError(format!("{what} must be a UUID")))
}

fn plan(raw: &str) -> AdminResult<Plan> {
    Plan::parse(raw).ok_or_else(|| AdminError("--plan must be free, pro or growth".into()))
}

fn load_settings(args: &mut Args) -> Result<(), String> {
    let file = match args.take("env-file") {
        Some(path) => Some(path),
        None if std::env::var_os("TABLE_NAME").is_none() => {
            Some(".leadgrid/local.env".to_string()).filter(|p| std::path::Path::new(p).is_file())
        }
        None => None,
    };
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        for (key, value) in shared::local::parse_env_file(&text) {
            std::env::set_var(key, value);
        }
    }
    Ok(())
}

async fn run(mut args: Args) -> AdminResult<Value> {
    let config = shared::config::Config::from_env().map_err(AdminError)?;
    let sdk = shared::config::aws().await;
    let core = shared::http::Core::new(&sdk, &config);
    let admin = Admin::new(core.db, core.secrets);
    let to_json =
        |value: Result<Value, serde_json::Error>| value.map_err(|e| AdminError(e.to_string()));
    let words: Vec<&str> = args.words.iter().map(String::as_str).collect::<Vec<_>>();
    let command = words.join(" ");
    let out = match command.as_str() {
        "org create" => {
            let name = args.required("name")?;
            let plan = plan(&args.take("plan").unwrap_or_else(|| "growth".into()))?;
            args.finish()?;
            let org = admin.create_org(&name, plan).await?;
            json!({ "id": org.id, "name": org.name, "plan": org.plan })
        }
        "org set-plan" => {
            let org = args.org()?;
            let plan = plan(&args.required("plan")?)?;
            args.finish()?;
            let org = admin.set_plan(org, plan).await?;
            json!({ "id": org.id, "plan": org.plan })
        }
        "org set-pool-days" => {
            let org = args.org()?;
            let days = args
                .required("days")?
                .parse()
                .map_err(|_| AdminError("--days must be a whole number".into()))?;
            args.finish()?;
            let org = admin.set_pool_days(org, days).await?;
            json!({ "id": org.id, "pool_days": org.pool_days })
        }
        "member add" => {
            let org = args.org()?;
            let email = args.required("email")?;
            let name = args.take("name");
            args.finish()?;
            let member = admin.add_member(org, &email, name.as_deref()).await?;
            json!({ "id": member.id, "email": member.email, "name": member.name })
        }
        "key create" => {
            let org = args.org()?;
            let scopes = parse_scopes(&args.required("scopes")?)?;
            let expires_at = match args.take("expires-at") {
                Some(raw) => Some(shared::clock::parse(&raw).ok_or_else(|| {
                    AdminError("--expires-at must be an RFC 3339 timestamp".into())
                })?),
                None => None,
            };
            args.finish()?;
            serde_json::to_value(admin.create_key(org, scopes, expires_at).await?)
                .map_err(|e| AdminError(e.to_string()))?
        }
        "key revoke" => {
            let org = args.org()?;
            let id = uuid(&args.required("id")?, "--id")?;
            args.finish()?;
            admin.revoke_key(org, id).await?;
            json!({ "id": id, "revoked": true })
        }
        "key list" => {
            let org = args.org()?;
            args.finish()?;
            json!({ "data": admin.list_keys(org).await? })
        }
        "flow create" => {
            let org = args.org()?;
            let kind = DossierType::parse(&args.required("type")?)
                .ok_or_else(|| AdminError("--type must be candidate or sales".into()))?;
            let name = args.required("name")?;
            let stages: Vec<StageSpec> = serde_json::from_str(&args.required("stages")?).map_err(|e| {
                AdminError(format!(
                    "--stages must be a JSON array of {{\"name\",\"deadline_days\",\"win_probability\",\"color\"}}: {e}"
                ))
            })?;
            args.finish()?;
            serde_json::to_value(admin.create_flow(org, kind, &name, stages).await?)
                .map_err(|e| AdminError(e.to_string()))?
        }
        "webhook create" => {
            let org = args.org()?;
            let url = args.required("url")?;
            let events = parse_event_types(args.take("events").as_deref())?;
            args.finish()?;
            let destinations = Destinations::from_env().map_err(AdminError)?;
            to_json(serde_json::to_value(
                admin
                    .create_webhook(org, &url, events, destinations)
                    .await?,
            ))?
        }
        "webhook list" => {
            let org = args.org()?;
            args.finish()?;
            json!({ "data": admin.list_webhooks(org).await? })
        }
        "webhook delete" => {
            let org = args.org()?;
            let id = uuid(&args.required("id")?, "--id")?;
            args.finish()?;
            admin.delete_webhook(org, id).await?;
            json!({ "id": id, "deleted": true })
        }
        "webhook rotate-secret" => {
            let org = args.org()?;
            let id = uuid(&args.required("id")?, "--id")?;
            let grace_hours = match args.take("grace-hours") {
                Some(raw) => raw.parse().map_err(|_| {
                    AdminError("--grace-hours must be a whole number of hours".into())
                })?,
                None => 24,
            };
            args.finish()?;
            to_json(serde_json::to_value(
                admin.rotate_webhook_secret(org, id, grace_hours).await?,
            ))?
        }
        "webhook attempts" => {
            let org = args.org()?;
            let id = uuid(&args.required("id")?, "--id")?;
            let event = args.take("event");
            args.finish()?;
            json!({ "data": admin.webhook_attempts(org, id, event.as_deref()).await? })
        }
        "webhook replay" => {
            let org = args.org()?;
            let id = uuid(&args.required("id")?, "--id")?;
            let event = args.required("event")?;
            args.finish()?;
            let queue_url = config
                .events_queue_url
                .clone()
                .ok_or_else(|| AdminError("EVENTS_QUEUE_URL is not set".into()))?;
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            let delivery = admin
                .replay_webhook(org, id, &event, &sqs, &queue_url)
                .await?;
            json!({ "event_id": delivery.event_id, "endpoint_id": delivery.endpoint_id, "queued": true })
        }
        _ => {
            return Err(AdminError(format!(
                "unknown command {command:?}\n\n{USAGE}"
            )))
        }
    };
    Ok(out)
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.is_empty() || raw.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!("{USAGE}");
        return if raw.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let mut args = match Args::parse(raw) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("leadgrid-admin: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Settings are loaded into the environment before any thread starts.
    if let Err(err) = load_settings(&mut args) {
        eprintln!("leadgrid-admin: {err}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("leadgrid-admin: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("leadgrid-admin: {err}");
            ExitCode::FAILURE
        }
    }
}
