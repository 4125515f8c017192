//! Fault injection rules and the request log tests inspect.

use std::collections::VecDeque;

use serde::Serialize;

/// Answers the next `times` requests matching `method` and `path_prefix` with `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailRule {
    /// Upper-case HTTP method; `None` matches any.
    pub method: Option<String>,
    pub path_prefix: String,
    pub status: u16,
    pub times: usize,
    pub retry_after_seconds: Option<u64>,
    pub message: Option<String>,
}

impl FailRule {
    /// Fails the next matching request once; `method` of `"*"` or `""` matches any method.
    pub fn new(method: &str, path_prefix: impl Into<String>, status: u16) -> Self {
        let method = match method {
            "" | "*" => None,
            m => Some(m.to_ascii_uppercase()),
        };
        Self {
            method,
            path_prefix: path_prefix.into(),
            status,
            times: 1,
            retry_after_seconds: None,
            message: None,
        }
    }

    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    /// Adds a `Retry-After` header and `details.retryAfterSeconds`, as 429s carry.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method) && path.starts_with(&self.path_prefix)
    }
}

/// One request as the server saw and answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// The `fieldManager` query parameter, if given.
    pub field_manager: Option<String>,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestRecord {
    /// Whether the request could have changed state (anything but GET/HEAD/OPTIONS).
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }
}

/// Oldest records are dropped past this, so long benchmarks stay bounded.
const LOG_CAPACITY: usize = 100_000;

#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<FailRule>,
    log: VecDeque<RequestRecord>,
}

impl Faults {
    pub fn add(&mut self, rule: FailRule) {
        if rule.times > 0 {
            self.rules.push(rule);
        }
    }

    /// Consumes one use of the first rule matching this request.
    pub fn take(&mut self, method: &str, path: &str) -> Option<FailRule> {
        let index = self.rules.iter().position(|r| r.matches(method, path))?;
        let rule = &mut self.rules[index];
        rule.times -= 1;
        let fired = rule.clone();
        if rule.times == 0 {
            self.rules.remove(index);
        }
        Some(fired)
    }

    pub fn record(&mut self, record: RequestRecord) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(record);
    }

    pub fn log(&self) -> Vec<RequestRecord> {
        self.log.iter().cloned().collect()
    }

    pub fn clear_log(&mut self) {
        self.log.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_fires_the_requested_number_of_times() {
        let mut faults = Faults::default();
        faults.add(FailRule::new("post", "/api/v1/namespaces/a/configmaps", 500).times(2));
        assert!(
            faults
                .take("GET", "/api/v1/namespaces/a/configmaps")
                .is_none()
        );
        assert!(
            faults
                .take("POST", "/api/v1/namespaces/a/configmaps")
                .is_some()
        );
        assert!(
            faults
                .take("POST", "/api/v1/namespaces/a/configmaps/x")
                .is_some()
        );
        assert!(
            faults
                .take("POST", "/api/v1/namespaces/a/configmaps")
                .is_none()
        );
    }
}
