//! Each API function's router, and the whole API served over HTTP as API Gateway serves it.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::Request;

use crate::{gateway, routes, stack, Stack};

pub async fn flows_router() -> Router {
    flows::router(stack().await.core_of("flows"))
}

pub async fn dossiers_router() -> Router {
    let stack = stack().await;
    dossiers::router(stack.core_of("dossiers"), stack.cvs_of_dossiers())
}

pub async fn contacts_router() -> Router {
    contacts::router(stack().await.core_of("contacts"))
}

pub async fn notes_router() -> Router {
    notes::router(stack().await.core_of("notes"))
}

pub async fn webhook_endpoints_router() -> Router {
    webhook_endpoints::router(stack().await.webhook_endpoints())
}

pub async fn events_router() -> Router {
    events::router(stack().await.core_of("events"))
}
/// The function a path belongs to, as `[workspace.metadata.lambda.watch.router]` and the
/// template route it.
pub fn function_for(path: &str) -> &'static str {
    routes::matching(path).map_or("flows", |route| route.function)
}

impl Stack {
    /// A fresh router of the named API function.
    pub fn router(&self, function: &str) -> Router {
        match function {
            "dossiers" => dossiers::router(self.core_of("dossiers"), self.cvs_of_dossiers()),
            "contacts" => contacts::router(self.core_of("contacts")),
            "notes" => notes::router(self.core_of("notes")),
            "flows" => flows::router(self.core_of("flows")),
            "webhook-endpoints" => webhook_endpoints::router(self.webhook_endpoints()),
            "events" => events::router(self.core_of("events")),
            other => panic!("no API function {other}"),
        }
    }
}

/// Serves the API on 127.0.0.1 (a free port) as API Gateway does: each request becomes an
/// HTTP API event for the function its route names, and runs through that function's Lambda
/// entry point (see [`gateway`](crate::gateway)). Returns the base URL, `…/api/v1`.
pub async fn serve_api() -> String {
    let stack = stack().await;
    let routers: Arc<Vec<(&'static str, Router)>> = Arc::new(
        shared::functions::Function::api()
            .map(|function| (function.as_str(), stack.router(function.as_str())))
            .collect(),
    );
    let app = Router::new().fallback(move |request: Request<Body>| {
        let routers = routers.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let mut request = gateway::GatewayRequest::new(
                parts.method,
                parts.uri.path_and_query().map_or("/", |p| p.as_str()),
            );
            for (name, value) in &parts.headers {
                request = request.header(name.as_str(), value.as_bytes());
            }
            request.body = body.to_vec();
            let function = function_for(&request.raw_path);
            let router = routers
                .iter()
                .find(|(name, _)| *name == function)
                .map(|(_, router)| router.clone())
                .expect("a router per function");
            let reply = gateway::invoke(&router, &request.event()).await;
            let mut response = http::Response::new(Body::from(reply.body));
            *response.status_mut() = reply.status;
            *response.headers_mut() = reply.headers;
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind API");
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    base
}
