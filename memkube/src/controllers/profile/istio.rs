//! The Istio AuthorizationPolicy `ns-owner-access-istio` a profile namespace gets, with
//! the user-id header and principals Kubeflow's manifests configure. Clusters without
//! Istio's CRD get none (the real controller would fail its reconcile there instead).

use serde_json::{Value, json};

use super::super::{controller_reference, create, served, write};
use super::{API_VERSION, owner};
use crate::store::Store;

const NAME: &str = "ns-owner-access-istio";
const USER_ID_HEADER: &str = "kubeflow-userid";
const INGRESS_GATEWAY: &str =
    "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
const PIPELINES_UI: &str = "cluster.local/ns/kubeflow/sa/ml-pipeline-ui";
const NOTEBOOK_CONTROLLER: &str =
    "cluster.local/ns/kubeflow/sa/notebook-controller-service-account";

fn spec(profile: &Value) -> Value {
    json!({
        "action": "ALLOW",
        "rules": [
            {
                "when": [{ "key": format!("request.headers[{USER_ID_HEADER}]"), "values": [owner(profile)] }],
                "from": [{ "source": { "principals": [INGRESS_GATEWAY, PIPELINES_UI] } }],
            },
            { "when": [{ "key": "source.namespace", "values": [profile["metadata"]["name"]] }] },
            { "to": [{ "operation": { "paths": ["/healthz", "/metrics", "/wait-for-drain"] } }] },
            {
                "from": [{ "source": { "principals": [NOTEBOOK_CONTROLLER] } }],
                "to": [{ "operation": { "methods": ["GET"], "paths": ["*/api/kernels"] } }],
            },
        ],
    })
}

pub fn authorization_policy(store: &mut Store, profile: &Value, manager: &str) {
    let Some(def) = served(store, "security.istio.io", "authorizationpolicies") else {
        return;
    };
    let namespace = profile["metadata"]["name"].as_str().unwrap_or_default();
    let desired = spec(profile);
    match store.get(&def.group_resource(), namespace, NAME).cloned() {
        None => {
            create(
                manager,
                store,
                &def,
                json!({
                    "kind": "AuthorizationPolicy",
                    "metadata": {
                        "name": NAME,
                        "namespace": namespace,
                        "annotations": { "user": owner(profile), "role": "admin" },
                        "ownerReferences": [controller_reference(profile, API_VERSION, "Profile")],
                    },
                    "spec": desired,
                }),
            );
        }
        Some(found) if found["spec"] != desired => {
            let mut fixed = found;
            fixed["spec"] = desired;
            write(manager, store, &def, fixed);
        }
        Some(_) => {}
    }
}
