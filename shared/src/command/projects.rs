//! The projects family: a Kubeflow Profile (or a plain namespace) with a ResourceQuota,
//! as the Kubeflow user-and-project reference defines it. Field names and units are the
//! reference's: `cpu_limit` in cores, `memory_limit` and `storage_size` in GiB, and
//! `resources` for any ResourceQuota key. Strings (`"4"`) and numbers (`4`) both work.
//!
//! How a request changes the quota, GPU-key zeroing included, is
//! [`crate::domain::quota`]'s; these payloads only carry the request.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Command, Policy};
use crate::domain::quota::{CPU_KEY, MEMORY_KEY, STORAGE_KEY};
use crate::domain::{
    CpuQuantity, Email, FieldError, Gibibytes, ProfileName, Quantity, QuotaKey, QuotaRequest,
    keyed_map,
};
use crate::tenancy::{ObjectRef, Touch};

/// Create a project for a user: a Profile named after the owner's email, with quotas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectCreate {
    /// The project's owner; the project is named after it (`john.doe@company.com` →
    /// `john-doe-company-com`) unless `name` is given.
    pub owner_email: Email,
    /// Project (Profile and namespace) name, instead of the one derived from the email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<ProfileName>,
    /// CPU quota in cores (`"4"`, `4`, `"500m"`); quota key `cpu`. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<CpuQuantity>,
    /// Memory quota in GiB (`"8"` means `8Gi`); quota key `memory`. Default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<Gibibytes>,
    /// Storage quota in GiB (`"20"` means `20Gi`); quota key `requests.storage`. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size: Option<Gibibytes>,
    /// Any other ResourceQuota keys and their quantities, e.g.
    /// `{"requests.nvidia.com/l4": "1"}`. Naming any GPU key sets every other GPU key to 0.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "keyed_map::deserialize"
    )]
    pub resources: BTreeMap<QuotaKey, Quantity>,
}

impl ProjectCreate {
    /// The project's name: the given one, else derived from the owner's email. When the
    /// derived name belongs to another owner, the worker falls back to
    /// [`ProfileName::from_email_with_suffix`].
    pub fn profile_name(&self) -> ProfileName {
        self.name
            .clone()
            .unwrap_or_else(|| ProfileName::from_email(&self.owner_email))
    }

    /// The quota request, for [`crate::domain::initial_quota`].
    pub fn quota_request(&self) -> QuotaRequest {
        QuotaRequest {
            cpu_limit: self.cpu_limit.clone(),
            memory_limit: self.memory_limit.clone(),
            storage_size: self.storage_size.clone(),
            resources: self.resources.clone(),
        }
    }
}

impl Command for ProjectCreate {
    const KIND: &'static str = "project.create";
    const SUMMARY: &'static str =
        "Create a project (Kubeflow Profile or namespace) for a user, with its ResourceQuota.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(60),
    };

    fn check(&self) -> Result<(), FieldError> {
        check_no_double_keys(&self.quota_request())
    }

    fn touches(&self) -> Vec<Touch> {
        let mut touches = vec![Touch::create(ObjectRef::ProjectsOf(
            self.owner_email.normalized(),
        ))];
        if let Some(name) = &self.name {
            touches.push(Touch::create(ObjectRef::Project(name.as_str().to_owned())));
        }
        touches
    }
}

/// Change a project's quotas; only the fields given change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    /// The project (Profile) to update, e.g. `user-example-com`.
    pub name: ProfileName,
    /// New CPU quota in cores; quota key `cpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<CpuQuantity>,
    /// New memory quota in GiB (`"16"` means `16Gi`); quota key `memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<Gibibytes>,
    /// New storage quota in GiB; quota key `requests.storage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size: Option<Gibibytes>,
    /// ResourceQuota keys to set. Keys not named keep their value, except that naming
    /// any GPU key sets every other GPU key to 0.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "keyed_map::deserialize"
    )]
    pub resources: BTreeMap<QuotaKey, Quantity>,
}

impl ProjectUpdate {
    /// The quota request, for [`crate::domain::merge_quota`].
    pub fn quota_request(&self) -> QuotaRequest {
        QuotaRequest {
            cpu_limit: self.cpu_limit.clone(),
            memory_limit: self.memory_limit.clone(),
            storage_size: self.storage_size.clone(),
            resources: self.resources.clone(),
        }
    }
}

impl Command for ProjectUpdate {
    const KIND: &'static str = "project.update";
    const SUMMARY: &'static str = "Change a project's quotas; only the given fields change (GPU keys follow the zeroing rule).";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(60),
    };

    fn check(&self) -> Result<(), FieldError> {
        let request = self.quota_request();
        if request.is_empty() {
            return Err(FieldError::new(
                "",
                "nothing to update: give cpu_limit, memory_limit, storage_size or resources",
            ));
        }
        check_no_double_keys(&request)
    }

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::change(ObjectRef::Project(
            self.name.as_str().to_owned(),
        ))]
    }
}

/// Delete a project: its Profile (or namespace) and everything in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectDelete {
    /// The project (Profile) to delete; deleting one already gone succeeds.
    pub name: ProfileName,
    /// Report what would be deleted, without deleting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl Command for ProjectDelete {
    const KIND: &'static str = "project.delete";
    const SUMMARY: &'static str = "Delete a project (its Profile or namespace and all it holds).";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(120),
    };

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::change(ObjectRef::Project(
            self.name.as_str().to_owned(),
        ))]
    }
}

/// `cpu_limit` and `resources.cpu` would both set `cpu`; rather than pick a winner
/// silently, the request must say it once.
fn check_no_double_keys(request: &QuotaRequest) -> Result<(), FieldError> {
    let pairs = [
        (request.cpu_limit.is_some(), CPU_KEY, "cpu_limit"),
        (request.memory_limit.is_some(), MEMORY_KEY, "memory_limit"),
        (request.storage_size.is_some(), STORAGE_KEY, "storage_size"),
    ];
    for (given, key, field) in pairs {
        if given && request.resources.keys().any(|k| k.as_str() == key) {
            return Err(FieldError::new(
                format!("resources.{key}"),
                format!("`{key}` is already set by `{field}`; give it once"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_payload;
    use serde_json::json;

    #[test]
    fn the_references_create_body_parses_with_strings_or_numbers() {
        let strings: ProjectCreate = parse_payload(&json!({
            "owner_email": "user@example.com",
            "cpu_limit": "4",
            "memory_limit": "8",
            "storage_size": "20",
            "resources": {"requests.nvidia.com/l4": "1"}
        }))
        .unwrap();
        let numbers: ProjectCreate = parse_payload(&json!({
            "owner_email": "user@example.com",
            "cpu_limit": 4,
            "memory_limit": 8,
            "storage_size": 20,
            "resources": {"requests.nvidia.com/l4": 1}
        }))
        .unwrap();
        assert_eq!(strings, numbers);
        assert_eq!(strings.profile_name().as_str(), "user-example-com");
        let entries = strings.quota_request().entries();
        assert_eq!(entries["cpu"], "4");
        assert_eq!(entries["memory"], "8Gi");
        assert_eq!(entries["requests.storage"], "20Gi");
        assert_eq!(entries["requests.nvidia.com/l4"], "1");
    }

    #[test]
    fn only_the_owner_is_required_and_a_name_overrides_the_derived_one() {
        let minimal: ProjectCreate =
            parse_payload(&json!({"owner_email": "john.doe@company.com"})).unwrap();
        assert_eq!(minimal.profile_name().as_str(), "john-doe-company-com");
        assert!(minimal.quota_request().is_empty());
        let named: ProjectCreate =
            parse_payload(&json!({"owner_email": "a@b.io", "name": "team-ml"})).unwrap();
        assert_eq!(named.profile_name().as_str(), "team-ml");
    }

    #[test]
    fn negative_or_unparseable_quantities_name_the_field() {
        let cases = [
            (
                json!({"resources": {"requests.nvidia.com/l4": "-1"}}),
                "payload.resources.requests.nvidia.com/l4",
            ),
            (
                json!({"resources": {"pods": "lots"}}),
                "payload.resources.pods",
            ),
            (json!({"cpu_limit": "-2"}), "payload.cpu_limit"),
            (json!({"cpu_limit": "2Gi"}), "payload.cpu_limit"),
            (json!({"memory_limit": "8GB"}), "payload.memory_limit"),
            (json!({"storage_size": -5}), "payload.storage_size"),
        ];
        for (mut body, field) in cases {
            body["owner_email"] = json!("a@b.io");
            let err = parse_payload::<ProjectCreate>(&body).unwrap_err();
            assert_eq!(err.field, field, "{body}");
        }
    }

    #[test]
    fn a_malformed_quota_key_names_the_key() {
        let err = parse_payload::<ProjectUpdate>(
            &json!({"name": "user-example-com", "resources": {"gpus": "1"}}),
        )
        .unwrap_err();
        assert_eq!(err.field, "payload.resources.gpus");
        assert!(err.message.contains("ResourceQuota key"), "{}", err.message);
    }

    #[test]
    fn an_update_carries_only_what_was_given() {
        let update: ProjectUpdate =
            parse_payload(&json!({"name": "xxx", "cpu_limit": "16"})).unwrap();
        assert_eq!(update.quota_request().entries().len(), 1);
        assert_eq!(update.memory_limit, None);
    }

    #[test]
    fn an_empty_update_is_refused() {
        let err = parse_payload::<ProjectUpdate>(&json!({"name": "xxx"})).unwrap_err();
        assert_eq!(err.field, "payload");
        assert!(err.message.contains("nothing to update"));
    }

    #[test]
    fn a_key_set_twice_is_refused_at_the_resources_entry() {
        let err = parse_payload::<ProjectUpdate>(
            &json!({"name": "xxx", "memory_limit": "16", "resources": {"memory": "8Gi"}}),
        )
        .unwrap_err();
        assert_eq!(err.field, "payload.resources.memory");
        assert!(err.message.contains("memory_limit"));
    }

    #[test]
    fn payloads_round_trip_through_json() {
        let create: ProjectCreate = parse_payload(&json!({
            "owner_email": "user@example.com", "memory_limit": 8.5,
            "resources": {"services": 10}
        }))
        .unwrap();
        let value = serde_json::to_value(&create).unwrap();
        assert_eq!(value["memory_limit"], "8.5Gi");
        assert_eq!(parse_payload::<ProjectCreate>(&value).unwrap(), create);
    }

    #[test]
    fn delete_names_the_project() {
        let delete: ProjectDelete = parse_payload(&json!({"name": "user-example-com"})).unwrap();
        assert!(!delete.dry_run);
        let err = parse_payload::<ProjectDelete>(&json!({"name": "User@x"})).unwrap_err();
        assert_eq!(err.field, "payload.name");
    }
}
