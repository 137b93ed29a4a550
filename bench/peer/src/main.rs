//! The yardstick `make bench` measures the API functions' cold starts against: a Rust
//! Lambda with nothing but the SDK (configured as the functions configure it) that answers
//! any HTTP API request with one DynamoDB `GetItem`; no key, no router, no secret.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = shared::config::aws().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = std::env::var("TABLE_NAME")?;
    let (client, table) = (&client, table.as_str());
    lambda_http::run(service_fn(move |_: Request| async move {
        let org = shared::table::keys::org_pk(uuid::Uuid::nil());
        client
            .get_item()
            .table_name(table)
            .key("PK", AttributeValue::S(org))
            .key("SK", AttributeValue::S(shared::table::keys::ORG_SK.into()))
            .send()
            .await?;
        Ok::<_, Error>(Response::builder().status(200).body(Body::from("{}"))?)
    }))
    .await
}
