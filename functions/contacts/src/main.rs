#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::web::serve(|core, _, _| Ok(contacts::router(core))).await
}
