//! `leadgrid-admin`: the operator's CLI for organizations, members, API keys and flows.
//! Every command prints one JSON object on stdout (`--pretty` indents it); errors go to
//! stderr with a non-zero exit.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use leadgrid_tools::admin::webhooks::{endpoint_changes, parse_event_types};
use leadgrid_tools::admin::{parse_scopes, Admin, AdminError, AdminResult};
use serde_json::{json, Value};
use shared::domain::flows::{DossierType, StageSpec};
use shared::domain::orgs::Plan;
use shared::webhooks::endpoints::EndpointChanges;
use shared::webhooks::Destinations;
use time::OffsetDateTime;
use uuid::Uuid;

/// Settings come from the environment (TABLE_NAME, API_KEY_SECRET_ID, WEBHOOK_SECRET_ID, EVENTS_QUEUE_URL,
/// STREAM_FAILURE_QUEUE_URL, WEBHOOK_ALLOWED_DESTINATIONS, WEBHOOK_REQUIRE_HTTPS, AWS_*), or from --env-file.
/// Without either, .leadgrid/local.env (written by `make dev`) is used when it exists.
/// Variables set in the environment win over the file's. `--org` defaults to $LEADGRID_ORG.
#[derive(Parser)]
#[command(name = "leadgrid-admin", version)]
struct Cli {
    /// Read settings from this dotenv file (`KEY=value`, `export KEY=value`, quoted values;
    /// variables already set win). It may set LEADGRID_ORG too.
    #[arg(long, global = true, value_name = "PATH")]
    env_file: Option<String>,
    /// Indent the JSON printed.
    #[arg(long, global = true)]
    pretty: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Members, whose ids dossiers take as `assigned_to`.
    #[command(subcommand)]
    Member(MemberCommand),
    /// API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Flows and their stages.
    #[command(subcommand)]
    Flow(FlowCommand),
    /// Webhook endpoints, their attempt logs and replays.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Dossiers' counters.
    #[command(subcommand)]
    Dossiers(DossiersCommand),
    /// Contacts' indexes.
    #[command(subcommand)]
    Contacts(ContactsCommand),
    /// CV files.
    #[command(subcommand)]
    Cv(CvCommand),
    /// Domain events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// The application secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Once, after upgrading a stack deployed with a single secret: writes the pepper its
    /// API keys were made with into the API-key secret, so that they stay valid. Safe to
    /// run again.
    CarryOverPepper,
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Fans out again the events the stream consumer gave up on. Reads every message of
    /// the stream failure queue (STREAM_FAILURE_QUEUE_URL), re-reads the stream records
    /// and outbox items it points to, and queues their deliveries (EVENTS_QUEUE_URL).
    /// An event already redriven is not sent again; a message is deleted once all it
    /// points to is done, and kept (with the reason printed) otherwise.
    Redrive,
}

#[derive(Subcommand)]
enum CvCommand {
    /// Erases a dossier's CV for a data-subject request: the dossier stops naming it (a
    /// `dossier.updated`), then every version of it and of its uploads is deleted from the
    /// versioned bucket. Safe to run again.
    Erase {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        dossier: Uuid,
    },
}

#[derive(Subcommand)]
enum DossiersCommand {
    /// Recounts an organization's dossier and stage counters from its dossiers: once per
    /// organization after upgrading from a version that kept every stage's counts in one
    /// item. Safe to run again; run it while dossiers are not being written.
    Recount {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
    },
}

#[derive(Subcommand)]
enum ContactsCommand {
    /// Writes the search entries, pool entries and kind index keys of an organization's
    /// contacts, oldest first, for contacts written before the indexes existed, then
    /// recounts its kinds totals and pool counters. Safe to run again; run it while contacts are not being
    /// written. Progress goes to stderr; `--after` resumes after the last id printed.
    Reindex {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        /// Start after this contact id.
        #[arg(long, value_parser = id)]
        after: Option<Uuid>,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Every organization, oldest first.
    List,
    /// Once, after upgrading from a version without `org list`: lists the organizations
    /// made before it (reads the whole table once). Safe to run again.
    Index,
    /// Creates an organization with the default flows.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = plan, default_value = "growth")]
        plan: Plan,
    },
    SetPlan {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = plan)]
        plan: Plan,
    },
    SetPoolDays {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long)]
        days: u32,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    Add {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Prints the key's secret this once.
    Create {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        /// Comma-separated, e.g. dossiers:read,notes:write.
        #[arg(long)]
        scopes: String,
        #[arg(long, value_parser = timestamp, value_name = "RFC3339")]
        expires_at: Option<OffsetDateTime>,
        /// What the key is for, shown by `key list` (e.g. "Zapier sync").
        #[arg(long)]
        name: Option<String>,
    },
    Revoke {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        id: Uuid,
    },
    List {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
    },
}

#[derive(Subcommand)]
enum FlowCommand {
    Create {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long = "type", value_parser = dossier_type)]
        kind: DossierType,
        #[arg(long)]
        name: String,
        /// A JSON array of {"name","deadline_days","win_probability","color"}.
        #[arg(long, value_parser = stages)]
        stages: Stages,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Prints the endpoint's signing secret this once.
    Create {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long)]
        url: String,
        /// Comma-separated event types, or `*` (the default): every type, today's and later ones.
        #[arg(long)]
        events: Option<String>,
    },
    List {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
    },
    /// Changes the endpoint's URL, event types or description, as PATCH does.
    Update {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        id: Uuid,
        #[arg(long)]
        url: Option<String>,
        /// Comma-separated event types.
        #[arg(long)]
        events: Option<String>,
        /// An empty value clears it.
        #[arg(long)]
        description: Option<String>,
    },
    /// Resumes deliveries to a disabled endpoint, for events made from now on.
    Enable {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        id: Uuid,
    },
    /// Stops every delivery to the endpoint, queued ones included.
    Disable {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        id: Uuid,
    },
    /// Deletes the endpoint; queued deliveries to it are dropped.
    Delete {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        id: Uuid,
    },
    /// A new secret; the old one keeps signing for the grace period.
    RotateSecret {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        id: Uuid,
        #[arg(long, default_value_t = 24)]
        grace_hours: u32,
    },
    /// The attempt log, newest first; `next_before` continues it with `--before`.
    Attempts {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        id: Uuid,
        /// Only the attempts for this event.
        #[arg(long)]
        event: Option<String>,
        /// Only attempts older than this attempt id.
        #[arg(long, value_parser = id)]
        before: Option<Uuid>,
        #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
    },
    /// Queues a signed `ping` to the endpoint, even a disabled one; it is tried once.
    Test {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        id: Uuid,
    },
    /// Queues a fresh delivery of a past event (kept EventRetentionDays, 30 by default).
    Replay {
        #[arg(long, env = "LEADGRID_ORG", value_parser = id)]
        org: Uuid,
        #[arg(long, value_parser = id)]
        id: Uuid,
        #[arg(long)]
        event: String,
    },
    /// Queues again, once each, the events since --since that the endpoint missed (as
    /// `POST /webhook_endpoints/{id}/recover`); --after goes on from an answer's `next`.
    Recover(leadgrid_tools::admin::webhooks::RecoverArgs),
}

fn id(raw: &str) -> Result<Uuid, String> {
    Uuid::parse_str(raw).map_err(|_| "must be a UUID".to_string())
}

fn plan(raw: &str) -> Result<Plan, String> {
    Plan::parse(raw).ok_or_else(|| "must be free, pro or growth".to_string())
}

fn dossier_type(raw: &str) -> Result<DossierType, String> {
    DossierType::parse(raw).ok_or_else(|| "must be candidate or sales".to_string())
}

fn timestamp(raw: &str) -> Result<OffsetDateTime, String> {
    shared::clock::parse(raw).ok_or_else(|| "must be an RFC 3339 timestamp".to_string())
}

/// The stages of `flow create`: one JSON argument, not a list of arguments.
#[derive(Clone)]
struct Stages(Vec<StageSpec>);

fn stages(raw: &str) -> Result<Stages, String> {
    serde_json::from_str(raw).map(Stages).map_err(|e| {
        format!("must be a JSON array of {{\"name\",\"deadline_days\",\"win_probability\",\"color\"}}: {e}")
    })
}

/// `--env-file`'s value, read before the command line is parsed, so that the file can
/// supply defaults (`LEADGRID_ORG`) to it.
fn env_file_argument() -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--env-file" {
            return args.next();
        }
        if let Some(path) = arg.strip_prefix("--env-file=") {
            return Some(path.to_string());
        }
    }
    None
}

/// Loads `--env-file`, or `.leadgrid/local.env` when the environment names no table, into
/// the environment. A variable already set wins over the file, so one setting (say
/// `WEBHOOK_REQUIRE_HTTPS=true`) can be tried against the local stack.
fn load_settings(env_file: Option<String>) -> Result<(), String> {
    let file = env_file.or_else(|| {
        std::env::var_os("TABLE_NAME")
            .is_none()
            .then(|| ".leadgrid/local.env".to_string())
            .filter(|p| std::path::Path::new(p).is_file())
    });
    match file {
        Some(path) => dotenvy::from_path(&path).map_err(|e| format!("{path}: {e}")),
        None => Ok(()),
    }
}

fn to_json(value: impl serde::Serialize) -> AdminResult<Value> {
    serde_json::to_value(value).map_err(|e| AdminError(e.to_string()))
}

async fn run(command: Command) -> AdminResult<Value> {
    let config = shared::config::Config::from_env().map_err(AdminError)?;
    let sdk = shared::config::aws_for_operators().await;
    let admin = Admin::from_config(&sdk, &config).map_err(AdminError)?;
    match command {
        Command::Org(command) => org(&admin, command).await,
        Command::Member(MemberCommand::Add { org, email, name }) => {
            let member = admin.add_member(org, &email, name.as_deref()).await?;
            Ok(json!({ "id": member.id, "email": member.email, "name": member.name }))
        }
        Command::Key(command) => key(&admin, command).await,
        Command::Dossiers(DossiersCommand::Recount { org }) => {
            admin.get_org(org).await?;
            let counted = shared::domain::dossiers::recount(&admin.db, org).await?;
            to_json(serde_json::json!({"org": org, "dossiers_counted": counted}))
        }
        Command::Contacts(ContactsCommand::Reindex { org, after }) => {
            to_json(admin.reindex_contacts(org, after).await?)
        }
        Command::Flow(FlowCommand::Create {
            org,
            kind,
            name,
            stages,
        }) => to_json(admin.create_flow(org, kind, &name, stages.0).await?),
        Command::Webhook(command) => {
            let sqs = aws_sdk_sqs::Client::new(&sdk);
            webhook(&admin, command, &sqs, config.events_queue_url.as_deref()).await
        }
        Command::Secrets(SecretsCommand::CarryOverPepper) => {
            let (from, to) = (
                config.require_webhook_secret_id().map_err(AdminError)?,
                config.require_api_key_secret_id().map_err(AdminError)?,
            );
            leadgrid_tools::admin::secrets::carry_over_pepper(
                &aws_sdk_secretsmanager::Client::new(&sdk),
                &from,
                &to,
            )
            .await?;
            Ok(json!({ "api_key_secret": to, "pepper_from": from, "carried_over": true }))
        }
        Command::Events(EventsCommand::Redrive) => {
            let failure_queue_url = std::env::var("STREAM_FAILURE_QUEUE_URL")
                .map_err(|_| AdminError("STREAM_FAILURE_QUEUE_URL is not set".into()))?;
            let events_queue_url = config
                .events_queue_url
                .ok_or_else(|| AdminError("EVENTS_QUEUE_URL is not set".into()))?;
            let redrive = leadgrid_tools::admin::events::Redrive {
                admin: &admin,
                streams: &aws_sdk_dynamodbstreams::Client::new(&sdk),
                sqs: &aws_sdk_sqs::Client::new(&sdk),
                failure_queue_url: &failure_queue_url,
                events_queue_url: &events_queue_url,
            };
            to_json(redrive.run().await?)
        }
        Command::Cv(CvCommand::Erase { org, dossier }) => {
            let cvs = shared::cv::CvStore {
                s3: shared::config::s3_client(&sdk),
                bucket: config.require_cv_bucket().map_err(AdminError)?,
            };
            to_json(admin.erase_cv(&cvs, org, dossier).await?)
        }
    }
}

async fn org(admin: &Admin, command: OrgCommand) -> AdminResult<Value> {
    Ok(match command {
        OrgCommand::List => json!({ "data": admin.list_orgs().await? }),
        OrgCommand::Index => json!({ "indexed": admin.index_orgs().await? }),
        OrgCommand::Create { name, plan } => {
            let org = admin.create_org(&name, plan).await?;
            json!({ "id": org.id, "name": org.name, "plan": org.plan })
        }
        OrgCommand::SetPlan { org, plan } => {
            let org = admin.set_plan(org, plan).await?;
            json!({ "id": org.id, "plan": org.plan })
        }
        OrgCommand::SetPoolDays { org, days } => {
            let org = admin.set_pool_days(org, days).await?;
            json!({ "id": org.id, "pool_days": org.pool_days })
        }
    })
}

async fn key(admin: &Admin, command: KeyCommand) -> AdminResult<Value> {
    match command {
        KeyCommand::Create {
            org,
            scopes,
            expires_at,
            name,
        } => to_json(
            admin
                .create_key(org, parse_scopes(&scopes)?, expires_at, name.as_deref())
                .await?,
        ),
        KeyCommand::Revoke { org, id } => {
            admin.revoke_key(org, id).await?;
            Ok(json!({ "id": id, "revoked": true }))
        }
        KeyCommand::List { org } => Ok(json!({ "data": admin.list_keys(org).await? })),
    }
}

async fn webhook(
    admin: &Admin,
    command: WebhookCommand,
    sqs: &aws_sdk_sqs::Client,
    queue_url: Option<&str>,
) -> AdminResult<Value> {
    match command {
        WebhookCommand::Create { org, url, events } => {
            let events = parse_event_types(events.as_deref())?;
            let destinations = Destinations::from_env().map_err(AdminError)?;
            to_json(
                admin
                    .create_webhook(org, &url, events, destinations)
                    .await?,
            )
        }
        WebhookCommand::List { org } => Ok(json!({ "data": admin.list_webhooks(org).await? })),
        WebhookCommand::Update {
            org,
            id,
            url,
            events,
            description,
        } => {
            let changes = endpoint_changes(url, events, description)?;
            to_json(admin.update_webhook(org, id, changes).await?)
        }
        WebhookCommand::Enable { org, id } => to_json(
            admin
                .update_webhook(org, id, EndpointChanges::disabled(false))
                .await?,
        ),
        WebhookCommand::Disable { org, id } => to_json(
            admin
                .update_webhook(org, id, EndpointChanges::disabled(true))
                .await?,
        ),
        WebhookCommand::Delete { org, id } => {
            admin.delete_webhook(org, id).await?;
            Ok(json!({ "id": id, "deleted": true }))
        }
        WebhookCommand::RotateSecret {
            org,
            id,
            grace_hours,
        } => to_json(admin.rotate_webhook_secret(org, id, grace_hours).await?),
        WebhookCommand::Attempts {
            org,
            id,
            event,
            before,
            limit,
        } => {
            let (data, next_before) = admin
                .webhook_attempts(org, id, event.as_deref(), before, limit as usize)
                .await?;
            Ok(json!({ "data": data, "next_before": next_before }))
        }
        WebhookCommand::Test { org, id } => {
            to_json(admin.test_webhook(org, id, sqs, queue(queue_url)?).await?)
        }
        WebhookCommand::Replay { org, id, event } => to_json(
            admin
                .replay_webhook(org, id, &event, sqs, queue(queue_url)?)
                .await?,
        ),
        WebhookCommand::Recover(asked) => {
            to_json(admin.recover_webhook(asked, sqs, queue(queue_url)?).await?)
        }
    }
}

fn queue(queue_url: Option<&str>) -> AdminResult<&str> {
    queue_url.ok_or_else(|| AdminError("EVENTS_QUEUE_URL is not set".into()))
}

fn main() -> ExitCode {
    // Settings are loaded into the environment before any thread starts, and before the
    // command line is parsed, whose defaults they may hold.
    if let Err(err) = load_settings(env_file_argument()) {
        eprintln!("leadgrid-admin: {err}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
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
    match runtime.block_on(run(cli.command)) {
        Ok(out) if cli.pretty => {
            println!("{out:#}");
            ExitCode::SUCCESS
        }
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
