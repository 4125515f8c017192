//! The object store: objects by type, the global resourceVersion counter, and the bounded
//! event history watches replay from.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::registry::Registry;
use crate::resources::{GroupResource, ResourceDef};
use crate::runtime::Runtime;

/// Events kept for watches that resume from an older resourceVersion.
const HISTORY_CAPACITY: usize = 8192;
/// Live events buffered per watcher before a slow watcher is cut off and must resume.
const BROADCAST_CAPACITY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug)]
pub struct WatchEvent {
    pub rv: u64,
    pub resource: GroupResource,
    pub kind: EventType,
    pub object: Value,
    /// The object before a modification, so filtered watches can tell entering from leaving.
    pub previous: Option<Value>,
}

/// `(namespace, name)`; cluster-scoped objects use an empty namespace.
pub type ObjectKey = (String, String);

#[derive(Debug)]
pub struct TooOld {
    pub requested: u64,
    pub oldest: u64,
}

pub struct Store {
    rv: u64,
    pub registry: Registry,
    objects: HashMap<GroupResource, BTreeMap<ObjectKey, Value>>,
    history: VecDeque<Arc<WatchEvent>>,
    /// Highest resourceVersion whose event fell out of the history.
    compacted_rv: u64,
    tx: broadcast::Sender<Arc<WatchEvent>>,
    /// Container logs, Job scripts and timers: not objects, never persisted.
    pub runtime: Runtime,
}

impl Default for Store {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            rv: 1,
            registry: Registry::default(),
            objects: HashMap::new(),
            history: VecDeque::new(),
            compacted_rv: 0,
            tx,
            runtime: Runtime::default(),
        }
    }
}

pub fn object_key(object: &Value) -> ObjectKey {
    let meta = &object["metadata"];
    (
        meta["namespace"].as_str().unwrap_or_default().to_string(),
        meta["name"].as_str().unwrap_or_default().to_string(),
    )
}

impl Store {
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, resource: &GroupResource, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(resource)?
            .get(&(namespace.to_string(), name.to_string()))
    }

    /// Objects of one type in key order, optionally within one namespace.
    pub fn list<'a>(
        &'a self,
        resource: &GroupResource,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> + 'a {
        self.objects
            .get(resource)
            .into_iter()
            .flat_map(|objects| objects.iter())
            .filter(move |((ns, _), _)| namespace.is_none_or(|want| want == ns))
    }

    pub fn namespace_exists(&self, namespace: &str) -> bool {
        self.get(&namespaces(), "", namespace).is_some()
    }

    /// Stores a new or changed object under a fresh resourceVersion and announces it.
    pub fn commit(&mut self, def: &ResourceDef, mut object: Value) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let resource = def.group_resource();
        let key = object_key(&object);
        let previous = self
            .objects
            .entry(resource.clone())
            .or_default()
            .insert(key, object.clone());
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.announce(resource, kind, object.clone(), previous);
        object
    }

    /// Removes an object; the DELETED event carries a fresh resourceVersion like etcd's.
    pub fn remove(&mut self, def: &ResourceDef, namespace: &str, name: &str) -> Option<Value> {
        let resource = def.group_resource();
        let mut object = self
            .objects
            .get_mut(&resource)?
            .remove(&(namespace.to_string(), name.to_string()))?;
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.announce(resource, EventType::Deleted, object.clone(), None);
        Some(object)
    }

    fn announce(
        &mut self,
        resource: GroupResource,
        kind: EventType,
        object: Value,
        previous: Option<Value>,
    ) {
        let event = Arc::new(WatchEvent {
            rv: self.rv,
            resource,
            kind,
            object,
            previous,
        });
        if self.history.len() == HISTORY_CAPACITY
            && let Some(dropped) = self.history.pop_front()
        {
            self.compacted_rv = dropped.rv;
        }
        self.history.push_back(event.clone());
        // Nobody listening is fine: watchers subscribe before reading history.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.tx.subscribe()
    }

    /// Events after `rv`, or `TooOld` when some of them were already compacted away.
    pub fn events_since(&self, rv: u64) -> Result<Vec<Arc<WatchEvent>>, TooOld> {
        if rv < self.compacted_rv {
            return Err(TooOld {
                requested: rv,
                oldest: self.compacted_rv + 1,
            });
        }
        Ok(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    /// All objects, for persistence; custom resource definitions first so a reload can serve them.
    pub fn snapshot(&self) -> Vec<Value> {
        let crds = GroupResource {
            group: "apiextensions.k8s.io".into(),
            resource: "customresourcedefinitions".into(),
        };
        let mut all: Vec<Value> = self.list(&crds, None).map(|(_, v)| v.clone()).collect();
        for (resource, objects) in &self.objects {
            if *resource != crds {
                all.extend(objects.values().cloned());
            }
        }
        all
    }

    /// Puts back persisted objects verbatim, keeping their resourceVersions.
    pub fn restore(&mut self, def: &ResourceDef, object: Value) {
        let rv = object["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        self.rv = self.rv.max(rv);
        self.objects
            .entry(def.group_resource())
            .or_default()
            .insert(object_key(&object), object);
    }

    /// Continues the resourceVersion sequence of a persisted store.
    pub fn advance_to(&mut self, rv: u64) {
        self.rv = self.rv.max(rv);
        self.compacted_rv = self.rv;
    }
}

pub fn namespaces() -> GroupResource {
    GroupResource {
        group: String::new(),
        resource: "namespaces".into(),
    }
}
