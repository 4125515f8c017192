//! Schedule entries from configuration, checked before anything runs: a bad cron
//! expression or an unknown kind stops start-up with the entry's name.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use longshore_shared::command::lookup;
use longshore_shared::config::ScheduleEntry;

use crate::SchedulerError;

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub cron_text: String,
    pub cron: Cron,
    pub kind: String,
    pub payload: serde_json::Value,
    pub target: String,
}

impl Entry {
    /// The slot a firing at `now` belongs to: the latest scheduled time not after it.
    pub fn slot_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        crate::slot::slot_at(&self.cron, now)
    }
}

/// The enabled entries, validated, without those whose kind this release does not run.
pub fn parse_entries(config: &[ScheduleEntry]) -> Result<Vec<Entry>, SchedulerError> {
    let mut seen = std::collections::HashSet::new();
    config
        .iter()
        .filter(|e| e.enabled)
        .map(|e| {
            let fail = |message: String| SchedulerError::Entry {
                entry: e.name.clone(),
                message,
            };
            if !seen.insert(e.name.clone()) {
                return Err(fail("the name is used twice".into()));
            }
            if e.name.is_empty() || e.name.contains(':') {
                return Err(fail("names must be non-empty and contain no `:`".into()));
            }
            let cron = CronParser::builder()
                .seconds(Seconds::Required)
                .build()
                .parse(&e.cron)
                .map_err(|err| {
                    fail(format!(
                        "cron `{}`: {err} (six fields: sec min hour dom mon dow)",
                        e.cron
                    ))
                })?;
            let spec = lookup(&e.kind).ok_or_else(|| fail(format!("unknown kind `{}`", e.kind)))?;
            spec.validate(&e.payload)
                .map_err(|err| fail(format!("payload: {err}")))?;
            if !spec.built {
                tracing::warn!(
                    entry = %e.name,
                    kind = %e.kind,
                    "not scheduled: this release does not run the kind yet"
                );
                return Ok(None);
            }
            Ok(Some(Entry {
                name: e.name.clone(),
                cron_text: e.cron.clone(),
                cron,
                kind: e.kind.clone(),
                payload: e.payload.clone(),
                target: e.target.clone(),
            }))
        })
        .filter_map(Result::transpose)
        .collect()
}
