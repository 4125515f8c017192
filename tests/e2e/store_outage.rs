//! PostgreSQL out of reach (a proxy the test cuts): the api answers `503` with
//! `Retry-After` and a message that the store is unavailable, promptly rather than
//! after the pool's long wait; `/readyz` fails while it lasts; once the store is back
//! the api accepts again and what it accepted runs.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Backend, Proxy, TestApp};

/// `host:port` and the rest of a PostgreSQL URL.
fn split_postgres(url: &str) -> (String, String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_once('/').expect("a database");
    let (user, host) = authority
        .rsplit_once('@')
        .map_or(("", authority), |(u, h)| (u, h));
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    (format!("{scheme}://{user}@"), host, format!("/{path}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_away_the_api_answers_503_at_once_and_recovers_when_it_is_back() {
    let mut app = TestApp::new(Backend::Postgres).await;
    let (head, upstream, tail) = split_postgres(&app.database_url);
    let proxy = Proxy::start(&upstream).await;
    app.database_url = format!("{head}{}{tail}", proxy.addr());
    app.start_api().await;
    app.start_worker("worker-a");
    let before = app.submit("diag.noop", json!({})).await;
    app.wait_succeeded(&before).await;

    proxy.cut();
    // Each of the first requests waits at most the store wait (1 s by default); then
    // the circuit is open and the answer comes without waiting at all.
    for n in 0..6 {
        let started = Instant::now();
        let answer = app
            .post(
                "/v1/commands",
                &json!({"kind": "diag.noop", "payload": {}, "idempotency_key": format!("down-{n}")}),
            )
            .await;
        let took = started.elapsed();
        assert_eq!(answer.status, 503, "request {n}: {answer:?}");
        assert_eq!(answer.body["error"], "unavailable");
        assert!(
            answer.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("job store is unavailable")),
            "{answer:?}"
        );
        assert!(answer.header("retry-after").is_some(), "{answer:?}");
        // Far from the 10 s the pool used to wait; generous for a busy machine.
        assert!(took < Duration::from_secs(5), "request {n} took {took:?}");
    }
    let ready = app.send(app.http().get(app.url("/readyz"))).await;
    assert_eq!(ready.status, 503, "{ready:?}");
    assert_eq!(ready.body["store"], "unavailable", "{ready:?}");
    assert_eq!(ready.body["broker"], "ok", "{ready:?}");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let answer = app
            .post(
                "/v1/commands",
                &json!({"kind": "diag.noop", "payload": {}, "idempotency_key": "after"}),
            )
            .await;
        if answer.status == 202 {
            break answer.body["job_id"].as_str().expect("job id").to_owned();
        }
        assert_eq!(answer.status, 503, "{answer:?}");
        assert!(Instant::now() < deadline, "the api never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    app.wait_succeeded(&id).await;
    let ready = app.send(app.http().get(app.url("/readyz"))).await;
    assert_eq!(ready.status, 200, "{ready:?}");
}
