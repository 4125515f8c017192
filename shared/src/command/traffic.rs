//! The traffic family, after the pod load toggle reference: take pods out of their
//! Service's load balancing, or put them back, by setting their load label (`load`,
//! `online` to serve, `done` to stop). The label's name and values are the worker's
//! configuration (`LOAD_LABEL`, `LOAD_ONLINE_VALUE`, `LOAD_DONE_VALUE`); Services must
//! select on `load: online` for this to steer traffic.
//!
//! The reference manages many clusters but acts on one per operation; so does
//! Longshore: a command acts on its envelope's `target`, and moving pods in several
//! clusters takes one command per target, so each cluster's change succeeds, retries
//! and is audited on its own.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Command, Policy};
use crate::domain::{DnsLabel, DnsSubdomain, FieldError};

/// The most pods one command may relabel; larger drains are split by the caller.
pub const MAX_PODS: usize = 100;

/// Whether pods receive traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadState {
    /// Restore traffic ("恢复流量"): set the load label to its online value.
    Online,
    /// Remove from load balancing ("踢出负载"): set the load label to its done value.
    Done,
}

/// Set pods' load label, taking them out of or back into their Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodLoadSet {
    /// The pods' namespace.
    pub namespace: DnsLabel,
    /// The pods to relabel, 1 to 100 names. A pod already in the asked state is left
    /// alone; a pod that does not exist fails the command.
    pub pods: Vec<DnsSubdomain>,
    /// `online` to receive traffic, `done` to be taken out of load balancing.
    pub load: LoadState,
}

impl Command for PodLoadSet {
    const KIND: &'static str = "pod.load.set";
    const SUMMARY: &'static str =
        "Take pods out of, or back into, their Service's load balancing by their load label.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(30),
    };

    fn check(&self) -> Result<(), FieldError> {
        if self.pods.is_empty() || self.pods.len() > MAX_PODS {
            return Err(FieldError::new(
                "pods",
                format!("must list 1 to {MAX_PODS} pods"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, pod) in self.pods.iter().enumerate() {
            if !seen.insert(pod) {
                return Err(FieldError::new(
                    format!("pods[{i}]"),
                    format!("`{pod}` is listed twice"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_payload;
    use serde_json::json;

    #[test]
    fn the_references_two_operations_map_to_done_and_online() {
        let remove: PodLoadSet = parse_payload(&json!({
            "namespace": "shop", "pods": ["web-7d9f-abcde"], "load": "done"
        }))
        .unwrap();
        assert_eq!(remove.load, LoadState::Done);
        let restore: PodLoadSet = parse_payload(&json!({
            "namespace": "shop", "pods": ["web-7d9f-abcde", "web-7d9f-fghij"], "load": "online"
        }))
        .unwrap();
        assert_eq!(restore.load, LoadState::Online);
        assert_eq!(restore.pods.len(), 2);
    }

    #[test]
    fn bad_pod_lists_and_states_name_the_field() {
        let cases = [
            (
                json!({"namespace": "shop", "pods": [], "load": "done"}),
                "payload.pods",
            ),
            (
                json!({"namespace": "shop", "pods": ["a", "a"], "load": "done"}),
                "payload.pods[1]",
            ),
            (
                json!({"namespace": "shop", "pods": ["A"], "load": "done"}),
                "payload.pods[0]",
            ),
            (
                json!({"namespace": "shop", "pods": ["a"], "load": "off"}),
                "payload.load",
            ),
            (
                json!({"namespace": "Shop", "pods": ["a"], "load": "done"}),
                "payload.namespace",
            ),
            (
                json!({"namespace": "shop", "pods": ["a"], "load": "done", "clusters": ["x"]}),
                "payload.clusters",
            ),
        ];
        for (body, field) in cases {
            let err = parse_payload::<PodLoadSet>(&body).unwrap_err();
            assert_eq!(err.field, field, "{body}");
        }
        let too_many: Vec<String> = (0..=MAX_PODS).map(|i| format!("p-{i}")).collect();
        let err = parse_payload::<PodLoadSet>(
            &json!({"namespace": "shop", "pods": too_many, "load": "done"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "payload.pods");
    }
}
