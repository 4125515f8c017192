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

#[cfg(test)]
mod tests {
    use super::*;
    use longshore_shared::config::SchedulerConfig;

    fn entry(name: &str, kind: &str) -> ScheduleEntry {
        ScheduleEntry {
            name: name.to_owned(),
            cron: "0 * * * * *".to_owned(),
            kind: kind.to_owned(),
            payload: serde_json::json!({}),
            target: "default".to_owned(),
            enabled: true,
        }
    }

    #[test]
    fn entries_of_kinds_this_release_does_not_run_are_left_out() {
        let mut config = SchedulerConfig::default().entries;
        config.push(entry("heartbeat", "diag.noop"));
        let scheduled: Vec<String> = parse_entries(&config)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        let expected: Vec<String> = config
            .iter()
            .filter(|e| lookup(&e.kind).is_some_and(|spec| spec.built))
            .map(|e| e.kind.clone())
            .collect();
        assert_eq!(scheduled, expected);
        assert!(scheduled.contains(&"diag.noop".to_owned()));
    }

    #[test]
    fn an_unknown_kind_still_stops_start_up() {
        let err = parse_entries(&[entry("typo", "maintenance.cleanpu")]).unwrap_err();
        assert!(err.to_string().contains("unknown kind"), "{err}");
    }
}
