//! The VolumeBinding plugin's PreFilter: a Pod whose claims are missing, going away or not
//! yet bound cannot go anywhere, so every node is rejected with the same reason.

use serde_json::Value;

use crate::controllers::{deleting, served};
use crate::store::Store;

pub fn prefilter(store: &Store, pod: &Value) -> Option<String> {
    let claims: Vec<&str> = pod["spec"]["volumes"]
        .as_array()?
        .iter()
        .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .collect();
    if claims.is_empty() {
        return None;
    }
    let def = served(store, "", "persistentvolumeclaims")?;
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let mut unbound = false;
    for claim in claims {
        let Some(pvc) = store.get(&def.group_resource(), namespace, claim) else {
            return Some(format!("persistentvolumeclaim \"{claim}\" not found"));
        };
        if deleting(pvc) {
            return Some(format!(
                "persistentvolumeclaim \"{claim}\" is being deleted"
            ));
        }
        unbound |= pvc["status"]["phase"] != "Bound";
    }
    unbound.then(|| "pod has unbound immediate PersistentVolumeClaims".to_string())
}
