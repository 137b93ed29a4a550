#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::serve(|core, _, _| flows::router(core)).await
}
