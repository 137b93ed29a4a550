#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::web::serve(shared::functions::Function::Dossiers, dossiers::app).await
}
