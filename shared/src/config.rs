//! Settings read from the environment, with the same names locally and on AWS.

use crate::ApiError;

#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    pub secret_id: String,
    pub cv_bucket: Option<String>,
    pub events_queue_url: Option<String>,
    pub events_dlq_url: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            secret_id: required("SECRET_ID")?,
            cv_bucket: optional("CV_BUCKET"),
            events_queue_url: optional("EVENTS_QUEUE_URL"),
            events_dlq_url: optional("EVENTS_DLQ_URL"),
        })
    }

    pub fn cv_bucket(&self) -> Result<&str, ApiError> {
        self.cv_bucket
            .as_deref()
            .ok_or_else(|| ApiError::internal("CV_BUCKET is not set"))
    }

    pub fn events_queue_url(&self) -> Result<&str, ApiError> {
        self.events_queue_url
            .as_deref()
            .ok_or_else(|| ApiError::internal("EVENTS_QUEUE_URL is not set"))
    }
}

fn required(name: &str) -> Result<String, String> {
    optional(name).ok_or_else(|| format!("environment variable {name} is not set"))
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The SDK configuration, loaded once per container. The SDK itself honours `AWS_REGION`,
/// credentials and the per-service `AWS_ENDPOINT_URL_*` variables the local stack sets.
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// The SDK reads the Secrets Manager endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER`; we
/// also honour the spelling `AWS_ENDPOINT_URL_SECRETSMANAGER`, which our local stack writes.
pub fn secretsmanager_client(sdk: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    let mut conf = aws_sdk_secretsmanager::config::Builder::from(sdk);
    if let Some(url) = optional("AWS_ENDPOINT_URL_SECRETSMANAGER") {
        conf = conf.endpoint_url(url);
    }
    aws_sdk_secretsmanager::Client::from_conf(conf.build())
}

#[cfg(feature = "s3")]
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    // Local S3 servers cannot serve virtual-hosted bucket names.
    let path_style = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
