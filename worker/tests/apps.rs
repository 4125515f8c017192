//! The apps handlers against the in-memory Kubernetes API, through the real client over
//! HTTP: the objects' fields, idempotent re-runs, rollouts waited on by re-checks (held,
//! failed, timed out), restart, delete, and that nothing outside the app namespace is
//! touched. The memkube deployment controller makes Deployments available ~100 ms after
//! each change unless its rollout annotation says `hold` or `fail`; tests set that
//! annotation in-process, never through the payload.
//!
//! This file holds the helpers and the deploy tests; `apps/` holds rollouts, restart and
//! delete, and one run through the real runtime.

mod support;

use std::time::Duration;

use longshore_memkube::ROLLOUT_ANNOTATION;
use longshore_shared::command::apps::{AppDelete, AppDeploy, AppRestart};
use longshore_shared::command::{Command, parse_payload};
use longshore_shared::config::Config;
use longshore_shared::domain::AppId;
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::store::AppRecord;
use longshore_worker::Context;
use serde_json::{Value, json};
use support::Bench;

const NS: &str = "longshore-apps";

async fn bench_with(edit: impl FnOnce(&mut Config)) -> Bench {
    let mut config = Config::default();
    config
        .apps
        .env
        .insert("DB_HOST".into(), "db.platform.svc".into());
    edit(&mut config);
    let bench = Bench::with_config(config).await;
    // The app namespace belongs to the platform's install, not to any job.
    bench
        .kube
        .put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    bench
}

async fn bench() -> Bench {
    bench_with(|_| {}).await
}

fn deploy(payload: Value) -> AppDeploy {
    parse_payload(&payload).expect("a valid app.deploy payload")
}

fn object(bench: &Bench, kind: &str, name: &str) -> Option<Value> {
    let (api_version, plural) = match kind {
        "Deployment" => ("apps/v1", "deployments"),
        "Service" => ("v1", "services"),
        _ => ("networking.k8s.io/v1", "ingresses"),
    };
    bench.kube.get(api_version, plural, Some(NS), name)
}

fn versions(bench: &Bench, name: &str) -> Vec<Option<String>> {
    ["Deployment", "Service", "Ingress"]
        .iter()
        .map(|kind| object(bench, kind, name).map(|o| o["metadata"]["resourceVersion"].to_string()))
        .collect()
}

async fn record(bench: &Bench, app_id: &str) -> Option<AppRecord> {
    bench
        .services
        .store
        .app(app_id)
        .await
        .expect("the store answers")
}

/// Runs one job as the runtime would: each `Recheck` records its progress, and the next
/// run (a new attempt of the same job) starts from it. Returns the re-check count and
/// the final answer.
async fn settle<C: Command>(
    bench: &Bench,
    cmd: &C,
    mut ctx: Context,
) -> (usize, Result<Outcome, Failure>) {
    for rechecks in 0..200 {
        match bench.run_in(cmd, ctx.clone()).await {
            Ok(Outcome::Recheck { progress, .. }) => {
                ctx.previous_progress = Some(progress);
                ctx.attempt += 1;
                ctx.max_attempts += 1;
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            other => return (rechecks, other),
        }
    }
    panic!("the job never settled");
}

async fn done<C: Command>(bench: &Bench, cmd: &C) -> Value {
    match settle(bench, cmd, bench.context(1)).await.1 {
        Ok(Outcome::Done(value)) => value,
        other => panic!("expected Done, got {other:?}"),
    }
}

/// Creates the app's Deployment beforehand with only the rollout annotation, as an
/// operator's tooling might; the handler's apply leaves fields it does not own alone.
fn rollout_mode(bench: &Bench, name: &str, mode: &str) {
    bench.kube.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "annotations": {ROLLOUT_ANNOTATION: mode}},
    }));
}

fn release_hold(bench: &Bench, name: &str) {
    let mut deployment = object(bench, "Deployment", name).expect("the deployment exists");
    deployment["metadata"]["annotations"]
        .as_object_mut()
        .expect("annotated")
        .remove(ROLLOUT_ANNOTATION);
    bench.kube.put(deployment);
}

#[tokio::test]
async fn a_deploy_renders_the_deployment_service_and_ingress_and_runs() {
    let bench = bench().await;
    let cmd = deploy(json!({
        "app_id": "42", "image": "registry.local/students/42:v1",
        "env": {"MODEL": "small"}, "tls": true, "tls_secret": "wildcard-tls",
    }));
    let result = done(&bench, &cmd).await;
    assert_eq!(result["state"], "RUNNING");
    assert_eq!(result["host"], "app-42.apps.example.edu");
    assert_eq!(result["url"], "https://app-42.apps.example.edu/");

    let deployment = object(&bench, "Deployment", "app-42").expect("a deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.local/students/42:v1");
    assert_eq!(container["ports"][0]["containerPort"], 8000);
    assert_eq!(
        container["resources"]["limits"],
        json!({"cpu": "500m", "memory": "512Mi"})
    );
    let env = container["env"].as_array().expect("env");
    assert!(env.contains(&json!({"name": "DB_HOST", "value": "db.platform.svc"})));
    assert!(env.contains(&json!({"name": "MODEL", "value": "small"})));
    let managers: Vec<&Value> = deployment["metadata"]["managedFields"]
        .as_array()
        .expect("managed fields")
        .iter()
        .map(|m| &m["manager"])
        .collect();
    assert!(managers.contains(&&json!("longshore")), "{managers:?}");

    let service = object(&bench, "Service", "app-42").expect("a service");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8000);

    let ingress = object(&bench, "Ingress", "app-42").expect("an ingress");
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "app-42.apps.example.edu"
    );
    assert_eq!(ingress["spec"]["tls"][0]["secretName"], "wildcard-tls");

    let row = record(&bench, "42").await.expect("a read model row");
    assert_eq!(
        (row.state.as_str(), row.namespace.as_str()),
        ("RUNNING", NS)
    );
    assert_eq!(row.image, "registry.local/students/42:v1");
}

#[tokio::test]
async fn a_redeploy_with_only_a_new_image_keeps_the_environment_port_and_tls() {
    let bench = bench().await;
    done(
        &bench,
        &deploy(json!({
            "app_id": "42", "image": "app:v1", "container_port": 3000,
            "env": {"MODEL": "small"}, "tls": true, "tls_secret": "wildcard-tls",
        })),
    )
    .await;
    let result = done(&bench, &deploy(json!({"app_id": "42", "image": "app:v2"}))).await;
    assert_eq!(result["url"], "https://app-42.apps.example.edu/");

    let deployment = object(&bench, "Deployment", "app-42").expect("a deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "app:v2");
    assert_eq!(container["ports"][0]["containerPort"], 3000);
    let env = container["env"].as_array().expect("env");
    assert!(
        env.contains(&json!({"name": "MODEL", "value": "small"})),
        "{env:?}"
    );
    let service = object(&bench, "Service", "app-42").expect("a service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 3000);
    let ingress = object(&bench, "Ingress", "app-42").expect("an ingress");
    assert_eq!(ingress["spec"]["tls"][0]["secretName"], "wildcard-tls");

    // What is given is what changes: an empty environment clears it, TLS goes off.
    done(
        &bench,
        &deploy(json!({"app_id": "42", "image": "app:v3", "env": {}, "tls": false})),
    )
    .await;
    let deployment = object(&bench, "Deployment", "app-42").expect("a deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let env = container["env"].as_array().expect("the platform's env");
    assert!(
        env.iter().all(|e| e["name"] != "MODEL"),
        "MODEL is gone: {env:?}"
    );
    assert_eq!(container["ports"][0]["containerPort"], 3000);
    let ingress = object(&bench, "Ingress", "app-42").expect("an ingress");
    assert!(ingress["spec"]["tls"].is_null(), "{ingress}");
}

#[tokio::test]
async fn deploying_the_same_app_twice_leaves_every_resource_version_unchanged() {
    let bench = bench().await;
    let cmd = deploy(json!({"app_id": "42", "image": "app:v1"}));
    done(&bench, &cmd).await;
    let before = versions(&bench, "app-42");
    assert!(before.iter().all(Option::is_some), "{before:?}");

    // A second job: it applies all three again, and finds the rollout already complete.
    bench.kube.clear_request_log();
    let (rechecks, again) = settle(&bench, &cmd, bench.context(1)).await;
    assert!(
        matches!(again, Ok(Outcome::Done(ref v)) if v["state"] == "RUNNING"),
        "{again:?}"
    );
    assert_eq!(rechecks, 0);
    let applies = bench
        .kube
        .request_log()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(applies, 3);
    assert_eq!(versions(&bench, "app-42"), before);
}

#[tokio::test]
async fn a_deploy_into_a_missing_namespace_fails_permanently_and_records_why() {
    let bench = Bench::start().await;
    let result = bench
        .run(&deploy(json!({"app_id": "42", "image": "app:v1"})))
        .await;
    let Err(Failure::Permanent(reason)) = result else {
        panic!("expected a permanent failure, got {result:?}");
    };
    assert!(reason.contains("404"), "{reason}");
    let row = record(&bench, "42").await.unwrap();
    assert_eq!(
        (row.state.as_str(), row.reason.as_deref()),
        ("FAILED", Some(reason.as_str()))
    );
}

#[tokio::test]
async fn a_redeploy_rolls_out_the_new_image_and_drops_the_variables_it_clears() {
    let bench = bench().await;
    let v1 = deploy(json!({"app_id": "42", "image": "app:v1", "env": {"MODEL": "small"}}));
    let first = done(&bench, &v1).await;
    let v2 = deploy(json!({"app_id": "42", "image": "app:v2", "env": {}}));
    let second = done(&bench, &v2).await;
    assert!(
        second["generation"].as_i64() > first["generation"].as_i64(),
        "{first} {second}"
    );
    let deployment = object(&bench, "Deployment", "app-42").unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "app:v2");
    // Server-side apply removes what Longshore set before and no longer sets.
    assert_eq!(
        container["env"],
        json!([{"name": "DB_HOST", "value": "db.platform.svc"}])
    );
    assert_eq!(record(&bench, "42").await.unwrap().image, "app:v2");
}

#[path = "apps/rollout.rs"]
mod rollout;

#[path = "apps/lifecycle.rs"]
mod lifecycle;

#[path = "apps/runtime.rs"]
mod runtime;
