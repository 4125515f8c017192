//! Retry timing: exponential backoff with jitter, from the `backoff` crate's policy,
//! indexed by attempt so every worker computes the same curve.

use std::time::Duration;

use backoff::ExponentialBackoffBuilder;
use backoff::backoff::Backoff;

/// The delay before the attempt after `attempt` (1-based): about `base · 2^(attempt-1)`,
/// ±50 % jitter, at most `max`.
pub fn retry_delay(attempt: i64, base: Duration, max: Duration) -> Duration {
    let mut policy = ExponentialBackoffBuilder::new()
        .with_initial_interval(base)
        .with_multiplier(2.0)
        .with_randomization_factor(0.5)
        .with_max_interval(max)
        .with_max_elapsed_time(None)
        .build();
    let mut delay = base;
    for _ in 0..attempt.clamp(1, 64) {
        delay = policy.next_backoff().unwrap_or(max);
    }
    delay.min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_and_stay_under_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for _ in 0..50 {
            let first = retry_delay(1, base, max);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(150),
                "{first:?}"
            );
            let third = retry_delay(3, base, max);
            assert!(
                third >= Duration::from_millis(200) && third <= Duration::from_millis(600),
                "{third:?}"
            );
            assert!(retry_delay(30, base, max) <= max);
        }
    }
}
