//! Finished commit Jobs past their `ttlSecondsAfterFinished`, for `maintenance.cleanup`
//! to delete where the cluster's TTL controller does not (or has not yet).

use chrono::{DateTime, TimeDelta, Utc};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, ListParams};
use longshore_shared::config::ImagesConfig;
use longshore_shared::job::Failure;
use longshore_shared::kube::{classify, retrying};
use serde_json::{Value, json};

use super::render::COMMIT_LABEL;

/// A finished commit Job and when it finished.
pub struct Finished {
    pub name: String,
    pub reason: String,
}

/// The commit Jobs that finished more than their TTL before `now`.
pub async fn past_ttl(
    client: &kube::Client,
    config: &ImagesConfig,
    now: DateTime<Utc>,
) -> Result<Vec<Finished>, Failure> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), &config.namespace);
    let params = ListParams::default().labels(&format!("{COMMIT_LABEL}=true"));
    let list = retrying(|| jobs.list(&params)).await?;
    let mut expired = Vec::new();
    for job in list.items {
        let finished = job
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| {
                cs.iter()
                    .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            })
            .map(|c| (c.type_.clone(), c.last_transition_time.clone()));
        let Some((outcome, Some(at))) = finished else {
            continue;
        };
        let ttl = job
            .spec
            .as_ref()
            .and_then(|s| s.ttl_seconds_after_finished)
            .unwrap_or(config.ttl_secs);
        let at = DateTime::<Utc>::from_timestamp(at.0.as_second(), 0).unwrap_or_default();
        if at + TimeDelta::seconds(i64::from(ttl)) <= now {
            expired.push(Finished {
                name: job.metadata.name.unwrap_or_default(),
                reason: format!("{outcome} at {}, kept {ttl}s", at.to_rfc3339()),
            });
        }
    }
    Ok(expired)
}

/// Deletes the Jobs with their pods; one already gone counts as deleted.
pub async fn delete(
    client: &kube::Client,
    config: &ImagesConfig,
    finished: &[Finished],
) -> Result<Vec<Value>, Failure> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), &config.namespace);
    let params = DeleteParams::background();
    let mut deleted = Vec::new();
    for job in finished {
        retrying(|| async {
            match jobs.delete(&job.name, &params).await {
                Ok(_) => Ok(()),
                Err(err) if classify::is_not_found(&err) => Ok(()),
                Err(err) => Err(err),
            }
        })
        .await?;
        deleted
            .push(json!({"namespace": config.namespace, "name": job.name, "reason": job.reason}));
    }
    Ok(deleted)
}

pub fn json(config: &ImagesConfig, finished: &[Finished]) -> Vec<Value> {
    finished
        .iter()
        .map(|j| json!({"namespace": config.namespace, "name": j.name, "reason": j.reason}))
        .collect()
}
