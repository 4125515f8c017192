//! What every end-to-end test shares: the real `longshore` binary spawned against real
//! servers, with a database and a broker prefix of its own, torn down on drop.

pub mod dev;
pub mod http;
pub mod postgres;
pub mod proxy;
pub mod rabbit;
pub mod spawn;

use std::time::Duration;

use serde_json::Value;

pub use dev::DevApp;
pub use postgres::Backend;
pub use proxy::Proxy;
pub use spawn::TestApp;

/// How long a polling helper waits before it gives up. Generous: the machines running
/// the suite are small and shared.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// How often polling helpers look.
pub const POLL: Duration = Duration::from_millis(100);

/// The events of a job (from `GET /v1/jobs/{id}`) named `name`.
pub fn events<'a>(job: &'a Value, name: &str) -> Vec<&'a Value> {
    job["events"]
        .as_array()
        .map(|all| all.iter().filter(|e| e["event"] == name).collect())
        .unwrap_or_default()
}

/// The names of a job's events, oldest first.
pub fn event_names(job: &Value) -> Vec<String> {
    job["events"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A status no worker changes again without someone asking.
pub fn is_terminal(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "dead" | "cancelled")
}
