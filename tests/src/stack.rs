//! The local stack's clients, and the `Core` each function builds from them.

use std::sync::Arc;

use leadgrid_tools::admin::Admin;
use shared::config::Config;
use shared::web::Core;

pub struct Stack {
    pub sdk: aws_config::SdkConfig,
    pub config: Config,
}

/// The stack's clients, built anew for each test: every `#[tokio::test]` has its own
/// runtime, and SDK connection pools must not outlive the runtime that made them.
pub async fn stack() -> Arc<Stack> {
    // Internal errors are logged, not returned: show them with a failing test's output.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .try_init();
    let config = Config::from_env().unwrap_or_else(|e| {
        panic!("{e}: run the integration tests through `make test`, which starts the local stack")
    });
    let sdk = shared::config::aws().await;
    Arc::new(Stack { sdk, config })
}

impl Stack {
    /// A fresh `Core`, as a new container would build it (empty plan cache).
    pub fn core(&self) -> Core {
        Core::new(&self.sdk, &self.config).expect("the stack names the API-key secret")
    }

    /// A fresh `Core` reading time from `clock`.
    pub fn core_at(&self, clock: shared::clock::Clock) -> Core {
        Core {
            clock,
            ..self.core()
        }
    }

    /// A `Core` as `function` builds it, whose calls are recorded (see [`aws_calls`](crate::aws_calls)).
    pub fn core_of(&self, function: &'static str) -> Core {
        let secrets = aws_sdk_secretsmanager::Client::new(&self.sdk);
        Core {
            db: self.db_of(function),
            legacy_pepper: shared::secrets::SecretSource::new(
                recorded!(
                    aws_sdk_secretsmanager,
                    secrets.config().to_builder(),
                    function
                ),
                self.config
                    .api_key_secret_id
                    .clone()
                    .expect("API_KEY_SECRET_ID is set"),
            ),
            ..self.core()
        }
    }

    pub(crate) fn db_of(&self, function: &'static str) -> shared::table::store::Db {
        let builder = aws_sdk_dynamodb::config::Builder::from(&self.sdk);
        shared::table::store::Db::new(
            recorded!(aws_sdk_dynamodb, builder, function),
            &self.config.table_name,
        )
    }

    /// The dossiers function's CV store, whose calls are recorded.
    pub fn cvs_of_dossiers(&self) -> shared::cv::CvStore {
        let s3 = shared::config::s3_client(&self.sdk);
        shared::cv::CvStore {
            s3: recorded!(aws_sdk_s3, s3.config().to_builder(), "dossiers"),
            ..self.cvs()
        }
    }

    pub fn admin(&self) -> Admin {
        Admin::from_config(&self.sdk, &self.config).expect("the stack names both secrets")
    }

    pub fn cvs(&self) -> shared::cv::CvStore {
        shared::cv::CvStore {
            s3: shared::config::s3_client(&self.sdk),
            bucket: self.config.cv_bucket.clone().expect("CV_BUCKET is set"),
        }
    }

    /// The bytes stored in the CV bucket under `key`, if any.
    pub async fn stored_cv(&self, key: &str) -> Option<Vec<u8>> {
        let cvs = self.cvs();
        let out = cvs
            .s3
            .get_object()
            .bucket(&cvs.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.ok()?.into_bytes().to_vec())
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }
}

/// A clock held at the start of the current minute: every request of a `Core` built with
/// it counts in one rate-limit window, however long the test runs.
pub fn one_window() -> shared::clock::Clock {
    let now = shared::clock::now();
    let start = now.unix_timestamp() - now.unix_timestamp().rem_euclid(60);
    shared::clock::Clock::Fixed(
        time::OffsetDateTime::from_unix_timestamp(start).expect("a minute's start is a valid time"),
    )
}
