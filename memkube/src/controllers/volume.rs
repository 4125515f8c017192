//! A dynamic provisioner and the PV controller, for every PersistentVolumeClaim: a
//! PersistentVolume `pvc-<claim uid>` of the requested size is provisioned and bound to
//! the claim, and deleted with it (reclaim policy Delete).

use serde_json::{Value, json};

use super::{create, served, write, write_status};
use crate::store::Store;

const MANAGER: &str = "kube-controller-manager";
const PROVISIONER: &str = "memkube.longshore.dev/hostpath";

pub fn sync(store: &mut Store, namespace: &str, name: &str) {
    let (Some(claims), Some(volumes)) = (
        served(store, "", "persistentvolumeclaims"),
        served(store, "", "persistentvolumes"),
    ) else {
        return;
    };
    let Some(claim) = store
        .get(&claims.group_resource(), namespace, name)
        .cloned()
    else {
        release(store, namespace, name);
        return;
    };
    if super::deleting(&claim) || claim["status"]["phase"] == "Bound" {
        return;
    }
    let uid = claim["metadata"]["uid"].as_str().unwrap_or_default();
    let volume_name = format!("pvc-{uid}");
    let size = claim["spec"]["resources"]["requests"]["storage"].clone();
    let access_modes = claim["spec"]["accessModes"].clone();
    let class = claim["spec"]["storageClassName"].clone();
    if store
        .get(&volumes.group_resource(), "", &volume_name)
        .is_none()
    {
        let mut volume = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": volume_name,
                "annotations": { "pv.kubernetes.io/provisioned-by": PROVISIONER },
            },
            "spec": {
                "capacity": { "storage": size },
                "accessModes": access_modes,
                "persistentVolumeReclaimPolicy": "Delete",
                "volumeMode": claim["spec"]["volumeMode"].as_str().unwrap_or("Filesystem"),
                "hostPath": { "path": format!("/var/local-path-provisioner/{volume_name}_{namespace}_{name}"), "type": "DirectoryOrCreate" },
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "namespace": namespace,
                    "name": name,
                    "uid": uid,
                    "resourceVersion": claim["metadata"]["resourceVersion"],
                },
            },
        });
        if class.is_string() {
            volume["spec"]["storageClassName"] = class;
        }
        let Some(created) = create(MANAGER, store, &volumes, volume) else {
            return;
        };
        let bound = json!({ "phase": "Bound" });
        write_status(MANAGER, store, &volumes, "", &volume_name, &created, bound);
    }
    let mut bound = claim.clone();
    bound["spec"]["volumeName"] = json!(volume_name);
    let annotations = &mut bound["metadata"]["annotations"];
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations["pv.kubernetes.io/bind-completed"] = json!("yes");
    annotations["pv.kubernetes.io/bound-by-controller"] = json!("yes");
    annotations["volume.kubernetes.io/storage-provisioner"] = json!(PROVISIONER);
    let Some(written) = write(MANAGER, store, &claims, bound) else {
        return;
    };
    let status = json!({
        "phase": "Bound",
        "accessModes": access_modes,
        "capacity": { "storage": size },
    });
    write_status(MANAGER, store, &claims, namespace, name, &written, status);
}

/// The claim is gone: its provisioned volume goes too.
fn release(store: &mut Store, namespace: &str, name: &str) {
    let Some(volumes) = served(store, "", "persistentvolumes") else {
        return;
    };
    let bound_to_claim = |volume: &Value| {
        let claim = &volume["spec"]["claimRef"];
        claim["namespace"] == namespace && claim["name"] == name
    };
    let released: Vec<String> = store
        .list(&volumes.group_resource(), None)
        .filter(|(_, volume)| bound_to_claim(volume))
        .filter(|(_, volume)| volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete")
        .map(|((_, volume), _)| volume.clone())
        .collect();
    for volume in released {
        store.remove(&volumes, "", &volume);
    }
}
