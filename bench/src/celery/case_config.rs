//! The environment one Celery case runs with (see `bench/celery/bench_app.py`).

use std::path::PathBuf;
use tokio::process::Command;

#[derive(Debug, Clone)]
pub struct CaseConfig {
    pub broker_url: String,
    /// Unique per case and run; also the name of the direct exchange Celery
    /// declares for it, which the harness deletes afterwards.
    pub queue: String,
    pub result_backend: Option<String>,
    pub confirm_publish: bool,
    /// One byte is appended per finished task; `<file>.ready` appears when
    /// the worker is ready.
    pub done_file: PathBuf,
}

impl CaseConfig {
    pub fn apply(&self, command: &mut Command) {
        command
            .env("BENCH_BROKER_URL", &self.broker_url)
            .env("BENCH_QUEUE", &self.queue)
            .env(
                "BENCH_RESULT_BACKEND",
                self.result_backend.as_deref().unwrap_or(""),
            )
            .env(
                "BENCH_CONFIRM_PUBLISH",
                if self.confirm_publish { "1" } else { "0" },
            )
            .env("BENCH_DONE_FILE", &self.done_file)
            .env("PYTHONDONTWRITEBYTECODE", "1");
    }

    pub fn ready_file(&self) -> PathBuf {
        let mut name = self.done_file.clone().into_os_string();
        name.push(".ready");
        name.into()
    }

    /// Tasks finished so far.
    pub fn finished_tasks(&self) -> u64 {
        std::fs::metadata(&self.done_file).map_or(0, |m| m.len())
    }
}
