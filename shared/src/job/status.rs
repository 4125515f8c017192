//! Job status: queued → running → succeeded | failed | retrying (→ running …) → dead;
//! cancelled while still waiting.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted, waiting for a worker.
    Queued,
    /// A worker holds the job's lease and runs it.
    Running,
    /// Done; the result is recorded.
    Succeeded,
    /// Failed permanently; retrying by hand is possible.
    Failed,
    /// Failed transiently; another attempt is scheduled.
    Retrying,
    /// Out of attempts; retrying by hand is possible.
    Dead,
    /// Cancelled before it ran.
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Retrying,
        JobStatus::Dead,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Retrying => "retrying",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No worker will touch the job again unless someone retries it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Dead | JobStatus::Cancelled
        )
    }

    /// A person may send the job round again.
    pub fn is_retryable(self) -> bool {
        matches!(self, JobStatus::Failed | JobStatus::Dead)
    }

    /// Still waiting for a worker, so it can be cancelled.
    pub fn is_waiting(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Retrying)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::parse(s).ok_or_else(|| {
            let all: Vec<_> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown status `{s}` (one of {})", all.join(", "))
        })
    }
}
