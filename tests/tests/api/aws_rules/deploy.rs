//! Deploying: uncached SAM builds, `sam deploy --guided` as documented, the upload limit.

use std::process::{Command, Stdio};

use super::API_ROUTES;
use crate::routes::root_file;

/// SAM's build cache hashes only each function's `CodeUri` folder: a change in `shared/` or
/// `Cargo.lock` would leave the cached binary, and `sam deploy` would ship it.
/// <https://github.com/aws/aws-sam-cli/issues/4662>
#[test]
fn sam_builds_are_never_cached() {
    let config = root_file("samconfig.toml");
    assert!(config.contains("\ncached = false\n"), "{config}");
    assert!(!root_file("Makefile").contains("--cached"));
}

/// One row of the prompts table in docs/deploy.md: SAM's prompt, `<…>` marking what
/// varies, and the documented answer (Enter: the default).
struct Prompt {
    pattern: String,
    answer: String,
}

fn documented_prompts() -> Vec<Prompt> {
    let deploy = root_file("docs/deploy.md");
    let table = deploy
        .split("<!-- sam-deploy-guided-prompts -->\n")
        .nth(1)
        .expect("docs/deploy.md has the guided deploy's prompts");
    table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let pattern = cells[1].trim_matches('`').to_string();
            let answer = if cells[2].starts_with("Enter") {
                String::new()
            } else {
                cells[2]
                    .split('`')
                    .nth(1)
                    .expect("an answer in backticks")
                    .to_string()
            };
            Prompt { pattern, answer }
        })
        .collect()
}

/// Whether `text` is `pattern`, each `<…>` of it standing for any text.
fn fits(pattern: &str, text: &str) -> bool {
    match pattern.split_once('<') {
        None => pattern == text,
        Some((head, rest)) => {
            let tail = rest.split_once('>').map_or("", |(_, tail)| tail);
            text.starts_with(head)
                && (head.len()..=text.len())
                    .any(|at| text.is_char_boundary(at) && fits(tail, &text[at..]))
        }
    }
}

/// `sam deploy --guided` asks its questions before it needs AWS; answered as docs/deploy.md
/// says, it must reach "Looking for resources needed for deployment" (where, without
/// credentials here, it stops). Its default for each API route, "has no authentication. Is
/// this okay? [y/N]", would stop the deploy.
/// <https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-deploy.html>
#[test]
fn the_documented_answers_take_sam_deploy_guided_to_the_end_of_its_questions() {
    use std::io::{Read, Write};
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let sam = format!("{root}/.venv/bin/sam");
    let prompts = documented_prompts();
    assert!(prompts.len() >= 10, "the prompts table");
    let dir = std::env::temp_dir().join(format!("leadgrid-sam-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["template.yaml", "samconfig.toml"] {
        std::fs::copy(format!("{root}/{file}"), dir.join(file)).unwrap();
    }
    let mut child = Command::new(&sam)
        .args(["deploy", "--guided"])
        .current_dir(&dir)
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the SAM CLI in .venv (make setup)");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (sender, output) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stdout.read(&mut buffer) {
            if read == 0
                || sender
                    .send(String::from_utf8_lossy(&buffer[..read]).into())
                    .is_err()
            {
                break;
            }
        }
    });
    let mut transcript = String::new();
    let mut answered = 0;
    let mut asked = Vec::new();
    while let Ok(chunk) = output.recv_timeout(std::time::Duration::from_secs(60)) {
        transcript.push_str(&chunk);
        let pending = &transcript[answered..];
        if !pending.ends_with("]: ") {
            continue;
        }
        let prompt = pending
            .rsplit(['\t', '\n'])
            .next()
            .unwrap()
            .trim_end_matches(": ")
            .trim()
            .to_string();
        let Some(row) = prompts.iter().find(|row| fits(&row.pattern, &prompt)) else {
            let _ = child.kill();
            panic!("SAM asks `{prompt}`, which docs/deploy.md does not answer");
        };
        writeln!(stdin, "{}", row.answer).unwrap();
        asked.push(prompt);
        answered = transcript.len();
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        transcript.contains("Looking for resources needed for deployment"),
        "the questions did not end; asked {asked:#?}\n{transcript}"
    );
    let authentication = asked
        .iter()
        .filter(|p| p.ends_with("has no authentication. Is this okay? [y/N]"))
        .count();
    assert_eq!(authentication, API_ROUTES, "asked once per route");
}

/// The direct-upload limit the docs quote is the code's, which is what fits in Lambda's
/// 6 MB request after base64.
/// <https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>
#[test]
fn the_documented_direct_upload_limit_is_the_codes() {
    use shared::web::{DIRECT_UPLOAD_MAX_BYTES, LAMBDA_REQUEST_BYTES};
    assert_eq!(LAMBDA_REQUEST_BYTES, 6_291_456);
    assert!(DIRECT_UPLOAD_MAX_BYTES.div_ceil(3) * 4 < LAMBDA_REQUEST_BYTES - 60 * 1024);
    let digits = DIRECT_UPLOAD_MAX_BYTES.to_string();
    let mut quoted = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            quoted.push(',');
        }
        quoted.push(digit);
    }
    for doc in ["docs/api-guide.md", "docs/deploy.md"] {
        assert!(
            root_file(doc).contains(&quoted),
            "{doc} does not quote {quoted} bytes"
        );
    }
}
