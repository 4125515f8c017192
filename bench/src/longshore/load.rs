//! HTTP load generator for `POST /v1/commands`.
//!
//! Two shapes: closed loop (C loops, each sending its next request as soon
//! as the previous one is answered, N requests in all) for throughput, and
//! open loop (one request every 1/rate s whatever the answers do) for
//! latency at a light load. Connections are kept alive, as a real producer
//! would, so the figures are about Longshore and not about TCP set-up.
//!
//! The closed loop gives each loop a connection of its own, driven by hyper
//! directly: the generator shares the machine's two cores with what it
//! measures, and a pooled reqwest client cost it about 0.12 ms of CPU per
//! request (a URL parse, a pool lookup and a timer each), as much as the
//! worker's share of a job.

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The command every request submits: the catalogue's no-op, so the figures
/// are the cost of Longshore's path and nothing else.
const BODY: &str = r#"{"kind":"diag.noop","payload":{}}"#;

/// Any single request slower than this means something is wrong, not slow.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to submit.
#[derive(Clone)]
pub struct Submitter {
    client: reqwest::Client,
    url: String,
    /// `host:port` of the api, for the closed loop's own connections.
    address: String,
    authorization: String,
}

/// What one load phase achieved.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Requests answered `202 Accepted`: all of them, or the phase fails.
    pub accepted: u64,
    /// From the first request sent to the last answer received.
    pub elapsed: Duration,
    /// Request latency of each accepted request, in ms.
    pub latencies_ms: Vec<f64>,
}

impl Submitter {
    pub fn new(api_url: &str, token: &str) -> Result<Self> {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let address = api_url
            .strip_prefix("http://")
            .with_context(|| format!("the api's URL `{api_url}` is not plain http"))?
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            client,
            url: format!("{api_url}/v1/commands"),
            address,
            authorization: format!("Bearer {token}"),
        })
    }

    /// A keep-alive HTTP/1.1 connection of one's own to the api.
    async fn connect(&self) -> Result<Connection> {
        let stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .with_context(|| format!("connecting to {}", self.address))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .context("HTTP/1.1 handshake")?;
        let driver = tokio::spawn(connection);
        let request = hyper::Request::post("/v1/commands")
            .header(hyper::header::HOST, self.address.as_str())
            .header(hyper::header::AUTHORIZATION, self.authorization.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(BODY.as_bytes())))
            .context("building the request")?;
        Ok(Connection {
            sender,
            request,
            driver,
        })
    }

    /// One submission; its latency in ms when it was accepted.
    async fn submit(&self) -> Result<f64> {
        let started = Instant::now();
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(BODY)
            .send()
            .await
            .context("POST /v1/commands")?;
        let status = response.status();
        // Reading the body to its end is what returns the connection to
        // the pool for the next request.
        let body = response.bytes().await.context("reading the answer")?;
        if status != reqwest::StatusCode::ACCEPTED {
            bail!(
                "POST /v1/commands answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }

    /// Client-side readiness probe: `GET /readyz` answers 200.
    pub async fn ready(&self, api_url: &str) -> bool {
        let url = format!("{api_url}/readyz");
        matches!(
            self.client.get(url).timeout(Duration::from_secs(2)).send().await,
            Ok(response) if response.status() == reqwest::StatusCode::OK
        )
    }

    /// `n` requests from `concurrency` loops; fails on the first request
    /// that is not accepted, or after `limit`.
    pub async fn closed_loop(
        &self,
        n: u64,
        concurrency: usize,
        limit: Duration,
    ) -> Result<LoadOutcome> {
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut loops = JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let submitter = self.clone();
            let next = Arc::clone(&next);
            loops.spawn(async move {
                let mut latencies = Vec::new();
                // Opened at the first request, so loops left without work cost nothing.
                let mut connection = None;
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    if connection.is_none() {
                        connection = Some(submitter.connect().await?);
                    }
                    let open = connection.as_mut().expect("opened above");
                    latencies.push(open.submit().await?);
                }
                anyhow::Ok(latencies)
            });
        }
        let latencies_ms = tokio::time::timeout(limit, collect(&mut loops))
            .await
            .with_context(|| format!("{n} submissions did not finish within {limit:?}"))??;
        Ok(LoadOutcome {
            accepted: latencies_ms.len() as u64,
            elapsed: started.elapsed(),
            latencies_ms,
        })
    }

    /// `n` requests at `rate` per second, each sent on schedule even when
    /// earlier ones are still unanswered, so a slow answer cannot hide
    /// queueing by slowing the arrivals down.
    pub async fn open_loop(&self, n: u64, rate: f64, limit: Duration) -> Result<LoadOutcome> {
        let started = Instant::now();
        let period = Duration::from_secs_f64(1.0 / rate);
        let mut requests = JoinSet::new();
        let schedule = async {
            for i in 0..n {
                let due = started + period.mul_f64(i as f64);
                tokio::time::sleep_until(due.into()).await;
                let submitter = self.clone();
                requests.spawn(async move { Ok(vec![submitter.submit().await?]) });
            }
            collect(&mut requests).await
        };
        let latencies_ms = tokio::time::timeout(limit, schedule)
            .await
            .with_context(|| format!("{n} paced submissions did not finish within {limit:?}"))??;
        Ok(LoadOutcome {
            accepted: latencies_ms.len() as u64,
            elapsed: started.elapsed(),
            latencies_ms,
        })
    }
}

/// One loop's connection and the request it sends again and again.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    request: hyper::Request<Full<Bytes>>,
    driver: tokio::task::JoinHandle<hyper::Result<()>>,
}

impl Connection {
    /// One submission; its latency in ms when it was accepted.
    async fn submit(&mut self) -> Result<f64> {
        let started = Instant::now();
        self.sender.ready().await.context("the connection closed")?;
        let mut request = hyper::Request::new(self.request.body().clone());
        *request.method_mut() = self.request.method().clone();
        *request.uri_mut() = self.request.uri().clone();
        *request.headers_mut() = self.request.headers().clone();
        let response = self
            .sender
            .send_request(request)
            .await
            .context("POST /v1/commands")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the answer")?
            .to_bytes();
        if status != hyper::StatusCode::ACCEPTED {
            bail!(
                "POST /v1/commands answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Joins every task; the first error aborts the rest (dropping the set).
async fn collect(tasks: &mut JoinSet<Result<Vec<f64>>>) -> Result<Vec<f64>> {
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.context("load task")??);
    }
    Ok(all)
}
