#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::web::serve(shared::functions::Function::Contacts, |core, _, _| {
        Ok(contacts::router(core))
    })
    .await
}
