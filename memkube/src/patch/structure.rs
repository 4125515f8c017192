//! Which lists of built-in types merge item by item, and by which key. A stand-in for the
//! `patchMergeKey` / `listMapKeys` markers of the real OpenAPI schema.

use serde_json::Value;

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Items are objects identified by the named key.
    Map(&'static str),
    /// Items are scalars merged as a set.
    Set,
    /// The list is replaced wholesale.
    Atomic,
}

/// The merge behaviour of list field `field` holding `items`. Custom resources have no
/// schema here, so their lists are atomic, as with a CRD schema lacking list markers.
pub fn list_kind(field: &str, items: &[Value], custom: bool) -> ListKind {
    if custom {
        return ListKind::Atomic;
    }
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "secrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        "finalizers" => return ListKind::Set,
        _ => return ListKind::Atomic,
    };
    let keyed = items
        .iter()
        .all(|item| item.is_object() && item.get(key).is_some_and(|k| !k.is_null()));
    if keyed {
        ListKind::Map(key)
    } else {
        ListKind::Atomic
    }
}

/// Index of the item in `items` whose `key` equals the one of `probe`.
pub fn position_by_key(items: &[Value], key: &str, probe: &Value) -> Option<usize> {
    let wanted = probe.get(key)?;
    items.iter().position(|item| item.get(key) == Some(wanted))
}
