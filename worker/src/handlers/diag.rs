//! `diag.noop`: succeeds after an optional sleep, or fails as told, so health checks,
//! benchmarks and tests can drive every path of the runtime.

use std::time::Duration;

use longshore_shared::command::diag::{FailMode, Noop};
use longshore_shared::job::{Failure, Outcome};
use serde_json::json;

use crate::Context;
use crate::registry::HandlerResult;

/// Progress is reported about this often during a long sleep.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub async fn noop(cmd: Noop, ctx: Context) -> HandlerResult {
    if let Some(fail_times) = cmd.fail_times
        && ctx.attempt <= i64::from(fail_times)
    {
        let message = format!(
            "diag.noop failing on purpose (attempt {} of {fail_times} to fail)",
            ctx.attempt
        );
        return Err(match cmd.fail_mode {
            FailMode::Transient => Failure::Transient(message),
            FailMode::Permanent => Failure::Permanent(message),
        });
    }
    let total = Duration::from_millis(cmd.sleep_ms.unwrap_or(0));
    let mut slept = Duration::ZERO;
    while slept < total {
        let step = (total - slept).min(PROGRESS_EVERY);
        tokio::time::sleep(step).await;
        slept += step;
        if slept < total {
            ctx.progress(json!({
                "slept_ms": slept.as_millis() as u64,
                "sleep_ms": total.as_millis() as u64,
            }))
            .await;
        }
    }
    Ok(Outcome::Done(json!({
        "attempt": ctx.attempt,
        "slept_ms": total.as_millis() as u64,
    })))
}
