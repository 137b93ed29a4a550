//! A webhook receiver that records what it gets.

use std::sync::Arc;

use axum::Router;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

/// One request a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    /// The status the receiver answered with.
    pub status: u16,
    pub at: std::time::Instant,
}

impl Received {
    pub fn event_id(&self) -> String {
        serde_json::from_str::<Value>(&self.body).expect("JSON body")["id"]
            .as_str()
            .expect("event id")
            .to_string()
    }
}

/// A webhook receiver on 127.0.0.1 that records every request and answers with the status
/// `respond` picks (given the request and how many requests for the same event came before).
pub struct Receiver {
    pub url: String,
    pub received: ReceivedLog,
}

type ReceivedLog = Arc<std::sync::Mutex<Vec<Received>>>;
type Respond = Arc<dyn Fn(&Received, usize) -> u16 + Send + Sync>;

async fn receive(
    axum::extract::State((log, respond, delay)): axum::extract::State<(
        ReceivedLog,
        Respond,
        std::time::Duration,
    )>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, &'static str) {
    let status = record(&log, &respond, headers, body);
    tokio::time::sleep(delay).await;
    (status, "ok")
}

fn record(log: &ReceivedLog, respond: &Respond, headers: HeaderMap, body: String) -> StatusCode {
    let mut request = Received {
        headers,
        body,
        status: 0,
        at: std::time::Instant::now(),
    };
    let event_id = |body: &str| {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_string))
    };
    let id = event_id(&request.body);
    let mut log = log.lock().unwrap();
    let before = log
        .iter()
        .filter(|r| id.is_some() && event_id(&r.body) == id)
        .count();
    request.status = respond(&request, before);
    let status = StatusCode::from_u16(request.status).unwrap();
    log.push(request);
    status
}

impl Receiver {
    pub async fn start(respond: impl Fn(&Received, usize) -> u16 + Send + Sync + 'static) -> Self {
        Self::start_slow(std::time::Duration::ZERO, respond).await
    }

    /// A receiver that answers each request `delay` after it arrives (`at` is the arrival).
    pub async fn start_slow(
        delay: std::time::Duration,
        respond: impl Fn(&Received, usize) -> u16 + Send + Sync + 'static,
    ) -> Self {
        let received: ReceivedLog = Arc::default();
        let respond: Respond = Arc::new(respond);
        let app = Router::new()
            .fallback(receive)
            .with_state((received.clone(), respond, delay));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/hooks/leadgrid", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { url, received }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was received, or panics after `timeout`.
    pub async fn wait_for(
        &self,
        timeout: std::time::Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if done(&requests) {
                return requests;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the receiver did not get what was expected within {timeout:?}; got {} requests",
                requests.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
