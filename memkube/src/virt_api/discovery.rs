//! Discovery of `subresources.kubevirt.io`: the aggregator lists the group from virt-api's
//! APIServices, and virt-api itself answers the resource list, every entry a subresource
//! (or `expand-vm-spec`) with no kind and no verbs.

use serde_json::{Value, json};

use super::{GROUP, VERSIONS};

/// virt-api's resource list, in its order. memkube answers the lifecycle actions among
/// them; the others (consoles, migrations, hotplug, ...) are listed as a real cluster
/// lists them and answer Not Found.
const RESOURCES: &[&str] = &[
    "expand-vm-spec",
    "virtualmachineinstances/vnc",
    "virtualmachineinstances/vnc/screenshot",
    "virtualmachineinstances/console",
    "virtualmachineinstances/portforward",
    "virtualmachineinstances/backup",
    "virtualmachineinstances/redefine-checkpoint",
    "virtualmachineinstances/pause",
    "virtualmachineinstances/unpause",
    "virtualmachineinstances/freeze",
    "virtualmachineinstances/unfreeze",
    "virtualmachineinstances/reset",
    "virtualmachineinstances/softreboot",
    "virtualmachines/start",
    "virtualmachines/stop",
    "virtualmachines/restart",
    "virtualmachines/migrate",
    "virtualmachines/expand-spec",
    "virtualmachines/objectgraph",
    "virtualmachines/evacuate/cancel",
    "virtualmachineinstances/guestosinfo",
    "virtualmachineinstances/userlist",
    "virtualmachineinstances/filesystemlist",
    "virtualmachineinstances/addvolume",
    "virtualmachineinstances/removevolume",
    "virtualmachineinstances/objectgraph",
    "virtualmachineinstances/sev/fetchcertchain",
    "virtualmachineinstances/sev/querylaunchmeasurement",
    "virtualmachineinstances/sev/setupsession",
    "virtualmachineinstances/sev/injectlaunchsecret",
    "virtualmachineinstances/evacuate/cancel",
];

/// The group's entry in `/apis`.
pub fn group_doc() -> Value {
    let versions: Vec<String> = VERSIONS.iter().map(|v| v.to_string()).collect();
    crate::discovery::group_doc(GROUP, &versions)
}

/// `/apis/subresources.kubevirt.io`.
pub fn group() -> Value {
    let mut doc = group_doc();
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    doc
}

/// `/apis/subresources.kubevirt.io/<version>`: Go's zero values included, so `kind` is
/// empty and `verbs` null.
pub fn resources(version: &str) -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|name| {
            json!({
                "name": name,
                "singularName": "",
                "namespaced": true,
                "kind": "",
                "verbs": null,
            })
        })
        .collect();
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{GROUP}/{version}"),
        "resources": resources,
    })
}
