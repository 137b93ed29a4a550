#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::web::serve(shared::functions::Function::Events, |core, _, _| {
        Ok(events::router(core))
    })
    .await
}
