#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::serve(|core, _, _| contacts::router(core)).await
}
