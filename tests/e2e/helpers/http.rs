//! Talking to a test's api: requests with a token, answers read whole, and polling a
//! job until it gets where the test expects it.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{DEADLINE, POLL, TestApp, is_terminal};

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `field` an error answer names.
    pub fn field(&self) -> &str {
        self.body["field"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        let base = self.api.as_deref().expect("the api was started");
        format!("{base}{path}")
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends a request and reads the whole answer (a body that is not JSON is kept as
    /// a JSON string).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.expect("the api answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("read the body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A request to the api with `token` (none when empty).
    pub fn request(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, self.url(path));
        if token.is_empty() {
            req
        } else {
            req.bearer_auth(token)
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.request(Method::GET, path, &self.admin))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.send(self.request(Method::POST, path, &self.admin).json(body))
            .await
    }

    /// Submits `{kind, payload}` as the admin and returns the job id (asserting 202).
    pub async fn submit(&self, kind: &str, payload: Value) -> String {
        let answer = self
            .post(
                "/v1/commands",
                &serde_json::json!({ "kind": kind, "payload": payload }),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "submitting {kind}: {answer:?}"
        );
        answer.body["job_id"].as_str().expect("a job id").to_owned()
    }

    /// `GET /v1/jobs/{id}`, asserting it exists.
    pub async fn job(&self, id: &str) -> Value {
        let answer = self.get(&format!("/v1/jobs/{id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "GET job {id}: {answer:?}");
        answer.body
    }

    /// Polls a job until `done` holds for it.
    pub async fn wait_job(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_job_within(id, what, DEADLINE, done).await
    }

    pub async fn wait_job_within(
        &self,
        id: &str,
        what: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let answer = self.get(&format!("/v1/jobs/{id}")).await;
            if answer.status == StatusCode::OK && done(&answer.body) {
                return answer.body;
            }
            if start.elapsed() > within {
                self.fail(&format!(
                    "job {id} was not {what} within {within:?}; last seen: {:#}",
                    answer.body
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls a job until it is succeeded, failed, dead or cancelled.
    pub async fn wait_terminal(&self, id: &str) -> Value {
        self.wait_job(id, "finished", |job| {
            is_terminal(job["status"].as_str().unwrap_or_default())
        })
        .await
    }

    /// Polls a job until it finishes and asserts it succeeded.
    pub async fn wait_succeeded(&self, id: &str) -> Value {
        let job = self.wait_terminal(id).await;
        assert_eq!(job["status"], "succeeded", "job {id}: {job:#}");
        job
    }
}
