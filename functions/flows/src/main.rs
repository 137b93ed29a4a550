#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::web::serve(shared::functions::Function::Flows, |core, _, _| {
        Ok(flows::router(core))
    })
    .await
}
