#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::web::serve(shared::functions::Function::Notes, |core, _, _| {
        Ok(notes::router(core))
    })
    .await
}
