//! A cluster's objects, as pure functions: its namespace, and per instance a Deployment
//! of one replica (a container) or a `kubevirt.io/v1` VirtualMachine that runs `Always`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, Namespace, PodSpec, PodTemplateSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::Resource;
use longshore_shared::command::clusters::{ClusterCreate, InstanceType};
use longshore_shared::kube::crds::{VirtualMachine, VirtualMachineSpec};
use serde_json::json;

use crate::handlers::apps::render::{MANAGED_BY, MANAGED_BY_LABEL};

/// The tenant a cluster's namespace counts against.
pub const TENANT_LABEL: &str = "longshore.io/tenant";
/// Every instance object names its cluster, so one list finds them all.
pub const CLUSTER_LABEL: &str = "longshore.io/cluster";
/// What selects an instance's pods.
pub const INSTANCE_LABEL: &str = "longshore.io/instance";

/// What a cluster runs, decided: the image defaults from config.
pub struct ClusterPlan<'a> {
    pub create: &'a ClusterCreate,
    pub tenant: &'a str,
    pub image: String,
}

impl ClusterPlan<'_> {
    pub fn namespace(&self) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(self.create.name.namespace().to_string()),
                labels: Some(BTreeMap::from([
                    (TENANT_LABEL.to_owned(), self.tenant.to_owned()),
                    (CLUSTER_LABEL.to_owned(), self.create.name.to_string()),
                    (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
                ])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }

    fn labels(&self, instance: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (CLUSTER_LABEL.to_owned(), self.create.name.to_string()),
            (INSTANCE_LABEL.to_owned(), instance.to_owned()),
            (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
        ])
    }

    fn meta(&self, instance: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(instance.to_owned()),
            namespace: Some(self.create.name.namespace().to_string()),
            labels: Some(self.labels(instance)),
            ..ObjectMeta::default()
        }
    }

    /// A container instance: one replica, so it can be scaled to 0 and come back under
    /// the same name; requests equal limits.
    pub fn deployment(&self, instance: &str) -> Deployment {
        let sizes = BTreeMap::from([
            (
                "cpu".to_owned(),
                K8sQuantity(self.create.cpu_per_instance.as_str().to_owned()),
            ),
            (
                "memory".to_owned(),
                K8sQuantity(format!("{}Mi", self.create.memory_per_instance.mebibytes())),
            ),
        ]);
        let selector = BTreeMap::from([(INSTANCE_LABEL.to_owned(), instance.to_owned())]);
        Deployment {
            metadata: self.meta(instance),
            spec: DeploymentSpec {
                replicas: Some(1),
                selector: LabelSelector {
                    match_labels: Some(selector),
                    ..LabelSelector::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(self.labels(instance)),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "main".to_owned(),
                            image: Some(self.image.clone()),
                            resources: Some(ResourceRequirements {
                                requests: Some(sizes.clone()),
                                limits: Some(sizes),
                                ..ResourceRequirements::default()
                            }),
                            ..Container::default()
                        }],
                        ..PodSpec::default()
                    }),
                },
                ..DeploymentSpec::default()
            },
            ..Deployment::default()
        }
    }

    /// A VM instance: `runStrategy: Always` (never the deprecated `running`), whole
    /// cores, memory, and a container disk from the image.
    pub fn virtual_machine(&self, instance: &str) -> VirtualMachine {
        let cores = self.create.cpu_per_instance.whole_cores().unwrap_or(1);
        let mut vm = VirtualMachine::new(
            instance,
            VirtualMachineSpec {
                run_strategy: Some("Always".to_owned()),
                running: None,
                template: json!({
                    "metadata": {"labels": self.labels(instance)},
                    "spec": {
                        "domain": {
                            "cpu": {"cores": cores},
                            "resources": {"requests": {
                                "memory": format!("{}Mi", self.create.memory_per_instance.mebibytes())
                            }},
                            "devices": {"disks": [
                                {"name": "containerdisk", "disk": {"bus": "virtio"}}
                            ]}
                        },
                        "volumes": [
                            {"name": "containerdisk", "containerDisk": {"image": self.image}}
                        ]
                    }
                }),
            },
        );
        *vm.meta_mut() = self.meta(instance);
        vm
    }

    pub fn is_vm(&self) -> bool {
        self.create.instance_type == InstanceType::Vm
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use longshore_shared::command::parse_payload;

    fn create(kind: &str) -> ClusterCreate {
        parse_payload(&json!({
            "name": "lab", "instance_type": kind, "cpu_per_instance": 2,
            "memory_per_instance": 0.5, "instance_count": 2
        }))
        .unwrap()
    }

    #[test]
    fn a_container_instance_requests_what_it_is_limited_to() {
        let create = create("container");
        let plan = ClusterPlan {
            create: &create,
            tenant: "physics",
            image: "nginx:1".into(),
        };
        let ns = plan.namespace();
        assert_eq!(ns.metadata.name.as_deref(), Some("lab-ns"));
        assert_eq!(
            ns.metadata.labels.as_ref().unwrap()[TENANT_LABEL],
            "physics"
        );
        let deployment = plan.deployment("lab-1");
        let spec = deployment.spec;
        assert_eq!(spec.replicas, Some(1));
        let container = &spec.template.spec.unwrap().containers[0];
        let resources = container.resources.as_ref().unwrap();
        assert_eq!(resources.requests, resources.limits);
        assert_eq!(resources.limits.as_ref().unwrap()["memory"].0, "512Mi");
        assert_eq!(resources.limits.as_ref().unwrap()["cpu"].0, "2");
    }

    #[test]
    fn a_vm_instance_runs_always_from_its_container_disk() {
        let create = create("vm");
        let plan = ClusterPlan {
            create: &create,
            tenant: "physics",
            image: "quay.io/containerdisks/fedora:40".into(),
        };
        let vm = plan.virtual_machine("lab-2");
        assert_eq!(vm.spec.run_strategy.as_deref(), Some("Always"));
        assert_eq!(vm.spec.running, None);
        let template = &vm.spec.template["spec"];
        assert_eq!(template["domain"]["cpu"]["cores"], 2);
        assert_eq!(
            template["volumes"][0]["containerDisk"]["image"],
            "quay.io/containerdisks/fedora:40"
        );
        assert_eq!(vm.metadata.namespace.as_deref(), Some("lab-ns"));
    }
}
