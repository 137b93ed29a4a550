//! Settings read from the environment, with the same names locally and on AWS.

#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    /// The secret API keys are verified with (the API functions and leadgrid-admin).
    pub api_key_secret_id: Option<String>,
    /// The secret webhooks are signed with (delivery and leadgrid-admin).
    pub webhook_secret_id: Option<String>,
    pub cv_bucket: Option<String>,
    pub events_queue_url: Option<String>,
    pub events_dlq_url: Option<String>,
    /// The webhook deliveries' slow lane.
    pub slow_deliveries_queue_url: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        // Read where events are written (`outbox::retention`); checked here so that a bad
        // value stops a function at init.
        event_retention()?;
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            api_key_secret_id: optional("API_KEY_SECRET_ID"),
            webhook_secret_id: optional("WEBHOOK_SECRET_ID"),
            cv_bucket: optional("CV_BUCKET"),
            events_queue_url: optional("EVENTS_QUEUE_URL"),
            events_dlq_url: optional("EVENTS_DLQ_URL"),
            slow_deliveries_queue_url: optional("SLOW_DELIVERIES_QUEUE_URL"),
        })
    }

    /// Whether the setting its environment variable names is set.
    pub fn has(&self, name: &str) -> bool {
        match name {
            "TABLE_NAME" => true,
            "API_KEY_SECRET_ID" => self.api_key_secret_id.is_some(),
            "WEBHOOK_SECRET_ID" => self.webhook_secret_id.is_some(),
            "CV_BUCKET" => self.cv_bucket.is_some(),
            "EVENTS_QUEUE_URL" => self.events_queue_url.is_some(),
            "EVENTS_DLQ_URL" => self.events_dlq_url.is_some(),
            "SLOW_DELIVERIES_QUEUE_URL" => self.slow_deliveries_queue_url.is_some(),
            _ => false,
        }
    }

    /// The CV bucket, for the functions that cannot start without one.
    pub fn require_cv_bucket(&self) -> Result<String, String> {
        present(&self.cv_bucket, "CV_BUCKET")
    }

    pub fn require_api_key_secret_id(&self) -> Result<String, String> {
        present(&self.api_key_secret_id, "API_KEY_SECRET_ID")
    }

    pub fn require_webhook_secret_id(&self) -> Result<String, String> {
        present(&self.webhook_secret_id, "WEBHOOK_SECRET_ID")
    }
}

/// The template's `EventRetentionDays`, within its bounds.
pub const EVENT_RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=90;
pub const DEFAULT_EVENT_RETENTION_DAYS: i64 = 30;

/// `EVENT_RETENTION_DAYS`: 30 unless set; a value outside 1 to 90 stops the function at init.
pub fn event_retention() -> Result<time::Duration, String> {
    let Some(raw) = optional("EVENT_RETENTION_DAYS") else {
        return Ok(time::Duration::days(DEFAULT_EVENT_RETENTION_DAYS));
    };
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|days| EVENT_RETENTION_DAYS.contains(days))
        .map(time::Duration::days)
        .ok_or_else(|| {
            format!(
                "environment variable EVENT_RETENTION_DAYS must be a whole number of days from {} to {}, not {raw:?}",
                EVENT_RETENTION_DAYS.start(),
                EVENT_RETENTION_DAYS.end()
            )
        })
}

fn present(value: &Option<String>, name: &str) -> Result<String, String> {
    value
        .clone()
        .ok_or_else(|| format!("environment variable {name} is not set"))
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
        .http_client(sdk_http_client(
            std::env::var(SDK_TRUST_VAR).ok().as_deref(),
        ))
        .load()
        .await
}

/// The roots every AWS service endpoint's certificate chains to (Amazon Trust Services).
const AWS_TRUST_ROOTS: &str = include_str!("../certs/amazon-trust-services.pem");
/// `system` makes the SDK trust the system's CA store instead, for endpoints whose
/// certificates come from other CAs (the AWS China partition).
pub const SDK_TRUST_VAR: &str = "LEADGRID_SDK_TRUST";

/// The SDK's default client parses the whole system CA store (some 140 roots, 2-3 ms here
/// and far more on a 128 MB function's CPU share) before the first poll for an event, and
/// trusts every one of them for AWS traffic. Trusting only the roots AWS uses keeps the
/// parsing off the cold start and narrows whom the SDK trusts. Unlike the default client,
/// this one ignores `HTTPS_PROXY`: Lambda has no proxy between a function and AWS.
fn sdk_http_client(trust: Option<&str>) -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let trust_store = match trust {
        Some("system") => TrustStore::default(),
        _ => TrustStore::empty().with_pem_certificate(AWS_TRUST_ROOTS.as_bytes()),
    };
    let context = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a TLS context of trust roots alone always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

/// The SDK configuration for operators' tools on a workstation (`leadgrid-admin`): the
/// system's trusted roots, a TLS-inspecting corporate proxy's CA included, and the proxy
/// that `HTTPS_PROXY` (with `NO_PROXY`) names.
pub async fn aws_for_operators() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(operator_http_client(
            aws_smithy_http_client::proxy::ProxyConfig::from_env(),
        ))
        .load()
        .await
}

fn operator_http_client(
    proxy: aws_smithy_http_client::proxy::ProxyConfig,
) -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = aws_smithy_http_client::Connector::builder();
        if let Some(settings) = settings {
            connector = connector.connector_settings(settings.clone());
        }
        if let Some(sleep) = components.and_then(|c| c.sleep_impl()) {
            connector = connector.sleep_impl(sleep);
        }
        let context = TlsContext::builder()
            .with_trust_store(TrustStore::default())
            .build()
            .expect("a TLS context of the system's roots always builds");
        connector
            .proxy_config(proxy.clone())
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build()
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An operator behind a proxy reaches AWS through it: the client asks the proxy to
    /// `CONNECT` to the service's host.
    #[tokio::test]
    async fn operators_reach_aws_through_their_proxy() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = proxy.local_addr().unwrap();
        let asked = tokio::spawn(async move {
            let (mut socket, _) = proxy.accept().await.unwrap();
            let mut request = vec![0u8; 1024];
            let read = socket.read(&mut request).await.unwrap();
            let _ = socket.write_all(b"HTTP/1.1 403 Forbidden\r\n\r\n").await;
            String::from_utf8_lossy(&request[..read]).to_string()
        });
        let config =
            aws_smithy_http_client::proxy::ProxyConfig::all(format!("http://{address}")).unwrap();
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::for_tests(),
            ))
            .http_client(operator_http_client(config))
            .build();
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        assert!(
            client.list_tables().send().await.is_err(),
            "the proxy refused"
        );
        let request = tokio::time::timeout(std::time::Duration::from_secs(5), asked)
            .await
            .expect("the client never came to the proxy")
            .unwrap();
        assert!(
            request.starts_with("CONNECT dynamodb.eu-west-1.amazonaws.com:443"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn sdk_clients_build_with_the_aws_roots_and_with_the_system_store() {
        assert_eq!(AWS_TRUST_ROOTS.matches("BEGIN CERTIFICATE").count(), 5);
        for trust in [None, Some("system")] {
            let sdk = aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("eu-west-1"))
                .http_client(sdk_http_client(trust))
                .build();
            // Building a client builds its TLS connector, which parses every trusted root
            // and panics on one it cannot.
            let client = aws_sdk_dynamodb::Client::new(&sdk);
            assert_eq!(
                client.config().region().map(|r| r.as_ref()),
                Some("eu-west-1")
            );
        }
    }
}
