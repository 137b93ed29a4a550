#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::web::serve(|core, _, _| notes::router(core)).await
}
