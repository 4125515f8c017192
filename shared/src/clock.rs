//! Wall-clock time as the store keeps it: milliseconds since the Unix epoch, which
//! sorts, compares and survives both SQLite and PostgreSQL unchanged.

use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

pub fn now_ms() -> Millis {
    Utc::now().timestamp_millis()
}

pub fn to_datetime(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

pub fn to_rfc3339(ms: Millis) -> String {
    to_datetime(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn millis(d: std::time::Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whether a wait that began at `since_ms` has lasted longer than `limit_secs`.
pub fn waited_longer_than(since_ms: i64, limit_secs: u64) -> bool {
    let limit_ms = i64::try_from(limit_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    now_ms().saturating_sub(since_ms) > limit_ms
}
