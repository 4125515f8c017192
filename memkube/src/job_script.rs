//! How the containers of a Job's pods end, since nothing really runs in them: a
//! [`JobScript`] set with `Handle::script_jobs` picks Jobs by namespace and labels and says
//! how long the container runs, what it prints and how it exits.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// Expanded in messages and log lines to a fresh `sha256:<64 hex>`, the same within a run,
/// so a dev cluster can simulate an image push.
pub const DIGEST_PLACEHOLDER: &str = "{digest}";

/// How long a Job's container runs when no script says otherwise.
const DEFAULT_RUN: Duration = Duration::from_millis(300);

/// A rule for the Jobs it matches. Without any, a Job's containers run briefly and exit 0.
///
/// ```
/// # use std::time::Duration;
/// # use longshore_memkube::JobScript;
/// let push = JobScript::succeed()
///     .in_namespace("longshore-commit")
///     .with_label("longshore.io/job-id", "42")
///     .message("{\"digest\": \"{digest}\"}")
///     .log("pushing layer 1/3")
///     .runs_for(Duration::from_millis(200));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobScript {
    namespace: Option<String>,
    labels: BTreeMap<String, String>,
    exit_code: i32,
    message: Option<String>,
    logs: Vec<String>,
    runs_for: Duration,
}

impl JobScript {
    /// Exits 0.
    pub fn succeed() -> Self {
        Self {
            namespace: None,
            labels: BTreeMap::new(),
            exit_code: 0,
            message: None,
            logs: Vec::new(),
            runs_for: DEFAULT_RUN,
        }
    }

    /// Exits with `exit_code` (non-zero), so the Pod fails and the Job retries it.
    pub fn fail(exit_code: i32) -> Self {
        Self {
            exit_code,
            ..Self::succeed()
        }
    }

    /// Only Jobs in this namespace.
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Only Jobs carrying this label (all given labels must match).
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// What the container writes to its termination-log: `state.terminated.message`.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// A line the container prints, in order.
    pub fn log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    pub fn runs_for(mut self, duration: Duration) -> Self {
        self.runs_for = duration;
        self
    }

    pub(crate) fn matches(&self, job: &Value) -> bool {
        let meta = &job["metadata"];
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta["namespace"] == ns)
            && self
                .labels
                .iter()
                .all(|(k, v)| meta["labels"][k].as_str() == Some(v))
    }

    /// The run this script makes: placeholders expanded with one digest.
    pub(crate) fn outcome(&self) -> Outcome {
        let digest = random_digest();
        let expand = |text: &str| text.replace(DIGEST_PLACEHOLDER, &digest);
        Outcome {
            exit_code: self.exit_code,
            message: self.message.as_deref().map(expand),
            logs: self.logs.iter().map(|l| expand(l)).collect(),
            runs_for: self.runs_for,
        }
    }
}

/// One container run, decided when it starts.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub exit_code: i32,
    pub message: Option<String>,
    pub logs: Vec<String>,
    pub runs_for: Duration,
}

fn random_digest() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("sha256:{a}{b}")
}
