//! The table of built-in resource types and the description every served type shares.

use std::sync::Arc;

/// Everything the server needs to know to serve one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    pub group: String,
    /// Served versions, preferred first.
    pub versions: Vec<String>,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status_subresource: bool,
    pub scale_subresource: bool,
    /// Whether `metadata.generation` is set and bumped on spec changes.
    pub generation: bool,
    /// Custom resources have no strategic-merge schema and keep lists atomic.
    pub custom: bool,
    /// A CRD's `additionalPrinterColumns`; built-in types print through their own columns.
    pub printer_columns: Vec<PrinterColumn>,
}

/// One `additionalPrinterColumns` entry of a CRD version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: String,
    /// The column's `type`: string, integer, number, boolean or date.
    pub kind: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// Storage identity of a resource type: versions share one storage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl ResourceDef {
    pub fn group_resource(&self) -> GroupResource {
        GroupResource {
            group: self.group.clone(),
            resource: self.plural.clone(),
        }
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    pub fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }

    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

/// One line per built-in type: `group/version plural Kind scope short-names traits`, with
/// `-` for "none" and the core group written as an empty group (`/v1`). Traits are the
/// `status` and `scale` subresources and `generation` (metadata.generation is tracked).
const BUILTINS: &str = "
/v1                          namespaces             Namespace                cluster    ns        status
/v1                          configmaps             ConfigMap                namespaced cm        -
/v1                          secrets                Secret                   namespaced -         -
/v1                          services               Service                  namespaced svc       status
/v1                          pods                   Pod                      namespaced po        status
/v1                          serviceaccounts        ServiceAccount           namespaced sa        -
/v1                          resourcequotas         ResourceQuota            namespaced quota     status
/v1                          limitranges            LimitRange               namespaced limits    -
/v1                          persistentvolumeclaims PersistentVolumeClaim    namespaced pvc       status
/v1                          persistentvolumes      PersistentVolume         cluster    pv        status
/v1                          endpoints              Endpoints                namespaced ep        -
/v1                          events                 Event                    namespaced ev        -
/v1                          nodes                  Node                     cluster    no        status
apps/v1                      deployments            Deployment               namespaced deploy    status,scale,generation
apps/v1                      statefulsets           StatefulSet              namespaced sts       status,scale,generation
apps/v1                      replicasets            ReplicaSet               namespaced rs        status,scale,generation
apps/v1                      daemonsets             DaemonSet                namespaced ds        status,generation
apps/v1                      controllerrevisions    ControllerRevision       namespaced -         -
batch/v1                     jobs                   Job                      namespaced -         status,generation
batch/v1                     cronjobs               CronJob                  namespaced cj        status,generation
networking.k8s.io/v1         ingresses              Ingress                  namespaced ing       status,generation
networking.k8s.io/v1         networkpolicies        NetworkPolicy            namespaced netpol    generation
networking.k8s.io/v1         ingressclasses         IngressClass             cluster    -         -
rbac.authorization.k8s.io/v1 roles                  Role                     namespaced -         -
rbac.authorization.k8s.io/v1 rolebindings           RoleBinding              namespaced -         -
rbac.authorization.k8s.io/v1 clusterroles           ClusterRole              cluster    -         -
rbac.authorization.k8s.io/v1 clusterrolebindings    ClusterRoleBinding       cluster    -         -
apiextensions.k8s.io/v1      customresourcedefinitions CustomResourceDefinition cluster crd,crds status,generation
policy/v1                    poddisruptionbudgets   PodDisruptionBudget      namespaced pdb       status,generation
storage.k8s.io/v1            storageclasses         StorageClass             cluster    sc        -
coordination.k8s.io/v1       leases                 Lease                    namespaced -         -
events.k8s.io/v1             events                 Event                    namespaced ev        -
";

/// Types `kubectl get all` lists.
const CATEGORY_ALL: &[&str] = &[
    "pods",
    "services",
    "deployments",
    "statefulsets",
    "replicasets",
    "daemonsets",
    "jobs",
    "cronjobs",
];

fn names(cell: &str) -> Vec<String> {
    cell.split(',')
        .filter(|s| !s.is_empty() && *s != "-")
        .map(str::to_string)
        .collect()
}

fn parse_row(line: &str) -> ResourceDef {
    let cells: Vec<&str> = line.split_whitespace().collect();
    let [group_version, plural, kind, scope, short, traits] = cells[..] else {
        panic!("malformed built-in resource row: {line}");
    };
    let (group, version) = group_version
        .split_once('/')
        .expect("built-in rows are written group/version");
    let traits = names(traits);
    ResourceDef {
        group: group.to_string(),
        versions: vec![version.to_string()],
        plural: plural.to_string(),
        singular: kind.to_lowercase(),
        kind: kind.to_string(),
        list_kind: format!("{kind}List"),
        namespaced: scope == "namespaced",
        short_names: names(short),
        categories: if CATEGORY_ALL.contains(&plural) {
            vec!["all".to_string()]
        } else {
            Vec::new()
        },
        status_subresource: traits.iter().any(|s| s == "status"),
        scale_subresource: traits.iter().any(|s| s == "scale"),
        generation: traits.iter().any(|s| s == "generation"),
        custom: false,
        printer_columns: Vec::new(),
    }
}

/// The built-in resource types, in discovery order.
pub fn builtins() -> Vec<Arc<ResourceDef>> {
    BUILTINS
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| Arc::new(parse_row(line)))
        .collect()
}
