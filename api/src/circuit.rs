//! A circuit breaker in front of the job store. Every request needs the store (its
//! token, its job), so while the database is away each would wait out the pool's
//! acquire timeout before failing. After a few consecutive requests found the store
//! unavailable the circuit opens: requests are answered `503` at once, `/readyz`
//! fails so a load balancer stops sending, and a probe pings the store until it
//! answers, which closes the circuit again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use longshore_shared::store::Store;

use crate::AppState;
use crate::error::ApiError;

/// Consecutive store-unavailable answers that open the circuit.
const THRESHOLD: u32 = 3;
/// How often an open circuit's probe pings the store.
const PROBE_EVERY: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct StoreCircuit {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    failures: AtomicU32,
    open: AtomicBool,
}

/// Put on a response whose request found the store unavailable.
#[derive(Debug, Clone, Copy)]
pub struct StoreWasDown;

impl StoreCircuit {
    pub fn new(store: Store) -> Self {
        StoreCircuit {
            inner: Arc::new(Inner {
                store,
                failures: AtomicU32::new(0),
                open: AtomicBool::new(false),
            }),
        }
    }

    pub fn is_open(&self) -> bool {
        self.inner.open.load(Ordering::Acquire)
    }

    fn failed(&self) {
        let failures = self.inner.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures >= THRESHOLD && !self.inner.open.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                failures,
                "the job store is unavailable: answering 503 until it is back"
            );
            tokio::spawn(probe(self.inner.clone()));
        }
    }

    fn answered(&self) {
        if !self.is_open() {
            self.inner.failures.store(0, Ordering::Release);
        }
    }
}

async fn probe(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        match inner.store.ping().await {
            Ok(()) => {
                inner.failures.store(0, Ordering::Release);
                inner.open.store(false, Ordering::Release);
                tracing::info!("the job store answers again");
                return;
            }
            Err(err) => tracing::debug!(error = %err, "the job store is still unavailable"),
        }
    }
}

/// Answers at once while the circuit is open (but for liveness and readiness, which
/// say so themselves), and counts what the store did to each request.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if state.circuit.is_open() && path != "/healthz" && path != "/readyz" {
        return ApiError::StoreUnavailable.into_response();
    }
    let response = next.run(request).await;
    if response.extensions().get::<StoreWasDown>().is_some() {
        state.circuit.failed();
    } else {
        state.circuit.answered();
    }
    response
}
