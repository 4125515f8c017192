//! `maintenance.cleanup`: delete the managed workspace Pods whose protection has
//! passed, after K8S-OPERATIONS §7 and the GPU pod platform's cleanup CronJob.
//!
//! Pods are listed a page at a time (metadata only) and each expired one is deleted
//! with preconditions on its uid and resourceVersion, so a Pod whose deadline was
//! extended between the list and the delete answers 409 and is kept this round. Its
//! pod-scoped claims go with it and its owner's count is given back.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Preconditions};
use kube::core::PartialObjectMeta;
use longshore_shared::clock::now_ms;
use longshore_shared::command::maintenance::Cleanup;
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::kube::{classify, delete_if_exists, retrying};
use serde_json::{Value, json};

use super::images::expired;
use super::workspaces::render::{
    MANAGED_LABEL, OWNER_ANNOTATION, PROTECTED_UNTIL, VOLUME_SCOPE_LABEL, WORKSPACE_LABEL,
};
use crate::Context;
use crate::registry::HandlerResult;

/// Pods per list page.
const PAGE: u32 = 500;

/// One Pod's verdict.
struct Verdict {
    namespace: String,
    name: String,
    uid: String,
    resource_version: String,
    owner: Option<String>,
    /// Why it goes, or why it stays.
    reason: String,
    expired: bool,
}

impl Verdict {
    fn json(&self) -> Value {
        json!({"namespace": self.namespace, "name": self.name, "reason": self.reason})
    }
}

fn judge(pod: &PartialObjectMeta<Pod>, now: DateTime<Utc>) -> Verdict {
    let meta = &pod.metadata;
    let annotations = meta.annotations.clone().unwrap_or_default();
    let deadline = annotations.get(PROTECTED_UNTIL);
    let parsed = deadline.and_then(|d| DateTime::parse_from_rfc3339(d).ok());
    let (expired, reason) = match (deadline, parsed) {
        (None, _) => (true, "unprotected".to_owned()),
        (Some(raw), None) => (true, format!("unreadable protection deadline `{raw}`")),
        (Some(raw), Some(until)) if until <= now => (true, format!("protection expired at {raw}")),
        (Some(raw), Some(_)) => (false, format!("protected until {raw}")),
    };
    Verdict {
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        resource_version: meta.resource_version.clone().unwrap_or_default(),
        owner: annotations.get(OWNER_ANNOTATION).cloned(),
        reason,
        expired,
    }
}

/// Every managed Pod's verdict, page by page; a continue token that expired (410)
/// starts the listing over once.
async fn survey(pods: &Api<Pod>, now: DateTime<Utc>) -> Result<Vec<Verdict>, Failure> {
    let selector = format!("{MANAGED_LABEL}=true");
    for _ in 0..2 {
        let mut verdicts = Vec::new();
        let mut token: Option<String> = None;
        let expired_token = loop {
            let mut params = ListParams::default().labels(&selector).limit(PAGE);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            match pods.list_metadata(&params).await {
                Ok(page) => {
                    verdicts.extend(page.items.iter().map(|p| judge(p, now)));
                    match page.metadata.continue_.filter(|t| !t.is_empty()) {
                        Some(next) => token = Some(next),
                        None => break false,
                    }
                }
                Err(kube::Error::Api(status)) if status.code == 410 => break true,
                Err(err) => return Err(classify::classify(&err)),
            }
        };
        if !expired_token {
            return Ok(verdicts);
        }
    }
    Err(Failure::transient(
        "the Pod listing's continue token expired twice in a row",
    ))
}

/// What a run would do: the expired Pods it deletes (at most `max_deletions`) and
/// every other managed Pod with why it stays, each as it was when listed.
pub struct Plan {
    expired: Vec<Verdict>,
    kept: Vec<Value>,
}

impl Plan {
    pub fn json(&self) -> Value {
        json!({
            "would_delete": self.expired.iter().map(Verdict::json).collect::<Vec<_>>(),
            "kept": self.kept,
        })
    }
}

/// Lists the managed Pods (of `cmd.namespace`, or everywhere) and judges each.
pub async fn plan(client: &kube::Client, cmd: &Cleanup) -> Result<Plan, Failure> {
    let pods: Api<Pod> = match &cmd.namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace.as_str()),
        None => Api::all(client.clone()),
    };
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms()).unwrap_or_default();
    let verdicts = survey(&pods, now).await?;
    let limit = cmd.max_deletions.map_or(usize::MAX, |m| m as usize);
    let (mut expired, kept): (Vec<Verdict>, Vec<Verdict>) =
        verdicts.into_iter().partition(|v| v.expired);
    let mut kept: Vec<Value> = kept.iter().map(Verdict::json).collect();
    let deferred = expired.split_off(expired.len().min(limit));
    kept.extend(deferred.iter().map(|v| {
        json!({"namespace": v.namespace, "name": v.name,
               "reason": format!("{}; past max_deletions, left for the next run", v.reason)})
    }));
    Ok(Plan { expired, kept })
}

pub async fn cleanup(cmd: Cleanup, ctx: Context) -> HandlerResult {
    let client = ctx.kube()?;
    let plan = plan(&client, &cmd).await?;
    let images = &ctx.config().images;
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms()).unwrap_or_default();
    // Commit Jobs live in the commit namespace; a run scoped to another leaves them.
    let jobs = match &cmd.namespace {
        Some(namespace) if namespace.as_str() != images.namespace => Vec::new(),
        _ => expired::past_ttl(&client, images, now).await?,
    };
    if cmd.dry_run {
        let mut result = plan.json();
        result["dry_run"] = json!(true);
        result["would_delete_commit_jobs"] = json!(expired::json(images, &jobs));
        return Ok(Outcome::Done(result));
    }
    let mut result = carry_out(&ctx, &client, plan).await?;
    result["commit_jobs_deleted"] = json!(expired::delete(&client, images, &jobs).await?);
    crate::inventory::refresh_after_change(&ctx).await;
    Ok(Outcome::Done(result))
}

/// Deletes what `plan` found expired, each only if it is still exactly what was
/// judged (uid and resourceVersion).
pub async fn carry_out(ctx: &Context, client: &kube::Client, plan: Plan) -> Result<Value, Failure> {
    let Plan { expired, mut kept } = plan;
    let mut deleted = Vec::new();
    for verdict in &expired {
        let namespaced: Api<Pod> = Api::namespaced(client.clone(), &verdict.namespace);
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(verdict.uid.clone()),
                resource_version: Some(verdict.resource_version.clone()),
            }),
            ..DeleteParams::background()
        };
        let gone = retrying(|| async {
            match namespaced.delete(&verdict.name, &params).await {
                Ok(_) => Ok(true),
                Err(err) if classify::is_not_found(&err) || classify::is_conflict(&err) => {
                    Ok(false)
                }
                Err(err) => Err(err),
            }
        })
        .await?;
        if !gone {
            kept.push(json!({"namespace": verdict.namespace, "name": verdict.name,
                "reason": "changed or gone since it was listed; judged again next run"}));
            continue;
        }
        let claims = delete_claims(client, verdict).await?;
        if let Some(owner) = &verdict.owner
            && let Err(err) = ctx
                .store()
                .release_workspace(owner, &verdict.name, None, now_ms())
                .await
        {
            tracing::warn!(error = %err, "could not release a cleaned-up workspace's count");
        }
        let mut entry = verdict.json();
        entry["claims_deleted"] = json!(claims);
        deleted.push(entry);
    }
    Ok(json!({"deleted": deleted, "kept": kept}))
}

async fn delete_claims(client: &kube::Client, verdict: &Verdict) -> Result<Vec<String>, Failure> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &verdict.namespace);
    let selector = format!(
        "{WORKSPACE_LABEL}={},{VOLUME_SCOPE_LABEL}=pod",
        verdict.name
    );
    let params = ListParams::default().labels(&selector);
    let list = retrying(|| claims.list_metadata(&params)).await?;
    let mut deleted = Vec::new();
    for name in list.items.into_iter().filter_map(|c| c.metadata.name) {
        if delete_if_exists(&claims, &name).await? {
            deleted.push(name);
        }
    }
    Ok(deleted)
}
