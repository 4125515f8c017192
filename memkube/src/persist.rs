//! Optional persistence of all objects to a JSON file, reloaded at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::crd;
use crate::state::Shared;
use crate::store::Store;

/// Writes are coalesced: at most one file write per this interval.
const WRITE_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl From<PersistError> for std::io::Error {
    fn from(err: PersistError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, err)
    }
}

/// Loads objects saved by `save` into `store`; a missing file is an empty cluster.
pub fn load(path: &Path, store: &mut Store) -> Result<(), PersistError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let saved: Value = serde_json::from_str(&text).map_err(|source| PersistError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    for object in saved["objects"].as_array().into_iter().flatten() {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let Some(def) = store.registry.find_by_api_version(api_version, kind) else {
            tracing::warn!(
                api_version,
                kind,
                "state file object of an unserved type skipped"
            );
            continue;
        };
        if kind == "CustomResourceDefinition"
            && let Ok(custom) = crd::resource_def(object)
        {
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            store.registry.register_custom(name, custom);
        }
        store.restore(&def, object.clone());
    }
    let rv = saved["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0);
    store.advance_to(rv);
    Ok(())
}

/// Writes the whole store atomically (temp file, then rename).
pub fn save(path: &Path, shared: &Shared) -> std::io::Result<()> {
    let document = {
        let store = shared.read();
        json!({
            "resourceVersion": store.resource_version().to_string(),
            "objects": store.snapshot(),
        })
    };
    // A unique temporary name keeps a final save on drop from interleaving with the writer.
    let tmp = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&document)?)?;
    std::fs::rename(&tmp, path)
}

/// Saves after changes until shutdown, then once more.
pub fn spawn_writer(shared: Arc<Shared>, path: PathBuf) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shared.changed.notified() => {}
                () = shared.shutdown.cancelled() => break,
            }
            tokio::time::sleep(WRITE_INTERVAL).await;
            if let Err(err) = save(&path, &shared) {
                tracing::warn!(%err, path = %path.display(), "could not save memkube state");
            }
        }
    });
}
