//! The apps family, after the deployment-controller reference: an app is a Deployment,
//! a ClusterIP Service (port 80 → the container port) and an Ingress
//! (`app-<id>.<apps domain>`), all named `app-<id>` and rendered by the worker.
//!
//! The payload names only what may vary per app (image, port, environment, TLS). What
//! the platform enforces (CPU 0.5 / 512Mi limits, one replica, the namespace, injected
//! variables such as `DB_HOST`) comes from the worker's configuration, and raw manifests
//! are not accepted; a `replicas` field is refused by name.

use std::collections::BTreeMap;
use std::convert::Infallible;

use schemars::JsonSchema;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};

use super::{Command, Policy};
use crate::domain::{AppId, DnsSubdomain, EnvVarName, FieldError, ImageRef, keyed_map};
use crate::tenancy::{ObjectRef, Touch};

/// The port the reference's apps listen on.
pub const DEFAULT_CONTAINER_PORT: u16 = 8000;

const REPLICAS_REFUSED: &str =
    "replicas is not configurable: platform policy runs every app with exactly one replica";

/// Deploy an app, or redeploy it. A redeploy keeps what it does not give: only a new
/// `image` keeps the environment, port and TLS of the last deploy (an empty `env`
/// clears the environment, `tls: false` turns TLS off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, from = "AppDeployWire")]
#[schemars(!from)]
pub struct AppDeploy {
    /// The app's id (e.g. the student project id); its objects are named `app-<id>`.
    pub app_id: AppId,
    /// The image to run, e.g. `registry.example.com/students/alice-hw3:v2`.
    pub image: ImageRef,
    /// The port the container listens on; the Service maps port 80 to it. Default 8000,
    /// or the last deploy's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u16>,
    /// Environment variables for the container, all of them (the last deploy's when
    /// absent). The platform's own variables (such as `DB_HOST`) are added by the
    /// worker and win on a clash.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "keyed_map::deserialize_some"
    )]
    pub env: Option<BTreeMap<EnvVarName, String>>,
    /// Serve the Ingress over TLS (certificates from cert-manager when installed).
    /// Default off, or the last deploy's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// The Secret holding the TLS certificate; requires `tls: true` in the same
    /// request. Default `app-<id>-tls`, or the last deploy's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret: Option<DnsSubdomain>,
}

/// What an app runs, every field decided: a deploy's payload over the last deploy's
/// spec. Kept in the apps read model so the next redeploy starts from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppSpec {
    pub app_id: AppId,
    pub image: ImageRef,
    pub container_port: u16,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "keyed_map::deserialize"
    )]
    pub env: BTreeMap<EnvVarName, String>,
    #[serde(default)]
    pub tls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret: Option<DnsSubdomain>,
}

impl AppDeploy {
    /// The spec this deploy asks for, given the last deploy's (none for a first
    /// deploy): each field given wins, each absent one stays.
    pub fn resolve(&self, last: Option<&AppSpec>) -> AppSpec {
        let tls = self.tls.or(last.map(|l| l.tls)).unwrap_or(false);
        let tls_secret = match (&self.tls_secret, self.tls) {
            (Some(secret), _) => Some(secret.clone()),
            // Turning TLS on or off anew starts from the default secret.
            (None, Some(_)) => None,
            (None, None) => last.and_then(|l| l.tls_secret.clone()),
        };
        AppSpec {
            app_id: self.app_id.clone(),
            image: self.image.clone(),
            container_port: self
                .container_port
                .or(last.map(|l| l.container_port))
                .unwrap_or(DEFAULT_CONTAINER_PORT),
            env: self
                .env
                .clone()
                .or_else(|| last.map(|l| l.env.clone()))
                .unwrap_or_default(),
            tls,
            tls_secret: tls_secret.filter(|_| tls),
        }
    }
}

impl AppSpec {
    /// The TLS Secret's name when TLS is on: the given one, else `app-<id>-tls`.
    pub fn tls_secret_name(&self) -> Option<String> {
        self.tls.then(|| match &self.tls_secret {
            Some(secret) => secret.as_str().to_owned(),
            None => format!("{}-tls", self.app_id.object_name()),
        })
    }
}

impl Command for AppDeploy {
    const KIND: &'static str = "app.deploy";
    const SUMMARY: &'static str =
        "Deploy an app as a Deployment, Service and Ingress rendered with enforced limits.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(120),
    };

    fn check(&self) -> Result<(), FieldError> {
        if self.container_port == Some(0) {
            return Err(FieldError::new(
                "container_port",
                "must be between 1 and 65535",
            ));
        }
        if self.tls_secret.is_some() && self.tls != Some(true) {
            return Err(FieldError::new("tls_secret", "requires `tls: true`"));
        }
        Ok(())
    }

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::create(ObjectRef::App(
            self.app_id.as_str().to_owned(),
        ))]
    }
}

/// What `app.deploy` accepts on the wire: the payload, plus `replicas`, refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppDeployWire {
    app_id: AppId,
    image: ImageRef,
    #[serde(default)]
    container_port: Option<u16>,
    #[serde(default, deserialize_with = "keyed_map::deserialize_some")]
    env: Option<BTreeMap<EnvVarName, String>>,
    #[serde(default)]
    tls: Option<bool>,
    #[serde(default)]
    tls_secret: Option<DnsSubdomain>,
    #[serde(default, deserialize_with = "refuse_replicas")]
    replicas: Option<Infallible>,
}

impl From<AppDeployWire> for AppDeploy {
    fn from(wire: AppDeployWire) -> Self {
        if let Some(never) = wire.replicas {
            match never {}
        }
        AppDeploy {
            app_id: wire.app_id,
            image: wire.image,
            container_port: wire.container_port,
            env: wire.env,
            tls: wire.tls,
            tls_secret: wire.tls_secret,
        }
    }
}

fn refuse_replicas<'de, D: Deserializer<'de>>(_: D) -> Result<Option<Infallible>, D::Error> {
    Err(D::Error::custom(REPLICAS_REFUSED))
}

/// Restart an app's pods (the equivalent of `kubectl rollout restart`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppRestart {
    /// The app to restart.
    pub app_id: AppId,
}

impl Command for AppRestart {
    const KIND: &'static str = "app.restart";
    const SUMMARY: &'static str = "Restart an app's pods with a rolling restart.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(30),
    };

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::change(ObjectRef::App(
            self.app_id.as_str().to_owned(),
        ))]
    }
}

/// Delete an app: its Deployment, Service and Ingress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppDelete {
    /// The app to delete; deleting one already gone succeeds.
    pub app_id: AppId,
    /// Report what would be deleted, without deleting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl Command for AppDelete {
    const KIND: &'static str = "app.delete";
    const SUMMARY: &'static str = "Delete an app's Deployment, Service and Ingress.";
    const POLICY: Policy = Policy {
        max_attempts: 5,
        timeout: std::time::Duration::from_secs(60),
    };

    fn touches(&self) -> Vec<Touch> {
        vec![Touch::change(ObjectRef::App(
            self.app_id.as_str().to_owned(),
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_payload;
    use serde_json::json;

    #[test]
    fn a_minimal_deploy_gets_port_8000_and_no_tls() {
        let deploy: AppDeploy =
            parse_payload(&json!({"app_id": "42", "image": "registry.local/students/42:v1"}))
                .unwrap();
        let spec = deploy.resolve(None);
        assert_eq!(spec.container_port, 8000);
        assert_eq!(spec.app_id.object_name().as_str(), "app-42");
        assert_eq!(spec.tls_secret_name(), None);
    }

    #[test]
    fn tls_defaults_its_secret_name_and_a_secret_needs_tls() {
        let deploy: AppDeploy =
            parse_payload(&json!({"app_id": "42", "image": "app:v1", "tls": true})).unwrap();
        assert_eq!(
            deploy.resolve(None).tls_secret_name().as_deref(),
            Some("app-42-tls")
        );
        let err = parse_payload::<AppDeploy>(
            &json!({"app_id": "42", "image": "app:v1", "tls_secret": "wildcard-tls"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "payload.tls_secret");
    }

    #[test]
    fn replicas_are_refused_with_the_policy_reason() {
        let err =
            parse_payload::<AppDeploy>(&json!({"app_id": "42", "image": "app:v1", "replicas": 3}))
                .unwrap_err();
        assert_eq!(err.field, "payload.replicas");
        assert!(
            err.message.contains("exactly one replica"),
            "{}",
            err.message
        );
    }

    #[test]
    fn raw_manifests_and_bad_values_name_the_field() {
        let cases = [
            (
                json!({"app_id": "42", "image": "app:v1", "manifest": "kind: Pod"}),
                "payload.manifest",
            ),
            (
                json!({"app_id": "Student_42", "image": "app:v1"}),
                "payload.app_id",
            ),
            (json!({"app_id": "42", "image": "App:v1"}), "payload.image"),
            (
                json!({"app_id": "42", "image": "app", "container_port": 70000}),
                "payload.container_port",
            ),
            (
                json!({"app_id": "42", "image": "app", "container_port": 0}),
                "payload.container_port",
            ),
            (
                json!({"app_id": "42", "image": "app", "env": {"1BAD": "x"}}),
                "payload.env.1BAD",
            ),
        ];
        for (body, field) in cases {
            let err = parse_payload::<AppDeploy>(&body).unwrap_err();
            assert_eq!(err.field, field, "{body}");
        }
    }

    #[test]
    fn env_round_trips_through_json() {
        let deploy: AppDeploy = parse_payload(&json!({
            "app_id": "42", "image": "app:v1", "env": {"MODEL": "small", "DEBUG": "1"}
        }))
        .unwrap();
        let back = parse_payload::<AppDeploy>(&serde_json::to_value(&deploy).unwrap()).unwrap();
        assert_eq!(back, deploy);
        assert_eq!(back.env.map(|env| env.len()), Some(2));
    }

    #[test]
    fn a_null_field_is_one_not_given() {
        let deploy: AppDeploy = parse_payload(&json!({
            "app_id": "42", "image": "app:v1", "env": null, "tls": null, "container_port": null
        }))
        .unwrap();
        assert_eq!(
            (deploy.env, deploy.tls, deploy.container_port),
            (None, None, None)
        );
    }

    #[test]
    fn a_redeploy_keeps_what_it_does_not_give() {
        let first: AppDeploy = parse_payload(&json!({
            "app_id": "42", "image": "app:v1", "container_port": 3000,
            "env": {"MODEL": "small"}, "tls": true, "tls_secret": "wildcard-tls"
        }))
        .unwrap();
        let last = first.resolve(None);
        let image_only: AppDeploy =
            parse_payload(&json!({"app_id": "42", "image": "app:v2"})).unwrap();
        let next = image_only.resolve(Some(&last));
        assert_eq!(next.image.as_str(), "app:v2");
        assert_eq!(next.container_port, 3000);
        assert_eq!(next.env, last.env);
        assert_eq!(next.tls_secret_name().as_deref(), Some("wildcard-tls"));

        let cleared: AppDeploy =
            parse_payload(&json!({"app_id": "42", "image": "app:v2", "env": {}, "tls": false}))
                .unwrap();
        let next = cleared.resolve(Some(&last));
        assert!(next.env.is_empty());
        assert_eq!(next.tls_secret_name(), None);
        assert_eq!(next.container_port, 3000);
    }

    #[test]
    fn restart_and_delete_name_the_app() {
        assert!(parse_payload::<AppRestart>(&json!({"app_id": "42"})).is_ok());
        let delete: AppDelete = parse_payload(&json!({"app_id": "42", "dry_run": true})).unwrap();
        assert!(delete.dry_run);
    }

    #[test]
    fn the_published_schema_has_no_replicas() {
        let schema = schemars::schema_for!(AppDeploy).to_value();
        assert_eq!(schema["additionalProperties"], json!(false));
        assert!(schema["properties"].get("replicas").is_none());
        let required = schema["required"].as_array().expect("required fields");
        assert_eq!(
            required,
            &[json!("app_id"), json!("image")],
            "a redeploy may give only these"
        );
    }
}
