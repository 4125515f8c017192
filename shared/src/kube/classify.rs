//! Turning Kubernetes errors into the runtime's transient / permanent split, once,
//! where the cause is known. The API's own message is kept for the job's record.

use std::time::Duration;

use crate::job::Failure;

/// Classifies a kube error: network trouble, conflicts on shared objects, throttling
/// and server errors are transient; refusals (400, 403, 404, 422…) are permanent.
pub fn classify(err: &kube::Error) -> Failure {
    match err {
        kube::Error::Api(status) => {
            let message = format!(
                "kubernetes answered {} {}: {}",
                status.code,
                if status.reason.is_empty() {
                    "error"
                } else {
                    status.reason.as_str()
                },
                status.message
            );
            match status.code {
                429 => {
                    let after = status
                        .details
                        .as_ref()
                        .map(|d| d.retry_after_seconds)
                        .filter(|s| *s > 0)
                        .unwrap_or(1);
                    Failure::RetryAfter {
                        after: Duration::from_secs(u64::from(after)),
                        message,
                    }
                }
                409 | 500..=599 | 408 => Failure::Transient(message),
                _ => Failure::Permanent(message),
            }
        }
        // Anything below the API (connect, TLS, timeouts, a dropped stream) may work
        // next time.
        other => Failure::Transient(format!("kubernetes unreachable: {}", chain(other))),
    }
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether the error is a 404 from the API.
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}

/// Whether the error is a 409 from the API (an object changed under us, or exists).
pub fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16) -> kube::Error {
        let mut status = Status::failure("nope", "Reason");
        status.code = code;
        kube::Error::Api(status.boxed())
    }

    #[test]
    fn refusals_are_permanent_and_trouble_is_transient() {
        assert!(matches!(classify(&api(403)), Failure::Permanent(_)));
        assert!(matches!(classify(&api(422)), Failure::Permanent(_)));
        assert!(matches!(classify(&api(409)), Failure::Transient(_)));
        assert!(matches!(classify(&api(503)), Failure::Transient(_)));
        assert!(matches!(classify(&api(429)), Failure::RetryAfter { .. }));
        assert!(classify(&api(403)).message().contains("nope"));
    }
}
