#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::serve(dossiers::app).await
}
