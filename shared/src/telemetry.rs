//! Logging: readable lines for people, JSON lines for collectors; the filter follows
//! `tracing`'s syntax.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Libraries whose routine chatter would drown Longshore's own lines at `info`.
const QUIET: &str = "tokio_cron_scheduler=warn,lapin=warn,sqlx=warn,hyper=warn";

/// Installs the global subscriber; later calls are no-ops.
pub fn init(format: &str, filter: &str) {
    let directives = format!("{QUIET},{filter}");
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = if format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}
