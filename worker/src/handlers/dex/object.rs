//! The Kubernetes side of Dex: the ConfigMap or Secret holding its configuration file,
//! edited read-modify-write with optimistic concurrency, and the Deployment restarted
//! by a pod-template annotation when the user list changed.
//!
//! The file is one value under one key, so server-side apply cannot merge two jobs'
//! edits: each would own the whole file. Instead every write is a PUT carrying the
//! resourceVersion that was read; when another job wrote in between, the API answers
//! 409, and the edit is made again on a fresh read. No edit is ever lost.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use longshore_shared::config::IdentityConfig;
use longshore_shared::job::Failure;
use longshore_shared::kube::classify::is_conflict;
use longshore_shared::kube::{MANAGER, classify, get_opt, retrying};
use serde_json::json;

use super::config::{DexConfig, Edit, Edited};

/// The pod-template annotation that restarts Dex; its value is the fingerprint of the
/// user list, so the same list never restarts Dex twice.
pub const RESTART_ANNOTATION: &str = "longshore.dev/static-passwords-hash";

/// How often an edit is re-made after a conflict or a transient failure of its write
/// before the attempt gives up (the runtime then retries the whole job).
const MAX_ROUNDS: u32 = 12;

/// Where Dex's configuration lives.
pub struct DexObject<'a> {
    client: kube::Client,
    settings: &'a IdentityConfig,
}

/// The configuration object as read, so it can be written back with its version.
enum Document {
    ConfigMap(ConfigMap),
    Secret(Secret),
}

/// An edit as it landed: the edit's result and the user list's fingerprint after it.
pub struct Landed {
    pub edited: Edited,
    pub fingerprint: String,
}

impl<'a> DexObject<'a> {
    pub fn new(client: kube::Client, settings: &'a IdentityConfig) -> Self {
        DexObject { client, settings }
    }

    fn describe(&self) -> String {
        let s = self.settings;
        format!("{} {}/{}", s.dex_object_kind, s.dex_namespace, s.dex_object)
    }

    /// The configuration as it is now.
    pub async fn read(&self) -> Result<DexConfig, Failure> {
        let document = self.fetch().await?;
        self.parse(&document)
    }

    /// Applies `edit` until it lands on the current version of the file (or is found
    /// already made, in which case nothing is written).
    pub async fn edit(&self, edit: &Edit) -> Result<Landed, Failure> {
        let mut last_trouble = String::new();
        for round in 0..MAX_ROUNDS {
            let document = self.fetch().await?;
            let mut config = self.parse(&document)?;
            let edited = config.apply(edit).map_err(Failure::permanent)?;
            let fingerprint = config.fingerprint().map_err(Failure::permanent)?;
            if !edited.changed {
                return Ok(Landed {
                    edited,
                    fingerprint,
                });
            }
            match self.write(document, config.render()).await {
                Ok(()) => {
                    return Ok(Landed {
                        edited,
                        fingerprint,
                    });
                }
                Err(err) if is_conflict(&err) => {
                    tracing::debug!(round, "Dex configuration changed meanwhile; editing again");
                    last_trouble = "it kept changing under concurrent edits".to_owned();
                }
                Err(err) => match classify(&err) {
                    Failure::Permanent(message) => return Err(Failure::Permanent(message)),
                    other => last_trouble = other.message().to_owned(),
                },
            }
            tokio::time::sleep(pause(round)).await;
        }
        Err(Failure::Transient(format!(
            "could not write the {}: {last_trouble}",
            self.describe()
        )))
    }

    async fn fetch(&self) -> Result<Document, Failure> {
        let s = self.settings;
        let found = if s.dex_object_kind == "secret" {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &s.dex_namespace);
            get_opt(&api, &s.dex_object).await?.map(Document::Secret)
        } else {
            let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &s.dex_namespace);
            get_opt(&api, &s.dex_object).await?.map(Document::ConfigMap)
        };
        found.ok_or_else(|| {
            Failure::Permanent(format!(
                "Dex's configuration ({}) does not exist; check identity.dex_namespace, \
                 dex_object and dex_object_kind",
                self.describe()
            ))
        })
    }

    fn parse(&self, document: &Document) -> Result<DexConfig, Failure> {
        let key = &self.settings.dex_key;
        let text = match document {
            Document::ConfigMap(cm) => cm.data.as_ref().and_then(|d| d.get(key)).cloned(),
            Document::Secret(secret) => secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|bytes| String::from_utf8_lossy(&bytes.0).into_owned())
                .or_else(|| {
                    secret
                        .string_data
                        .as_ref()
                        .and_then(|d| d.get(key))
                        .cloned()
                }),
        };
        let text = text.ok_or_else(|| {
            Failure::Permanent(format!("the {} has no key `{key}`", self.describe()))
        })?;
        DexConfig::parse(&text)
            .map_err(|e| Failure::Permanent(format!("{} (in the {})", e, self.describe())))
    }

    /// PUTs the document back with `text` under the key. The resourceVersion read is
    /// still in its metadata, which makes the write conditional.
    async fn write(&self, document: Document, text: String) -> Result<(), kube::Error> {
        let s = self.settings;
        let params = PostParams {
            field_manager: Some(MANAGER.to_owned()),
            ..PostParams::default()
        };
        match document {
            Document::ConfigMap(mut cm) => {
                cm.metadata.managed_fields = None;
                cm.data
                    .get_or_insert_with(BTreeMap::new)
                    .insert(s.dex_key.clone(), text);
                let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &s.dex_namespace);
                api.replace(&s.dex_object, &params, &cm).await?;
            }
            Document::Secret(mut secret) => {
                secret.metadata.managed_fields = None;
                if let Some(string_data) = secret.string_data.as_mut() {
                    string_data.remove(&s.dex_key);
                }
                secret
                    .data
                    .get_or_insert_with(BTreeMap::new)
                    .insert(s.dex_key.clone(), ByteString(text.into_bytes()));
                let api: Api<Secret> = Api::namespaced(self.client.clone(), &s.dex_namespace);
                api.replace(&s.dex_object, &params, &secret).await?;
            }
        }
        Ok(())
    }

    /// Makes Dex's pods carry `fingerprint`, which rolls them when it differs; true when
    /// a restart was triggered. Only called when the user list was written.
    pub async fn restart(&self, fingerprint: &str) -> Result<bool, Failure> {
        let s = self.settings;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &s.dex_namespace);
        let deployment = get_opt(&api, &s.dex_deployment).await?.ok_or_else(|| {
            Failure::Permanent(format!(
                "the Dex user list was written, but Dex's Deployment {}/{} does not exist \
                 to be restarted; check identity.dex_deployment",
                s.dex_namespace, s.dex_deployment
            ))
        })?;
        let current = deployment
            .spec
            .template
            .metadata
            .as_ref()
            .and_then(|meta| meta.annotations.as_ref())
            .and_then(|annotations| annotations.get(RESTART_ANNOTATION));
        if current.map(String::as_str) == Some(fingerprint) {
            return Ok(false);
        }
        let patch = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": s.dex_deployment, "namespace": s.dex_namespace},
            "spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: fingerprint}}}},
        });
        let params = PatchParams::apply(MANAGER).force();
        let patch = Patch::Apply(&patch);
        retrying(|| api.patch(&s.dex_deployment, &params, &patch)).await?;
        Ok(true)
    }
}

/// A short, growing pause with jitter, so jobs that collided do not collide again.
fn pause(round: u32) -> Duration {
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 20);
    Duration::from_millis(10 * u64::from(round + 1) + jitter)
}
