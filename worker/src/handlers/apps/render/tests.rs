//! Rendering rules, checked on the typed objects and on the JSON the API server gets.

use super::*;
use longshore_shared::command::apps::AppDeploy;
use longshore_shared::command::parse_payload;
use serde_json::{Value, json};

fn app(payload: Value) -> AppSpec {
    parse_payload::<AppDeploy>(&payload)
        .expect("a valid payload")
        .resolve(None)
}

fn policy(edit: impl FnOnce(&mut AppsConfig)) -> AppPolicy {
    let mut config = AppsConfig::default();
    edit(&mut config);
    AppPolicy::from_config(&config).expect("a valid apps section")
}

fn rendered(payload: Value, edit: impl FnOnce(&mut AppsConfig)) -> (Value, Value, Value) {
    let objects = render(&app(payload), &policy(edit)).expect("renders");
    (
        serde_json::to_value(&objects.deployment).unwrap(),
        serde_json::to_value(&objects.service).unwrap(),
        serde_json::to_value(&objects.ingress).unwrap(),
    )
}

#[test]
fn the_deployment_runs_one_replica_of_the_image_with_enforced_limits() {
    let (deployment, _, _) = rendered(
        json!({"app_id": "42", "image": "reg.local/s/42:v1"}),
        |_| {},
    );
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(deployment["metadata"]["name"], "app-42");
    assert_eq!(deployment["metadata"]["namespace"], "longshore-apps");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "reg.local/s/42:v1");
    assert_eq!(container["ports"][0]["containerPort"], 8000);
    let limits = json!({"cpu": "500m", "memory": "512Mi"});
    assert_eq!(container["resources"]["limits"], limits);
    assert_eq!(container["resources"]["requests"], limits);
    assert!(deployment.get("status").is_none());
}

#[test]
fn labels_name_the_app_and_longshore_and_the_selector_uses_them() {
    let (deployment, service, ingress) = rendered(json!({"app_id": "42", "image": "a:1"}), |_| {});
    let labels = json!({
        "app.kubernetes.io/name": "app-42",
        "app.kubernetes.io/managed-by": "longshore",
    });
    for object in [&deployment, &service, &ingress] {
        assert_eq!(object["metadata"]["labels"], labels, "{object}");
    }
    assert_eq!(deployment["spec"]["selector"]["matchLabels"], labels);
    assert_eq!(deployment["spec"]["template"]["metadata"]["labels"], labels);
    assert_eq!(service["spec"]["selector"], labels);
}

#[test]
fn configured_limits_replace_the_defaults() {
    let (deployment, _, _) = rendered(json!({"app_id": "7", "image": "a:1"}), |c| {
        c.cpu_limit = "1".into();
        c.memory_limit = "1Gi".into();
    });
    let resources = &deployment["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(resources["limits"], json!({"cpu": "1", "memory": "1Gi"}));
}

#[test]
fn injected_platform_environment_wins_over_the_apps_own() {
    let payload = json!({
        "app_id": "42", "image": "a:1",
        "env": {"MODEL": "small", "DB_HOST": "evil.example.com"},
    });
    let objects = render(
        &app(payload),
        &policy(|c| {
            c.env.insert("DB_HOST".into(), "db.platform.svc".into());
            c.env
                .insert("REDIS_HOST".into(), "redis.platform.svc".into());
        }),
    )
    .unwrap();
    let deployment = serde_json::to_value(&objects.deployment).unwrap();
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env,
        &json!([
            {"name": "DB_HOST", "value": "db.platform.svc"},
            {"name": "MODEL", "value": "small"},
            {"name": "REDIS_HOST", "value": "redis.platform.svc"},
        ])
    );
    assert_eq!(objects.overridden_env, vec!["DB_HOST".to_owned()]);
}

#[test]
fn pods_get_no_service_links_and_no_api_token() {
    let (deployment, _, _) = rendered(json!({"app_id": "42", "image": "a:1"}), |_| {});
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["enableServiceLinks"], false);
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert!(pod["containers"][0].get("env").is_none());
}

#[test]
fn the_service_maps_port_80_to_the_container_port() {
    let (_, service, _) = rendered(
        json!({"app_id": "42", "image": "a:1", "container_port": 3000}),
        |_| {},
    );
    assert_eq!(service["kind"], "Service");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 3000);
}

#[test]
fn the_ingress_routes_the_templated_host_to_the_service() {
    let (_, _, ingress) = rendered(json!({"app_id": "alice-hw3", "image": "a:1"}), |c| {
        c.ingress_class = Some("nginx".into());
    });
    assert_eq!(ingress["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(rule["host"], "app-alice-hw3.apps.example.edu");
    let path = &rule["http"]["paths"][0];
    assert_eq!(path["path"], "/");
    assert_eq!(path["pathType"], "Prefix");
    assert_eq!(
        path["backend"]["service"],
        json!({"name": "app-alice-hw3", "port": {"number": 80}})
    );
    assert!(ingress["spec"].get("tls").is_none());
}

#[test]
fn without_an_ingress_class_the_clusters_default_applies() {
    let (_, _, ingress) = rendered(json!({"app_id": "42", "image": "a:1"}), |_| {});
    assert!(ingress["spec"].get("ingressClassName").is_none());
}

#[test]
fn tls_uses_the_apps_secret_then_the_platforms_then_a_named_default() {
    let own = json!({"app_id": "42", "image": "a:1", "tls": true, "tls_secret": "mine"});
    let bare = json!({"app_id": "42", "image": "a:1", "tls": true});
    let wildcard = |c: &mut AppsConfig| c.tls_secret = Some("wildcard-tls".into());
    let secret = |ingress: &Value| ingress["spec"]["tls"][0]["secretName"].clone();

    let (_, _, ingress) = rendered(own, wildcard);
    assert_eq!(secret(&ingress), "mine");
    assert_eq!(
        ingress["spec"]["tls"][0]["hosts"],
        json!(["app-42.apps.example.edu"])
    );
    let (_, _, ingress) = rendered(bare.clone(), wildcard);
    assert_eq!(secret(&ingress), "wildcard-tls");
    let (_, _, ingress) = rendered(bare.clone(), |_| {});
    assert_eq!(secret(&ingress), "app-42-tls");

    let objects = render(&app(bare), &policy(|_| {})).unwrap();
    assert_eq!(objects.url, "https://app-42.apps.example.edu/");
}

#[test]
fn the_platforms_secret_alone_does_not_turn_tls_on() {
    let objects = render(
        &app(json!({"app_id": "42", "image": "a:1"})),
        &policy(|c| c.tls_secret = Some("wildcard-tls".into())),
    )
    .unwrap();
    assert!(objects.ingress.spec.unwrap().tls.is_none());
    assert_eq!(objects.url, "http://app-42.apps.example.edu/");
}

#[test]
fn rendering_twice_gives_identical_objects() {
    let payload = json!({"app_id": "42", "image": "a:1", "env": {"B": "2", "A": "1"}});
    let policy = policy(|c| {
        c.env.insert("Z".into(), "26".into());
    });
    assert_eq!(
        render(&app(payload.clone()), &policy),
        render(&app(payload), &policy)
    );
}

#[test]
fn a_bad_apps_section_is_refused_naming_the_key() {
    type Edit = fn(&mut AppsConfig);
    let cases: [(Edit, &str); 6] = [
        (|c| c.namespace = "Apps".into(), "apps.namespace"),
        (|c| c.cpu_limit = "half".into(), "apps.cpu_limit"),
        (|c| c.memory_limit = "-1Gi".into(), "apps.memory_limit"),
        (
            |c| c.host_template = "apps.example.edu".into(),
            "apps.host_template",
        ),
        (
            |c| {
                c.env.insert("1X".into(), "v".into());
            },
            "apps.env",
        ),
        (
            |c| c.tls_secret = Some("Bad_Secret".into()),
            "apps.tls_secret",
        ),
    ];
    for (edit, key) in cases {
        let mut config = AppsConfig::default();
        edit(&mut config);
        let err = AppPolicy::from_config(&config).unwrap_err();
        assert!(err.starts_with(key), "{key}: {err}");
    }
}

#[test]
fn a_host_template_yielding_an_invalid_host_fails_the_render() {
    let err = render(
        &app(json!({"app_id": "42", "image": "a:1"})),
        &policy(|c| c.host_template = "{id}_apps.example.edu".into()),
    )
    .unwrap_err();
    assert!(err.contains("invalid host"), "{err}");
}

#[test]
fn the_restart_patch_touches_only_the_pod_templates_annotation() {
    assert_eq!(
        restart_patch("2024-05-01T10:00:00.000Z"),
        json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00.000Z"
        }}}}})
    );
}
