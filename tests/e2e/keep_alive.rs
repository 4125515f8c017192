//! A keep-alive client whose large request was refused before its body was read (no
//! token, no such route, over the body limit) goes on with its next request on the same
//! client: the refusal says `Connection: close`, so the client does not reuse a
//! connection the server is closing. A request whose body was read keeps its
//! connection.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp};

/// Over the api's first read of a body and under the body limit (256 KiB).
const LARGE: usize = 200 * 1024;
const OVER_LIMIT: usize = 300 * 1024;

fn body_of(len: usize) -> String {
    let padding = "x".repeat(len);
    json!({"kind": "diag.noop", "payload": {}, "padding": padding}).to_string()
}

#[tokio::test]
async fn refusing_a_large_unread_body_does_not_break_the_clients_next_request() {
    let app = TestApp::running(Backend::Sqlite).await;
    // One connection at most, so each request after the first would reuse it.
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .build()
        .expect("a client");
    let noop = json!({"kind": "diag.noop", "payload": {}});

    let refusals = [
        (
            Method::POST,
            "/v1/commands",
            "lsk_not-a-real-token",
            LARGE,
            401,
        ),
        (
            Method::POST,
            "/v1/no-such-route",
            app.admin.as_str(),
            LARGE,
            404,
        ),
        (
            Method::POST,
            "/v1/commands",
            app.admin.as_str(),
            OVER_LIMIT,
            413,
        ),
    ];
    for (round, (method, path, token, len, status)) in refusals.into_iter().enumerate() {
        let refused = client
            .request(method, app.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body_of(len))
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the large request failed: {e}"));
        assert_eq!(refused.status(), StatusCode::from_u16(status).unwrap());
        assert_eq!(
            refused
                .headers()
                .get("connection")
                .and_then(|v| v.to_str().ok()),
            Some("close"),
            "round {round}: {refused:?}"
        );
        refused.bytes().await.expect("the refusal's body");

        // The next request on the same client succeeds.
        let next = client
            .post(app.url("/v1/commands"))
            .bearer_auth(&app.admin)
            .json(&noop)
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the next request failed: {e}"));
        assert_eq!(next.status(), StatusCode::ACCEPTED, "round {round}");
        // Its body was read: the connection stays open for the one after.
        assert_eq!(next.headers().get("connection"), None, "round {round}");
        let job: serde_json::Value = next.json().await.expect("a job");
        app.wait_succeeded(job["job_id"].as_str().expect("a job id"))
            .await;
    }
}
