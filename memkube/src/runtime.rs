//! What the simulated nodes know that no API object holds: each container's log, the
//! scripts that decide how Job containers end and the runs they decided, and the
//! wake-ups controllers ask for when something falls due later (a container exiting, a
//! deadline, a TTL). It lives beside the objects so every controller reaches it under the
//! same lock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::job_script::{JobScript, Outcome};

#[derive(Debug, Clone)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// A Job container's current run and when it exits.
#[derive(Debug, Clone)]
pub struct Run {
    pub ends_at: Instant,
    pub outcome: Outcome,
}

/// A reconcile asked for `after` from now.
#[derive(Debug, Clone)]
pub struct Wakeup {
    pub resource: &'static str,
    pub namespace: String,
    pub name: String,
    pub after: Duration,
}

/// `(pod uid, container name)`.
type ContainerKey = (String, String);

#[derive(Debug, Default)]
pub struct Runtime {
    scripts: Vec<JobScript>,
    /// Every run's log, the current run last (`previous=true` reads the one before).
    logs: HashMap<ContainerKey, Vec<Vec<LogLine>>>,
    runs: HashMap<ContainerKey, Run>,
    wakeups: Vec<Wakeup>,
}

fn key(uid: &str, container: &str) -> ContainerKey {
    (uid.to_string(), container.to_string())
}

impl Runtime {
    pub fn add_script(&mut self, script: JobScript) {
        self.scripts.push(script);
    }

    pub fn clear_scripts(&mut self) {
        self.scripts.clear();
    }

    /// The most recently added script matching `job`, or the default success.
    pub fn script_for(&self, job: &Value) -> JobScript {
        self.scripts
            .iter()
            .rev()
            .find(|s| s.matches(job))
            .cloned()
            .unwrap_or_else(JobScript::succeed)
    }

    /// A container started: a fresh log holding `lines`.
    pub fn start_log(&mut self, uid: &str, container: &str, lines: &[String]) {
        let at = Utc::now();
        let log = lines
            .iter()
            .map(|text| LogLine {
                at,
                text: text.clone(),
            })
            .collect();
        self.logs.entry(key(uid, container)).or_default().push(log);
    }

    pub fn append_log(&mut self, uid: &str, container: &str, text: &str) {
        let runs = self.logs.entry(key(uid, container)).or_default();
        if runs.is_empty() {
            runs.push(Vec::new());
        }
        if let Some(current) = runs.last_mut() {
            current.push(LogLine {
                at: Utc::now(),
                text: text.to_string(),
            });
        }
    }

    /// The current run's log, or the previous run's.
    pub fn log(&self, uid: &str, container: &str, previous: bool) -> &[LogLine] {
        let runs = self.logs.get(&key(uid, container));
        let runs = runs.map_or(&[][..], Vec::as_slice);
        let at = if previous {
            runs.len().checked_sub(2)
        } else {
            runs.len().checked_sub(1)
        };
        at.and_then(|i| runs.get(i)).map_or(&[], Vec::as_slice)
    }

    pub fn start_run(&mut self, uid: &str, container: &str, outcome: Outcome) -> &Run {
        let run = Run {
            ends_at: Instant::now() + outcome.runs_for,
            outcome,
        };
        self.runs.insert(key(uid, container), run);
        &self.runs[&key(uid, container)]
    }

    pub fn run(&self, uid: &str, container: &str) -> Option<&Run> {
        self.runs.get(&key(uid, container))
    }

    /// Forgets a deleted Pod's containers.
    pub fn forget(&mut self, uid: &str) {
        self.logs.retain(|(pod, _), _| pod != uid);
        self.runs.retain(|(pod, _), _| pod != uid);
    }

    pub fn wake(&mut self, resource: &'static str, namespace: &str, name: &str, after: Duration) {
        self.wakeups.push(Wakeup {
            resource,
            namespace: namespace.to_string(),
            name: name.to_string(),
            after,
        });
    }

    pub fn take_wakeups(&mut self) -> Vec<Wakeup> {
        std::mem::take(&mut self.wakeups)
    }
}
