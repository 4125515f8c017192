//! The workspaces family, after the GPU pod platform reference: a workspace is a
//! user's GPU development Pod in the owner's namespace, with a protection deadline.
//! The periodic cleanup deletes workspaces that are unprotected or whose deadline has
//! passed; `workspace.protect` extends the deadline, bounded to seven days ahead.
//!
//! Which images, GPU types, nodes and host paths are allowed is the worker's
//! configuration (the reference's whitelists); the payload only says what is asked.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Command, Policy};
use crate::domain::{
    AbsolutePath, CpuQuantity, DnsLabel, DnsSubdomain, Email, FieldError, Gibibytes, ImageRef,
};
use crate::tenancy::{ObjectRef, Touch};

/// The most GPUs one workspace may ask for.
pub const MAX_GPUS: u32 = 16;
/// The furthest ahead a protection deadline may be set.
pub const MAX_PROTECTION_HOURS: u32 = 7 * 24;

/// How the workspace's GPUs are scheduled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GpuMode {
    /// Whole GPUs through the device plugin (native scheduling).
    #[default]
    Exclusive,
    /// GPUs shared with other workspaces, up to the configured sharing limit.
    Shared,
}

/// A host directory mounted into the workspace; allowed only under the configured
/// whitelist of host paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserMount {
    /// Absolute path on the node, e.g. `/data/datasets`.
    pub host_path: AbsolutePath,
    /// Absolute path inside the container, e.g. `/datasets`.
    pub mount_path: AbsolutePath,
    /// Mount read-only (default).
    #[serde(default = "read_only_default")]
    pub read_only: bool,
}

fn read_only_default() -> bool {
    true
}

/// Create a GPU development workspace (a Pod) for a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceCreate {
    /// The workspace's owner; it runs in the owner's namespace.
    pub owner: Email,
    /// The workspace (Pod) name, unique per owner.
    pub name: DnsLabel,
    /// The image to run, e.g. one of the owner's saved images.
    pub image: ImageRef,
    /// CPU cores (`4`, `0.5`).
    pub cpu: CpuQuantity,
    /// Memory in GiB.
    pub memory: Gibibytes,
    /// Number of GPUs, 0 to 16.
    #[serde(default)]
    pub gpu_count: u32,
    /// The GPU type as configured on the platform (e.g. `a100`, `l4`); required with GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_type: Option<DnsLabel>,
    /// `exclusive` (default) or `shared` GPU scheduling.
    #[serde(default)]
    pub gpu_mode: GpuMode,
    /// Pin the workspace to this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<DnsSubdomain>,
    /// Pin to these GPU device indexes on `node`; one per requested GPU.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpu_devices: Vec<u32>,
    /// Extra host directories to mount, subject to the platform's whitelist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<UserMount>,
    /// Hours of protection from cleanup, 1 to 168; default the platform's
    /// `workspaces.default_protect_hours`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect_hours: Option<u32>,
}

impl Command for WorkspaceCreate {
    const KIND: &'static str = "workspace.create";
    const SUMMARY: &'static str = "Create a user's GPU development workspace (a Pod).";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(120),
    };

    fn check(&self) -> Result<(), FieldError> {
        if self.cpu.is_zero() {
            return Err(FieldError::new("cpu", "must be more than 0"));
        }
        if self.memory.is_zero() {
            return Err(FieldError::new("memory", "must be more than 0"));
        }
        if self.gpu_count > MAX_GPUS {
            return Err(FieldError::new(
                "gpu_count",
                format!("must be at most {MAX_GPUS}"),
            ));
        }
        if self.gpu_count == 0 && self.gpu_type.is_some() {
            return Err(FieldError::new(
                "gpu_type",
                "requires gpu_count of at least 1",
            ));
        }
        if self.gpu_count > 0 && self.gpu_type.is_none() {
            return Err(FieldError::new(
                "gpu_type",
                "is required when gpu_count is set",
            ));
        }
        if let Some(hours) = self.protect_hours
            && !(1..=MAX_PROTECTION_HOURS).contains(&hours)
        {
            return Err(FieldError::new(
                "protect_hours",
                format!("must be between 1 and {MAX_PROTECTION_HOURS}"),
            ));
        }
        self.check_devices()?;
        self.check_mounts()
    }

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::create(workspace_ref(&self.owner, &self.name))]
    }
}

/// The workspace `name` of `owner`, as tenancy and presence name it.
pub fn workspace_ref(owner: &Email, name: &DnsLabel) -> ObjectRef {
    ObjectRef::Workspace {
        owner: owner.normalized(),
        name: name.as_str().to_owned(),
    }
}

impl WorkspaceCreate {
    fn check_devices(&self) -> Result<(), FieldError> {
        if self.gpu_devices.is_empty() {
            return Ok(());
        }
        if self.node.is_none() {
            return Err(FieldError::new("gpu_devices", "requires `node`"));
        }
        if self.gpu_devices.len() != self.gpu_count as usize {
            return Err(FieldError::new(
                "gpu_devices",
                format!(
                    "lists {} devices for gpu_count {}",
                    self.gpu_devices.len(),
                    self.gpu_count
                ),
            ));
        }
        let unique: BTreeSet<_> = self.gpu_devices.iter().collect();
        if unique.len() != self.gpu_devices.len() {
            return Err(FieldError::new("gpu_devices", "lists a device twice"));
        }
        Ok(())
    }

    fn check_mounts(&self) -> Result<(), FieldError> {
        let mut seen = BTreeSet::new();
        for (i, mount) in self.mounts.iter().enumerate() {
            if !seen.insert(mount.mount_path.trimmed()) {
                return Err(FieldError::new(
                    format!("mounts[{i}].mount_path"),
                    "is mounted twice",
                ));
            }
        }
        Ok(())
    }
}

/// Delete a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceDelete {
    /// The workspace's owner.
    pub owner: Email,
    /// The workspace to delete; deleting one already gone succeeds.
    pub name: DnsLabel,
    /// Report what would be deleted, without deleting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl Command for WorkspaceDelete {
    const KIND: &'static str = "workspace.delete";
    const SUMMARY: &'static str = "Delete a user's workspace.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(60),
    };

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::change(workspace_ref(&self.owner, &self.name))]
    }
}

/// Protect a workspace from cleanup until a deadline: give `until` or `for_hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceProtect {
    /// The workspace's owner.
    pub owner: Email,
    /// The workspace to protect.
    pub name: DnsLabel,
    /// Protect until this time (RFC 3339), at most 7 days after the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Protect for this many hours after the request, 1 to 168 (also `hours`).
    #[serde(default, alias = "hours", skip_serializing_if = "Option::is_none")]
    pub for_hours: Option<u32>,
}

impl WorkspaceProtect {
    /// The protection deadline, counted from `requested_at` (the envelope's
    /// `created_at`), so a retried command sets the same deadline as the first try.
    /// The worker keeps the later of this and the workspace's current deadline: a
    /// protection is extended, never shortened.
    pub fn deadline(&self, requested_at: DateTime<Utc>) -> Result<DateTime<Utc>, FieldError> {
        let max = requested_at + TimeDelta::hours(i64::from(MAX_PROTECTION_HOURS));
        match (self.until, self.for_hours) {
            (Some(until), None) if until <= requested_at => {
                Err(FieldError::new("until", "is already in the past"))
            }
            (Some(until), None) if until > max => Err(FieldError::new(
                "until",
                format!("must be at most {MAX_PROTECTION_HOURS} hours after the request"),
            )),
            (Some(until), None) => Ok(until),
            (None, Some(hours)) => Ok(requested_at + TimeDelta::hours(i64::from(hours))),
            _ => Err(exactly_one()),
        }
    }
}

fn exactly_one() -> FieldError {
    FieldError::new("", "give exactly one of `until` and `for_hours`")
}

impl Command for WorkspaceProtect {
    const KIND: &'static str = "workspace.protect";
    const SUMMARY: &'static str =
        "Protect a workspace from cleanup until a deadline (at most 7 days ahead).";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(30),
    };

    fn check(&self) -> Result<(), FieldError> {
        match (self.until, self.for_hours) {
            (Some(_), None) => Ok(()),
            (None, Some(hours)) if (1..=MAX_PROTECTION_HOURS).contains(&hours) => Ok(()),
            (None, Some(_)) => Err(FieldError::new(
                "for_hours",
                format!("must be between 1 and {MAX_PROTECTION_HOURS}"),
            )),
            _ => Err(exactly_one()),
        }
    }

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::change(workspace_ref(&self.owner, &self.name))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_payload;
    use serde_json::json;

    fn create(overrides: serde_json::Value) -> Result<WorkspaceCreate, FieldError> {
        let mut body = json!({
            "owner": "alice@example.com",
            "name": "train-1",
            "image": "registry.local/ml/pytorch:2.3",
            "cpu": 8,
            "memory": 32
        });
        for (key, value) in overrides.as_object().unwrap() {
            body[key] = value.clone();
        }
        parse_payload(&body)
    }

    #[test]
    fn a_cpu_only_workspace_needs_no_gpu_fields() {
        let workspace = create(json!({})).unwrap();
        assert_eq!(workspace.gpu_count, 0);
        assert_eq!(workspace.gpu_mode, GpuMode::Exclusive);
        assert_eq!(workspace.memory.as_str(), "32Gi");
    }

    #[test]
    fn gpus_need_a_type_and_pinned_devices_need_a_node_and_matching_count() {
        assert!(create(json!({"gpu_count": 2, "gpu_type": "a100"})).is_ok());
        let cases = [
            (json!({"gpu_count": 2}), "payload.gpu_type"),
            (json!({"gpu_type": "a100"}), "payload.gpu_type"),
            (
                json!({"gpu_count": 17, "gpu_type": "a100"}),
                "payload.gpu_count",
            ),
            (
                json!({"gpu_count": 1, "gpu_type": "a100", "gpu_devices": [3]}),
                "payload.gpu_devices",
            ),
            (
                json!({"gpu_count": 2, "gpu_type": "a100", "node": "gpu-7", "gpu_devices": [3]}),
                "payload.gpu_devices",
            ),
            (
                json!({"gpu_count": 2, "gpu_type": "a100", "node": "gpu-7", "gpu_devices": [3, 3]}),
                "payload.gpu_devices",
            ),
            (json!({"gpu_mode": "fractional"}), "payload.gpu_mode"),
            (json!({"cpu": 0}), "payload.cpu"),
        ];
        for (overrides, field) in cases {
            let err = create(overrides.clone()).unwrap_err();
            assert_eq!(err.field, field, "{overrides}");
        }
        let pinned = create(json!({
            "gpu_count": 2, "gpu_type": "l4", "gpu_mode": "shared",
            "node": "gpu-7.cluster.local", "gpu_devices": [0, 3]
        }));
        assert!(pinned.is_ok(), "{pinned:?}");
    }

    #[test]
    fn mounts_must_be_absolute_without_escapes() {
        let ok = create(json!({"mounts": [{"host_path": "/data/sets", "mount_path": "/sets"}]}))
            .unwrap();
        assert!(ok.mounts[0].read_only, "mounts are read-only unless asked");
        let err = create(json!({"mounts": [
            {"host_path": "/data", "mount_path": "/d"},
            {"host_path": "/data/../etc", "mount_path": "/e"}
        ]}))
        .unwrap_err();
        assert_eq!(err.field, "payload.mounts[1].host_path");
        let err =
            create(json!({"mounts": [{"host_path": "/data", "mount_path": "rel"}]})).unwrap_err();
        assert_eq!(err.field, "payload.mounts[0].mount_path");
    }

    fn protect(body: serde_json::Value) -> Result<WorkspaceProtect, FieldError> {
        let mut full = json!({"owner": "alice@example.com", "name": "train-1"});
        for (key, value) in body.as_object().unwrap() {
            full[key] = value.clone();
        }
        parse_payload(&full)
    }

    #[test]
    fn protection_for_hours_counts_from_the_request_so_retries_agree() {
        let requested_at = "2025-03-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let command = protect(json!({"for_hours": 24})).unwrap();
        let deadline = command.deadline(requested_at).unwrap();
        assert_eq!(deadline.to_rfc3339(), "2025-03-02T10:00:00+00:00");
        assert_eq!(command.deadline(requested_at).unwrap(), deadline);
    }

    #[test]
    fn protection_is_bounded_to_seven_days_and_never_in_the_past() {
        let err = protect(json!({"for_hours": 169})).unwrap_err();
        assert_eq!(err.field, "payload.for_hours");
        let err = protect(json!({"for_hours": 0})).unwrap_err();
        assert_eq!(err.field, "payload.for_hours");

        let requested_at = "2025-03-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let late = protect(json!({"until": "2025-03-09T10:00:00Z"})).unwrap();
        assert_eq!(late.deadline(requested_at).unwrap_err().field, "until");
        let past = protect(json!({"until": "2025-03-01T09:00:00Z"})).unwrap();
        assert!(
            past.deadline(requested_at)
                .unwrap_err()
                .message
                .contains("past")
        );
        let ok = protect(json!({"until": "2025-03-08T10:00:00Z"})).unwrap();
        assert!(ok.deadline(requested_at).is_ok());
    }

    #[test]
    fn protection_needs_exactly_one_of_until_and_for_hours() {
        for body in [
            json!({}),
            json!({"until": "2025-03-02T00:00:00Z", "for_hours": 2}),
        ] {
            let err = protect(body).unwrap_err();
            assert_eq!(err.field, "payload");
            assert!(err.message.contains("exactly one"));
        }
    }

    #[test]
    fn delete_accepts_dry_run() {
        let delete: WorkspaceDelete = parse_payload(
            &json!({"owner": "alice@example.com", "name": "train-1", "dry_run": true}),
        )
        .unwrap();
        assert!(delete.dry_run);
    }
}
