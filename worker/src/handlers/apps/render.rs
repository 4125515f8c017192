//! Rendering an app's Deployment, Service and Ingress from the typed payload and the
//! platform's policy, as pure functions: no I/O, so every rule is unit-tested here.
//!
//! What the payload may choose: image, container port, its own environment, TLS. What
//! the policy forces: the namespace, one replica, CPU and memory limits, the injected
//! environment (which wins over the app's on a clash, as the payload's docs promise),
//! the host, the ingress class.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, PodSpec, PodTemplateSpec, ResourceRequirements, Service,
    ServicePort, ServiceSpec,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use longshore_shared::command::apps::AppSpec;
use longshore_shared::config::AppsConfig;
use longshore_shared::domain::{AppId, DnsLabel, DnsSubdomain, EnvVarName, Quantity};

pub const NAME_LABEL: &str = "app.kubernetes.io/name";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "longshore";
/// The pod-template annotation `kubectl rollout restart` sets; changing it rolls the pods.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// The port every app's Service listens on, as the reference maps it (80 → 8000).
pub const SERVICE_PORT: i32 = 80;
/// The placeholder of `apps.host_template` replaced by the app id.
const ID_PLACEHOLDER: &str = "{id}";
const CONTAINER_NAME: &str = "app";
const PORT_NAME: &str = "http";

/// The `apps` configuration section, parsed: a worker with a bad section fails each app
/// job permanently with the reason instead of sending the API server invalid objects.
#[derive(Debug, Clone, PartialEq)]
pub struct AppPolicy {
    pub namespace: DnsLabel,
    pub cpu_limit: Quantity,
    pub memory_limit: Quantity,
    pub env: BTreeMap<EnvVarName, String>,
    host_template: String,
    ingress_class: Option<String>,
    tls_secret: Option<DnsSubdomain>,
}

impl AppPolicy {
    pub fn from_config(config: &AppsConfig) -> Result<AppPolicy, String> {
        let bad = |key: &str, why: &dyn std::fmt::Display| format!("apps.{key} is invalid: {why}");
        let namespace = DnsLabel::parse(&config.namespace).map_err(|e| bad("namespace", &e))?;
        let cpu_limit = Quantity::parse(&config.cpu_limit).map_err(|e| bad("cpu_limit", &e))?;
        let memory_limit =
            Quantity::parse(&config.memory_limit).map_err(|e| bad("memory_limit", &e))?;
        let env = config
            .env
            .iter()
            .map(|(name, value)| Ok((EnvVarName::parse(name)?, value.clone())))
            .collect::<Result<_, longshore_shared::domain::ParseError>>()
            .map_err(|e| bad("env", &e))?;
        // Without the placeholder every app would claim the same host.
        if !config.host_template.contains(ID_PLACEHOLDER) {
            let why = format!("`{}` must contain `{ID_PLACEHOLDER}`", config.host_template);
            return Err(bad("host_template", &why));
        }
        let ingress_class = match &config.ingress_class {
            Some(class) => Some(
                DnsSubdomain::parse(class)
                    .map_err(|e| bad("ingress_class", &e))?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let tls_secret = config
            .tls_secret
            .as_deref()
            .map(DnsSubdomain::parse)
            .transpose()
            .map_err(|e| bad("tls_secret", &e))?;
        Ok(AppPolicy {
            namespace,
            cpu_limit,
            memory_limit,
            env,
            host_template: config.host_template.clone(),
            ingress_class,
            tls_secret,
        })
    }

    /// The app's public host; refused when the template yields no valid DNS name.
    pub fn host(&self, app_id: &AppId) -> Result<String, String> {
        let host = self.host_template.replace(ID_PLACEHOLDER, app_id.as_str());
        DnsSubdomain::parse(&host)
            .map(|h| h.as_str().to_owned())
            .map_err(|e| format!("apps.host_template yields an invalid host: {e}"))
    }

    /// The TLS Secret when the app asks for TLS: the payload's own, else the platform's
    /// (a wildcard certificate), else `app-<id>-tls` for cert-manager to fill.
    pub fn tls_secret(&self, app: &AppSpec) -> Option<String> {
        if !app.tls {
            return None;
        }
        match (&app.tls_secret, &self.tls_secret) {
            (Some(own), _) => Some(own.as_str().to_owned()),
            (None, Some(platform)) => Some(platform.as_str().to_owned()),
            (None, None) => app.tls_secret_name(),
        }
    }
}

/// Everything `app.deploy` writes, plus what its result reports.
#[derive(Debug, Clone, PartialEq)]
pub struct AppObjects {
    pub deployment: Deployment,
    pub service: Service,
    pub ingress: Ingress,
    pub host: String,
    pub url: String,
    /// App variables replaced by the platform's value of the same name.
    pub overridden_env: Vec<String>,
}

/// The labels of every object of the app; the Deployment and Service select on them.
pub fn labels(app_id: &AppId) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            NAME_LABEL.to_owned(),
            app_id.object_name().as_str().to_owned(),
        ),
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
    ])
}

fn metadata(app_id: &AppId, namespace: &DnsLabel) -> ObjectMeta {
    ObjectMeta {
        name: Some(app_id.object_name().as_str().to_owned()),
        namespace: Some(namespace.as_str().to_owned()),
        labels: Some(labels(app_id)),
        ..ObjectMeta::default()
    }
}

/// Renders the three objects of `app` under `policy`.
pub fn render(app: &AppSpec, policy: &AppPolicy) -> Result<AppObjects, String> {
    let host = policy.host(&app.app_id)?;
    let tls_secret = policy.tls_secret(app);
    let scheme = if tls_secret.is_some() {
        "https"
    } else {
        "http"
    };
    let (env, overridden_env) = environment(&app.env, &policy.env);
    Ok(AppObjects {
        deployment: deployment(app, policy, env),
        service: service(app, policy),
        ingress: ingress(app, policy, &host, tls_secret),
        url: format!("{scheme}://{host}/"),
        host,
        overridden_env,
    })
}

/// The container's environment, sorted by name so every render is byte-identical (and a
/// re-apply a no-op); the platform's variables win, and the names they replaced are kept.
fn environment(
    own: &BTreeMap<EnvVarName, String>,
    platform: &BTreeMap<EnvVarName, String>,
) -> (Vec<EnvVar>, Vec<String>) {
    let overridden = own
        .keys()
        .filter(|name| platform.contains_key(*name))
        .map(|name| name.as_str().to_owned())
        .collect();
    let mut merged: BTreeMap<&EnvVarName, &String> = own.iter().collect();
    merged.extend(platform.iter());
    let env = merged
        .into_iter()
        .map(|(name, value)| EnvVar {
            name: name.as_str().to_owned(),
            value: Some(value.clone()),
            value_from: None,
        })
        .collect();
    (env, overridden)
}

fn deployment(app: &AppSpec, policy: &AppPolicy, env: Vec<EnvVar>) -> Deployment {
    // Requests equal limits: the pod is Guaranteed, so what the namespace's quota counts
    // is what the app can use, and a noisy app cannot starve its neighbours.
    let resources = BTreeMap::from([
        ("cpu".to_owned(), K8sQuantity(policy.cpu_limit.to_string())),
        (
            "memory".to_owned(),
            K8sQuantity(policy.memory_limit.to_string()),
        ),
    ]);
    let container = Container {
        name: CONTAINER_NAME.to_owned(),
        image: Some(app.image.as_str().to_owned()),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_owned()),
            container_port: i32::from(app.container_port),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        env: Some(env).filter(|env| !env.is_empty()),
        resources: Some(ResourceRequirements {
            limits: Some(resources.clone()),
            requests: Some(resources),
            claims: None,
        }),
        ..Container::default()
    };
    let pod = PodSpec {
        containers: vec![container],
        // Apps share one namespace: service links would hand every pod a variable per
        // Service of every other app, and apps have no business with the API server.
        enable_service_links: Some(false),
        automount_service_account_token: Some(false),
        ..PodSpec::default()
    };
    Deployment {
        metadata: metadata(&app.app_id, &policy.namespace),
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(labels(&app.app_id)),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&app.app_id)),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    }
}

fn service(app: &AppSpec, policy: &AppPolicy) -> Service {
    Service {
        metadata: metadata(&app.app_id, &policy.namespace),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(labels(&app.app_id)),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_owned()),
                port: SERVICE_PORT,
                protocol: Some("TCP".to_owned()),
                target_port: Some(IntOrString::Int(i32::from(app.container_port))),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

fn ingress(app: &AppSpec, policy: &AppPolicy, host: &str, tls: Option<String>) -> Ingress {
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: app.app_id.object_name().as_str().to_owned(),
            port: Some(ServiceBackendPort {
                name: None,
                number: Some(SERVICE_PORT),
            }),
        }),
        resource: None,
    };
    Ingress {
        metadata: metadata(&app.app_id, &policy.namespace),
        spec: Some(IngressSpec {
            ingress_class_name: policy.ingress_class.clone(),
            rules: Some(vec![IngressRule {
                host: Some(host.to_owned()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        backend,
                        path: Some("/".to_owned()),
                        path_type: "Prefix".to_owned(),
                    }],
                }),
            }]),
            tls: tls.map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![host.to_owned()]),
                    secret_name: Some(secret),
                }]
            }),
            default_backend: None,
        }),
        status: None,
    }
}

/// The merge patch `app.restart` sends: only the pod template's restart annotation.
pub fn restart_patch(restarted_at: &str) -> serde_json::Value {
    serde_json::json!({
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: restarted_at}}}}
    })
}

#[cfg(test)]
mod tests;
