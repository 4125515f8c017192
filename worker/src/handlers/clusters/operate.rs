//! An operation on some instances of a cluster (one, or all of them with bounded
//! concurrency), carried to its end through delayed re-checks.
//!
//! Each run reads the cluster's instances once, acts (one write each) on those the job
//! has not decided yet, and looks at those it has: done when each has reached the
//! operation's status. What the job decided lives in its progress, so a re-check or a
//! redelivery never acts twice on the same instance; an instance that failed is left
//! out of it, so a retry acts on exactly those again.

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;
use longshore_shared::clock::{now_ms, waited_longer_than};
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::store::{ClusterRecord, InstanceRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::act::{Acted, Instance, Op, act};
use super::observe::{STOPPED_BY, SUSPENDED_BY, Seen, Status};
use super::{observe_cluster, store_failure};
use crate::Context;
use crate::registry::HandlerResult;

/// Which instances an operation acts on.
pub enum Scope {
    One(String),
    /// Every instance; a suspend leaves stopped ones alone and a resume only undoes
    /// suspensions.
    All,
}

/// What the job decided for one instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Decision {
    /// `changed`, `unchanged` or `skipped`.
    outcome: String,
    detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct Progress {
    since: i64,
    decided: BTreeMap<String, Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    waiting_for: Option<String>,
}

enum Fate {
    Done,
    Waiting(String),
    Failed { reason: String, transient: bool },
}

pub struct Operation<'a> {
    pub ctx: &'a Context,
    pub cluster: &'a ClusterRecord,
    pub op: Op,
    pub scope: Scope,
    pub dry_run: bool,
}

impl Operation<'_> {
    fn names(&self) -> Vec<String> {
        match &self.scope {
            Scope::One(name) => vec![name.clone()],
            Scope::All => (1..=self.cluster.instance_count)
                .map(|n| format!("{}-{n}", self.cluster.name))
                .collect(),
        }
    }

    /// What to do with an instance the job has not decided yet: a decision already
    /// (nothing to do), or None to act.
    fn decide(&self, seen: &Seen) -> Option<Decision> {
        let job = self.ctx.job_id.to_string();
        let all = matches!(self.scope, Scope::All);
        let decision = |outcome: &str, detail: String| Decision {
            outcome: outcome.to_owned(),
            detail,
        };
        if all && self.op == Op::Suspend && seen.status == Status::Stopped {
            return Some(decision(
                "skipped",
                "stopped before the suspend; left stopped".into(),
            ));
        }
        if all && self.op == Op::Resume && seen.status != Status::Suspended {
            return Some(decision(
                "skipped",
                format!("{}, not suspended; left as it is", seen.status.word()),
            ));
        }
        // An earlier delivery of this same job wrote before its progress was kept.
        let mark = match self.op {
            Op::Suspend => Some(SUSPENDED_BY),
            Op::Stop => Some(STOPPED_BY),
            Op::Start | Op::Resume => None,
        };
        if mark.is_some_and(|key| seen.annotation(key) == Some(job.as_str())) {
            return Some(decision(
                "changed",
                format!("{} by an earlier delivery of this job", self.op.name()),
            ));
        }
        if seen.status == self.op.target() {
            return Some(decision(
                "unchanged",
                format!("already {}", seen.status.word()),
            ));
        }
        None
    }

    pub async fn run(self) -> HandlerResult {
        let ctx = self.ctx;
        let config = &ctx.config().clusters;
        let client = ctx.kube()?;
        let namespace = self.cluster.namespace.as_str();
        let mut progress: Progress = ctx
            .previous_progress
            .as_ref()
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .unwrap_or_else(|| Progress {
                since: now_ms(),
                ..Progress::default()
            });
        let seen = observe_cluster(&client, self.cluster).await?;
        let names = self.names();
        let missing = Seen::missing();
        let seen_of = |name: &str| seen.get(name).unwrap_or(&missing);

        let undecided: Vec<&String> = names
            .iter()
            .filter(|n| !progress.decided.contains_key(*n))
            .collect();
        let mut to_act = Vec::new();
        for name in undecided {
            match self.decide(seen_of(name)) {
                Some(decision) => {
                    progress.decided.insert(name.clone(), decision);
                }
                None => to_act.push(name.clone()),
            }
        }
        if self.dry_run {
            return Ok(Outcome::Done(
                self.dry_run_result(&names, &to_act, &seen_of),
            ));
        }

        let job = ctx.job_id.to_string();
        let op = self.op;
        let (client, job) = (&client, job.as_str());
        let writes: Vec<_> = to_act
            .iter()
            .map(|name| {
                let name = name.clone();
                let seen = seen_of(&name).clone();
                async move {
                    let instance = Instance {
                        client,
                        namespace,
                        name: &name,
                    };
                    let acted = act(&instance, &seen, op, job).await;
                    (name, acted)
                }
            })
            .collect();
        let acted: Vec<(String, Result<Acted, Failure>)> = futures::stream::iter(writes)
            .buffer_unordered(config.concurrency.max(1))
            .collect()
            .await;

        let mut fates: BTreeMap<String, Fate> = BTreeMap::new();
        for (name, result) in acted {
            let fate = match result {
                Ok(Acted::Wrote(detail)) => {
                    progress.decided.insert(
                        name.clone(),
                        Decision {
                            outcome: "changed".into(),
                            detail,
                        },
                    );
                    Fate::Waiting(format!("{} requested", self.op.name()))
                }
                Ok(Acted::Nothing(detail)) => {
                    progress.decided.insert(
                        name.clone(),
                        Decision {
                            outcome: "unchanged".into(),
                            detail,
                        },
                    );
                    Fate::Done
                }
                Ok(Acted::Refused(reason)) => Fate::Failed {
                    reason,
                    transient: false,
                },
                Err(failure) => Fate::Failed {
                    transient: !failure.is_permanent(),
                    reason: failure.message().to_owned(),
                },
            };
            fates.insert(name, fate);
        }
        for name in &names {
            if fates.contains_key(name) {
                continue;
            }
            let Some(decision) = progress.decided.get(name) else {
                continue;
            };
            let status = &seen_of(name).status;
            let fate = if decision.outcome != "changed" || *status == self.op.target() {
                Fate::Done
            } else if let Status::Failed(reason) = status {
                Fate::Failed {
                    reason: reason.clone(),
                    transient: false,
                }
            } else {
                Fate::Waiting(status.reason().unwrap_or_else(|| status.word().to_owned()))
            };
            fates.insert(name.clone(), fate);
        }
        // A failed instance is decided again by a retry.
        for (name, fate) in &fates {
            if matches!(fate, Fate::Failed { .. }) {
                progress.decided.remove(name);
            }
        }
        self.record(&names, &seen_of, &fates, &progress).await?;

        let waiting: Vec<String> = fates
            .iter()
            .filter_map(|(name, fate)| match fate {
                Fate::Waiting(what) => Some(format!("{name} ({what})")),
                _ => None,
            })
            .collect();
        let failed: Vec<(String, String, bool)> = fates
            .iter()
            .filter_map(|(name, fate)| match fate {
                Fate::Failed { reason, transient } => {
                    Some((name.clone(), reason.clone(), *transient))
                }
                _ => None,
            })
            .collect();
        if !waiting.is_empty() && failed.iter().all(|(_, _, transient)| *transient) {
            let limit = config.timeout_secs;
            if waited_longer_than(progress.since, limit) {
                return Err(Failure::Permanent(format!(
                    "{} of cluster `{}` did not finish within {limit}s (clusters.timeout_secs): \
                     still waiting for {}",
                    self.op.name(),
                    self.cluster.name,
                    waiting.join(", ")
                )));
            }
            if failed.is_empty() {
                progress.waiting_for = Some(waiting.join(", "));
                return Ok(Outcome::recheck(config.check_ms, to_json(&progress)));
            }
        }
        if !failed.is_empty() {
            ctx.progress(to_json(&progress)).await;
            let list: Vec<String> = failed
                .iter()
                .map(|(name, reason, _)| format!("{name}: {reason}"))
                .collect();
            let message = format!(
                "{} of cluster `{}`: {} of {} instance(s) did not reach `{}`: {}",
                self.op.name(),
                self.cluster.name,
                failed.len(),
                names.len(),
                self.op.target().word(),
                list.join("; ")
            );
            return Err(if failed.iter().any(|(_, _, transient)| *transient) {
                Failure::Transient(message)
            } else {
                Failure::Permanent(message)
            });
        }
        Ok(Outcome::Done(self.result(&names, &progress, &seen_of)))
    }

    /// Each instance's status into the read model: those this job changed under its
    /// id, the others under the job that last changed them.
    async fn record<'s>(
        &self,
        names: &[String],
        seen_of: &impl Fn(&str) -> &'s Seen,
        fates: &BTreeMap<String, Fate>,
        progress: &Progress,
    ) -> Result<(), Failure> {
        let store = self.ctx.store();
        let rows: HashMap<String, InstanceRecord> = store
            .instances_of(&self.cluster.name)
            .await
            .map_err(store_failure)?
            .into_iter()
            .map(|row| (row.name.clone(), row))
            .collect();
        let job = self.ctx.job_id.to_string();
        let now = now_ms();
        let records: Vec<InstanceRecord> = names
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let seen = seen_of(name);
                let changed = progress
                    .decided
                    .get(name)
                    .is_some_and(|d| d.outcome == "changed");
                let (status, reason) = match fates.get(name) {
                    Some(Fate::Failed { reason, .. }) => ("failed", Some(reason.clone())),
                    Some(Fate::Waiting(what)) => ("pending", Some(what.clone())),
                    _ => (seen.status.word(), seen.status.reason()),
                };
                let row = rows.get(name);
                InstanceRecord {
                    name: name.clone(),
                    cluster: self.cluster.name.clone(),
                    position: row.map_or(index as i64 + 1, |r| r.position),
                    status: status.to_owned(),
                    reason,
                    node: seen.node.clone(),
                    ip: seen.ip.clone(),
                    job_id: match row {
                        Some(row) if !changed => row.job_id.clone(),
                        _ => job.clone(),
                    },
                    updated_at: now,
                }
            })
            .collect();
        store.put_instances(&records).await.map_err(store_failure)
    }

    fn result<'s>(
        &self,
        names: &[String],
        progress: &Progress,
        seen_of: &impl Fn(&str) -> &'s Seen,
    ) -> serde_json::Value {
        let instances: Vec<_> = names
            .iter()
            .map(|name| {
                let decision = progress.decided.get(name);
                json!({
                    "name": name,
                    "outcome": decision.map(|d| d.outcome.as_str()),
                    "detail": decision.map(|d| d.detail.as_str()),
                    "status": seen_of(name).status.word(),
                })
            })
            .collect();
        let count = |outcome: &str| {
            progress
                .decided
                .values()
                .filter(|d| d.outcome == outcome)
                .count()
        };
        let mut result = json!({
            "cluster": self.cluster.name,
            "operation": self.op.name(),
            "changed": count("changed"),
            "unchanged": count("unchanged"),
            "skipped": count("skipped"),
            "instances": instances,
        });
        if let Scope::One(name) = &self.scope {
            result["instance"] = json!(name);
            if count("changed") == 0 {
                result["changed_nothing"] = json!(true);
            }
        }
        result
    }

    fn dry_run_result<'s>(
        &self,
        names: &[String],
        to_act: &[String],
        seen_of: &impl Fn(&str) -> &'s Seen,
    ) -> serde_json::Value {
        let instances: Vec<_> = names
            .iter()
            .map(|name| {
                json!({
                    "name": name,
                    "status": seen_of(name).status.word(),
                    "would_change": to_act.contains(name),
                })
            })
            .collect();
        json!({
            "cluster": self.cluster.name,
            "operation": self.op.name(),
            "dry_run": true,
            "would_change": to_act,
            "instances": instances,
        })
    }
}

fn to_json(progress: &Progress) -> serde_json::Value {
    serde_json::to_value(progress).unwrap_or_default()
}
