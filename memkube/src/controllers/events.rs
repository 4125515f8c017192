//! core/v1 Events as client-go's event recorder writes them: named `<object>.<hex nanos>`,
//! and a repeat of the same reason and message about the same object bumps `count` and
//! `lastTimestamp` of the existing Event instead of adding another, as the correlator does.

use serde_json::{Value, json};

use super::{create, served};
use crate::ops::{self, Ctx, Target, now};
use crate::store::Store;

/// Who reports: `default-scheduler`, or `kubelet` on a host.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub component: &'a str,
    pub host: Option<&'a str>,
}

pub const SCHEDULER: Source<'static> = Source {
    component: "default-scheduler",
    host: None,
};

pub const JOB_CONTROLLER: Source<'static> = Source {
    component: "job-controller",
    host: None,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Warning,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// What an Event is about; `field_path` names a container (`spec.containers{web}`).
pub struct About<'a> {
    pub object: &'a Value,
    pub field_path: Option<String>,
}

impl<'a> About<'a> {
    pub fn object(object: &'a Value) -> Self {
        Self {
            object,
            field_path: None,
        }
    }

    pub fn container(pod: &'a Value, name: &str) -> Self {
        Self {
            object: pod,
            field_path: Some(format!("spec.containers{{{name}}}")),
        }
    }
}

pub fn record(
    store: &mut Store,
    source: Source<'_>,
    about: &About<'_>,
    kind: Kind,
    reason: &str,
    message: &str,
) {
    let Some(events) = served(store, "", "events") else {
        return;
    };
    let meta = &about.object["metadata"];
    let namespace = meta["namespace"]
        .as_str()
        .filter(|ns| !ns.is_empty())
        .unwrap_or("default")
        .to_string();
    let mut involved = json!({
        "apiVersion": about.object["apiVersion"],
        "kind": about.object["kind"],
        "name": meta["name"],
        "namespace": meta["namespace"],
        "uid": meta["uid"],
        "resourceVersion": meta["resourceVersion"],
    });
    if let Some(path) = &about.field_path {
        involved["fieldPath"] = json!(path);
    }
    let timestamp = now();
    let same = |event: &Value| {
        event["involvedObject"]["uid"] == involved["uid"]
            && event["involvedObject"]["fieldPath"] == involved["fieldPath"]
            && event["reason"] == reason
            && event["message"] == message
            && event["source"]["component"] == source.component
    };
    let existing = store
        .list(&events.group_resource(), Some(&namespace))
        .map(|(_, event)| event)
        .find(|event| same(event))
        .cloned();
    if let Some(mut event) = existing {
        let count = event["count"].as_i64().unwrap_or(1) + 1;
        event["count"] = json!(count);
        event["lastTimestamp"] = json!(timestamp);
        let name = event["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ctx = Ctx::new(events.clone(), "v1", &namespace, source.component);
        if let Err(err) = ops::update(store, &ctx, &name, event, Target::Main) {
            tracing::debug!(%err, "simulated event could not be updated");
        }
        return;
    }
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let object_name = meta["name"].as_str().unwrap_or_default();
    let mut source_field = json!({ "component": source.component });
    if let Some(host) = source.host {
        source_field["host"] = json!(host);
    }
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": format!("{object_name}.{nanos:x}"), "namespace": namespace },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": source_field,
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
        "type": kind.as_str(),
        "eventTime": null,
        "reportingComponent": source.component,
        "reportingInstance": source.host.unwrap_or_default(),
    });
    create(source.component, store, &events, event);
}
