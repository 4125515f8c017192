//! RabbitMQ out of reach: the api keeps accepting commands (they wait in the outbox),
//! and once the broker is back every one of them runs, exactly once.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Backend, Proxy, TestApp, events};

/// `host:port` of the test RabbitMQ.
fn rabbit_addr() -> String {
    let url = longshore_shared::testing::amqp_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5672")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_accepted_while_rabbitmq_is_unreachable_all_run_once_it_is_back() {
    const N: usize = 8;
    let proxy = Proxy::start(&rabbit_addr()).await;
    let mut app = TestApp::new(Backend::Postgres).await;
    app.amqp_url = proxy.amqp_url();
    app.start_api().await;
    app.start_worker("worker-a");

    // The path works before the outage.
    let before = app.submit("diag.noop", json!({})).await;
    app.wait_succeeded(&before).await;

    proxy.cut();
    let mut ids = Vec::new();
    for n in 0..N {
        let answer = app
            .post(
                "/v1/commands",
                &json!({"kind": "diag.noop", "payload": {}, "idempotency_key": format!("outage-{n}")}),
            )
            .await;
        assert_eq!(
            answer.status, 202,
            "accepted while the broker is away: {answer:?}"
        );
        ids.push(answer.body["job_id"].as_str().expect("job id").to_owned());
    }
    // Readiness tells that the broker is away.
    let ready = app.send(app.http().get(app.url("/readyz"))).await;
    assert_eq!(ready.status, 503, "{ready:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    for id in &ids {
        assert_eq!(app.job(id).await["status"], "queued");
    }

    proxy.restore();
    for id in &ids {
        let job = app.wait_succeeded(id).await;
        assert_eq!(events(&job, "succeeded").len(), 1, "{job:#}");
        assert_eq!(events(&job, "started").len(), 1, "{job:#}");
    }
    let page = app.get("/v1/jobs?status=succeeded&limit=100").await;
    assert_eq!(
        page.body["jobs"].as_array().map(Vec::len),
        Some(N + 1),
        "{page:?}"
    );
}
