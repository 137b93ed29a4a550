#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::web::serve(dossiers::app).await
}
