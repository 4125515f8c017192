//! Liveness and readiness. Ready means the store and the broker both answer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    // While the circuit is open the probe is already asking; no need to wait here.
    let store = if state.circuit.is_open() {
        Err("unavailable".to_owned())
    } else {
        state.store.ping().await.map_err(|err| {
            tracing::warn!(error = %err, "readiness: the job store does not answer");
            "unavailable".to_owned()
        })
    };
    let broker = state.transport.check().await.map_err(|err| {
        tracing::warn!(error = %err, "readiness: the broker does not answer");
        "unavailable".to_owned()
    });
    let ok = store.is_ok() && broker.is_ok();
    // Anyone may ask, so the answer names what is down, never the driver's words.
    let describe = |r: Result<(), String>| match r {
        Ok(()) => json!("ok"),
        Err(e) => json!(e),
    };
    let body = json!({
        "status": if ok { "ready" } else { "not ready" },
        "store": describe(store),
        "broker": describe(broker),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
