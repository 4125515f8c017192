//! HTTP load generator for `POST /v1/commands`.
//!
//! Two shapes: closed loop (C loops, each sending its next request as soon
//! as the previous one is answered, N requests in all) for throughput, and
//! open loop (one request every 1/rate s whatever the answers do) for
//! latency at a light load. Connections are kept alive, as a real producer
//! would, so the figures are about Longshore and not about TCP set-up.
//!
//! The closed loop gives each loop a connection of its own, written to and
//! read from by the loop's own task: the generator shares the machine's two
//! cores with what it measures. A pooled reqwest client cost it about 0.12 ms
//! of CPU per request (a URL parse, a pool lookup and a timer each), as much
//! as the worker's share of a job; a hyper connection driven by a task of its
//! own still about 0.05 ms (two tasks waking each other per request, headers
//! cloned into a fresh request). Now a request is the same bytes written
//! again, and the answer's head is parsed by `httparse` (hyper's parser).

use anyhow::{Context, Result, bail};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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
        let stream = TcpStream::connect(&self.address)
            .await
            .with_context(|| format!("connecting to {}", self.address))?;
        stream.set_nodelay(true)?;
        let request = format!(
            "POST /v1/commands HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{BODY}",
            self.address,
            self.authorization,
            BODY.len()
        );
        Ok(Connection {
            stream,
            request: request.into_bytes(),
            buffer: Vec::with_capacity(1024),
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
    stream: TcpStream,
    request: Vec<u8>,
    /// Bytes read and not yet taken by an answer.
    buffer: Vec<u8>,
}

/// The most an answer's head may take before the connection is given up.
const MAX_HEAD: usize = 16 * 1024;

impl Connection {
    /// One submission; its latency in ms when it was accepted.
    async fn submit(&mut self) -> Result<f64> {
        let started = Instant::now();
        self.stream
            .write_all(&self.request)
            .await
            .context("POST /v1/commands")?;
        let (status, body) = self.answer().await.context("reading the answer")?;
        if status != 202 {
            bail!(
                "POST /v1/commands answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    }

    /// Reads one answer: its status and body (sized by `Content-Length`, which axum
    /// sends for every JSON answer).
    async fn answer(&mut self) -> Result<(u16, Vec<u8>)> {
        let (status, head_len, body_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head_len) = response.parse(&self.buffer)? {
                let status = response.code.context("an answer without status")?;
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .context("an answer without Content-Length")?;
                let body_len: usize = std::str::from_utf8(length.value)?.trim().parse()?;
                break (status, head_len, body_len);
            }
            if self.buffer.len() > MAX_HEAD {
                bail!("an answer's head longer than {MAX_HEAD} bytes");
            }
            self.fill().await?;
        };
        while self.buffer.len() < head_len + body_len {
            self.fill().await?;
        }
        let body = self.buffer[head_len..head_len + body_len].to_vec();
        self.buffer.drain(..head_len + body_len);
        Ok((status, body))
    }

    async fn fill(&mut self) -> Result<()> {
        if self.stream.read_buf(&mut self.buffer).await? == 0 {
            bail!("the api closed the connection");
        }
        Ok(())
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
