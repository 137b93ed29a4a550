//! `leadgrid-admin secrets carry-over-pepper`: moves a stack deployed before the API-key
//! secret existed onto it without invalidating a single API key.
//!
//! Such a stack had one secret, whose root gave both the key pepper and the webhook master
//! key; the template keeps it (as the webhook secret) under the same logical id, so
//! endpoints' signing secrets do not change. The keys were hashed with the pepper of that
//! root: this writes that pepper, and nothing the webhook key can be derived from, into
//! the API-key secret.

use shared::secrets::{KeyPepper, SecretMaterial, WebhookMasterKey};

use super::{AdminError, AdminResult};

pub async fn carry_over_pepper(
    client: &aws_sdk_secretsmanager::Client,
    webhook_secret_id: &str,
    api_key_secret_id: &str,
) -> AdminResult<()> {
    let webhook_secret = read(client, webhook_secret_id).await?;
    // A root-form secret: the pepper it gives is the one the single secret gave.
    WebhookMasterKey::from_secret_string(&webhook_secret).map_err(AdminError)?;
    let pepper = KeyPepper::from_secret_string(&webhook_secret).map_err(AdminError)?;
    if let Ok(current) = KeyPepper::from_secret_string(&read(client, api_key_secret_id).await?) {
        if current.bytes() == pepper.bytes() {
            return Ok(());
        }
    }
    client
        .put_secret_value()
        .secret_id(api_key_secret_id)
        .secret_string(pepper.to_secret_string())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            AdminError(format!(
                "writing {api_key_secret_id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))
        })
}

async fn read(client: &aws_sdk_secretsmanager::Client, id: &str) -> AdminResult<String> {
    client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| {
            AdminError(format!(
                "reading {id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))
        })?
        .secret_string
        .ok_or_else(|| AdminError(format!("{id} has no string value")))
}
