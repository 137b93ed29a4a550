//! `leadgrid-local`: the local AWS stack behind `make dev` and `make test`.
//!
//!   leadgrid-local dev           the whole API at http://127.0.0.1:$LEADGRID_PORT/api/v1
//!   leadgrid-local test -- CMD   runs CMD against a fresh in-memory stack on free ports

use shared::functions::Function;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use leadgrid_tools::admin::Admin;
use leadgrid_tools::local::pollers::{HttpInvoker, QueuePoller, StreamPoller};
use leadgrid_tools::local::resources::REGION;
use leadgrid_tools::local::services::{self, Service};
use leadgrid_tools::local::stack::{self, Stack, Storage};
use leadgrid_tools::local::step;
use serde::{Deserialize, Serialize};
use shared::domain::orgs::Plan;
use shared::web::auth::Scope;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Serialize, Deserialize)]
struct Demo {
    org_id: uuid::Uuid,
    member_id: uuid::Uuid,
    key: String,
    /// The key's scopes: when a version adds a scope, the demo gets a key that has it.
    #[serde(default)]
    scopes: Vec<Scope>,
}

fn root() -> Result<PathBuf, String> {
    std::env::current_dir().map_err(|e| e.to_string())
}

async fn admin_from_env() -> Result<Admin, String> {
    let config = shared::config::Config::from_env()?;
    let sdk = shared::config::aws().await;
    Admin::from_config(&sdk, &config)
}

/// The demo organization, created on first start and reused after that, with a key that
/// has every scope.
async fn seed_demo(state: &Path) -> Result<Demo, String> {
    let admin = admin_from_env().await?;
    let path = state.join("demo.json");
    if let Some(mut demo) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str::<Demo>(&text).ok())
    {
        if admin.get_org(demo.org_id).await.is_ok() {
            if demo.scopes != Scope::ALL {
                demo.key = admin
                    .create_key(demo.org_id, Scope::ALL.to_vec(), None, None)
                    .await
                    .map_err(|e| e.0)?
                    .key;
                demo.scopes = Scope::ALL.to_vec();
                write_demo(&path, &demo)?;
            }
            return Ok(demo);
        }
    }
    let org = admin
        .create_org("Demo Organization", Plan::Growth)
        .await
        .map_err(|e| e.0)?;
    let member = admin
        .add_member(org.id, "demo@leadgrid.local", Some("Demo Member"))
        .await
        .map_err(|e| e.0)?;
    let key = admin
        .create_key(org.id, Scope::ALL.to_vec(), None, None)
        .await
        .map_err(|e| e.0)?;
    let demo = Demo {
        org_id: org.id,
        member_id: member.id,
        key: key.key,
        scopes: Scope::ALL.to_vec(),
    };
    write_demo(&path, &demo)?;
    Ok(demo)
}

fn write_demo(path: &Path, demo: &Demo) -> Result<(), String> {
    let text = serde_json::to_string_pretty(demo).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| format!("SQS: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| "queue has no ARN".to_string())
}

/// The SDK has no endpoint variable of its own for DynamoDB Streams; DynamoDB Local serves
/// it at the DynamoDB endpoint.
async fn shutdown_signal() {
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn dev() -> Result<(), String> {
    let root = root()?;
    let state = root.join(".leadgrid");
    let port: u16 = match std::env::var("LEADGRID_PORT") {
        Ok(raw) => raw
            .parse()
            .map_err(|_| format!("LEADGRID_PORT must be a port, not {raw:?}"))?,
        Err(_) => 3000,
    };
    if !services::port_is_free(port) {
        return Err(format!(
            "port {port} is in use; set LEADGRID_PORT to another port"
        ));
    }
    let mut stack = stack::start(&root, &state, Storage::Persistent).await?;
    let result = serve(&root, &state, port, &mut stack).await;
    stack.stop().await;
    result
}

/// `cargo lambda watch` serving every function on `port`, with the stack's settings.
async fn start_watch(
    root: &Path,
    env_file: &Path,
    port: u16,
    stack: &mut Stack,
) -> Result<(), String> {
    let mut watch = std::process::Command::new(root.join(".venv/bin/cargo-lambda"));
    watch
        .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &port.to_string()])
        .args(["--concurrency", "8", "--disable-cors", "--env-file"])
        .arg(env_file)
        .current_dir(root);
    stack
        .services
        .push(Service::spawn("cargo lambda watch", watch, None)?);
    if !services::wait_for_port(port, Duration::from_secs(120)).await {
        return Err("cargo lambda watch did not start".into());
    }
    Ok(())
}

async fn serve(root: &Path, state: &Path, port: u16, stack: &mut Stack) -> Result<(), String> {
    let demo = step(
        "seeding the demo organization (.leadgrid/demo.json)",
        None,
        seed_demo(state),
    )
    .await?;
    let demo_env = write_demo_env(state, port, &demo)?;
    let env_file = state.join("local.env");
    std::fs::write(&env_file, stack.env.to_env_file())
        .map_err(|e| format!("{}: {e}", env_file.display()))?;

    step(
        &format!("starting cargo lambda watch on port {port}"),
        None,
        start_watch(root, &env_file, port, stack),
    )
    .await?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let pollers = start_pollers(state, port, stack, stop_rx).await?;
    print_welcome(port, &demo, &env_file, &demo_env);

    let exited = wait_for_exit(stack).await;
    let _ = stop_tx.send(true);
    for poller in pollers {
        let _ = poller.await;
    }
    match exited {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}

/// For shells: `. .leadgrid/demo.env` names the base URL, the key and the organization.
fn write_demo_env(state: &Path, port: u16, demo: &Demo) -> Result<PathBuf, String> {
    let demo_env = state.join("demo.env");
    std::fs::write(
        &demo_env,
        format!(
            "LEADGRID_API=http://127.0.0.1:{port}/api/v1\nLEADGRID_KEY={}\nLEADGRID_ORG={}\n",
            demo.key, demo.org_id
        ),
    )
    .map_err(|e| format!("{}: {e}", demo_env.display()))?;
    Ok(demo_env)
}

/// The stream poller feeding `fanout` and a queue poller feeding `delivery` for each lane,
/// invoking the functions through `cargo lambda watch` on `port` until `stop`.
async fn start_pollers(
    state: &Path,
    port: u16,
    stack: &Stack,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let sdk = shared::config::aws().await;
    let invoke_base = format!("http://127.0.0.1:{port}");
    let table = stack.env.get("TABLE_NAME").unwrap_or_default().to_string();
    let queue_url = stack
        .env
        .get("EVENTS_QUEUE_URL")
        .unwrap_or_default()
        .to_string();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let stream_poller = StreamPoller::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_dynamodbstreams::Client::new(&sdk),
        &table,
        REGION,
        Function::Fanout.as_str(),
        HttpInvoker::new(&invoke_base),
        Some(state.join("stream-checkpoints.json")),
    )
    .with_failure_queue(
        sqs.clone(),
        stack
            .env
            .get("STREAM_FAILURE_QUEUE_URL")
            .unwrap_or_default(),
    );
    // Both lanes of webhook deliveries, each with its own poller as each has its own
    // event source mapping on AWS.
    let slow_queue_url = stack
        .env
        .get("SLOW_DELIVERIES_QUEUE_URL")
        .unwrap_or_default()
        .to_string();
    let mut pollers = vec![tokio::spawn(stream_poller.run(stop.clone()))];
    for queue_url in [queue_url, slow_queue_url] {
        let queue_poller = QueuePoller {
            queue_arn: queue_arn(&sqs, &queue_url).await?,
            sqs: sqs.clone(),
            queue_url,
            region: REGION.into(),
            function: Function::Delivery.as_str().into(),
            invoker: HttpInvoker::new(&invoke_base),
        };
        pollers.push(tokio::spawn(queue_poller.run(stop.clone())));
    }
    Ok(pollers)
}

fn print_welcome(port: u16, demo: &Demo, env_file: &Path, demo_env: &Path) {
    println!(
        "\nLeadGrid API running at http://127.0.0.1:{port}/api/v1\n\
         organization: {org}\n\
         member:       {member}\n\
         API key:      {key}\n\
         settings:     {env}\n\
         reference:    http://127.0.0.1:{port}/api/v1/docs\n\n\
         Try: curl http://127.0.0.1:{port}/api/v1/flows -H \"Authorization: Bearer {key}\"\n\
         or, in a shell: . {demo_env}; curl $LEADGRID_API/flows -H \"Authorization: Bearer $LEADGRID_KEY\"\n\
         Ctrl-C stops everything.\n",
        org = demo.org_id,
        member = demo.member_id,
        key = demo.key,
        env = env_file.display(),
        demo_env = demo_env.display(),
    );
}

/// Waits for Ctrl-C or SIGTERM (`None`), or for a service to exit (why it did).
async fn wait_for_exit(stack: &mut Stack) -> Option<String> {
    loop {
        tokio::select! {
            _ = shutdown_signal() => break None,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if let Some(reason) = stack.services.iter_mut().find_map(|s| s.try_exited()) {
                    break Some(reason);
                }
            }
        }
    }
}

async fn test(command: Vec<String>) -> Result<ExitCode, String> {
    let (program, args) = command
        .split_first()
        .ok_or("usage: leadgrid-local test -- COMMAND [ARGS...]")?;
    let root = root()?;
    let state = root.join(".leadgrid").join("test");
    let stack = stack::start(&root, &state, Storage::InMemory).await?;
    let status = tokio::process::Command::new(program)
        .args(args)
        .status()
        .await;
    stack.stop().await;
    let status = status.map_err(|e| format!("running {program}: {e}"))?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let outcome = match args.next().as_deref() {
        Some("dev") => dev().await.map(|()| ExitCode::SUCCESS),
        Some("test") => {
            let rest: Vec<String> = args.skip_while(|a| a == "--").collect();
            test(rest).await
        }
        _ => Err("usage: leadgrid-local dev | leadgrid-local test -- COMMAND [ARGS...]".into()),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("leadgrid-local: {err}");
            ExitCode::FAILURE
        }
    }
}
