//! CRDs, discovery, watches and fault injection through the real kube-rs client.

mod common;

use std::time::Duration;

use common::{client, config_map, start};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, WatchEvent};
use kube::discovery::Discovery;
use kube::runtime::{conditions, wait::await_condition, watcher};
use kube::{Config, CustomResource, ResourceExt};
use longshore_memkube::{FailRule, MemKube};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default)]
#[kube(
    group = "kubeflow.org",
    version = "v1",
    kind = "Profile",
    schema = "disabled"
)]
pub struct ProfileSpec {
    pub owner: serde_json::Value,
}

fn profile_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "metadata": { "name": "profiles.kubeflow.org" },
        "spec": {
            "group": "kubeflow.org",
            "scope": "Cluster",
            "names": { "kind": "Profile", "plural": "profiles", "singular": "profile", "listKind": "ProfileList" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } },
                "subresources": { "status": {} }
            }]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn registering_a_crd_makes_its_cluster_scoped_kind_servable() {
    let kube = MemKube::builder().start().await.unwrap();
    let client = client(&kube);
    let profiles: Api<Profile> = Api::all(client.clone());
    assert!(profiles.list(&Default::default()).await.is_err());

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &profile_crd())
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(
            crds.clone(),
            "profiles.kubeflow.org",
            conditions::is_crd_established(),
        ),
    )
    .await
    .unwrap()
    .unwrap();

    let alice = Profile::new(
        "alice",
        ProfileSpec {
            owner: json!({"kind": "User", "name": "alice@example.com"}),
        },
    );
    profiles
        .patch(
            "alice",
            &PatchParams::apply("longshore").force(),
            &Patch::Apply(&alice),
        )
        .await
        .unwrap();
    let stored = kube
        .get("kubeflow.org/v1", "profiles", None, "alice")
        .unwrap();
    assert!(stored["metadata"]["namespace"].is_null(), "cluster-scoped");
    assert_eq!(stored["spec"]["owner"]["name"], "alice@example.com");

    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let (resource, capabilities) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(r, _)| r.kind == "Profile")
        .expect("discovery lists Profile");
    assert_eq!(capabilities.scope, kube::discovery::Scope::Cluster);
    let dynamic: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    assert_eq!(dynamic.get("alice").await.unwrap().name_any(), "alice");

    crds.delete("profiles.kubeflow.org", &DeleteParams::default())
        .await
        .unwrap();
    assert!(profiles.get("alice").await.is_err(), "no longer served");
}

#[tokio::test]
async fn watcher_sees_added_modified_and_deleted() {
    assert_watcher_sees_changes(watcher::Config::default()).await;
}

#[tokio::test]
async fn watcher_with_streaming_lists_sees_added_modified_and_deleted() {
    assert_watcher_sees_changes(watcher::Config::default().streaming_lists()).await;
}

async fn assert_watcher_sees_changes(config: watcher::Config) {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    kube.put(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "existing", "namespace": "default" },
    }));
    let mut events = watcher(api.clone(), config).boxed();
    let mut initial = Vec::new();
    // The initial listing ends before any change is made.
    loop {
        match events.try_next().await.unwrap().unwrap() {
            watcher::Event::InitApply(cm) => initial.push(cm.name_any()),
            watcher::Event::InitDone => break,
            _ => continue,
        }
    }
    assert_eq!(initial, ["existing"]);
    let cm = config_map("watched", json!({}), json!({"v": "1"}));
    api.create(&PostParams::default(), &cm).await.unwrap();
    api.patch(
        "watched",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .unwrap();
    api.delete("watched", &DeleteParams::default())
        .await
        .unwrap();

    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .expect("event within 5s")
            .unwrap()
            .unwrap();
        match event {
            watcher::Event::Apply(cm) => seen.push(format!(
                "apply v={}",
                cm.data
                    .unwrap_or_default()
                    .get("v")
                    .cloned()
                    .unwrap_or_default()
            )),
            watcher::Event::Delete(cm) => seen.push(format!("delete {}", cm.name_any())),
            _ => {}
        }
    }
    assert_eq!(seen, ["apply v=1", "apply v=2", "delete watched"]);
}

#[tokio::test]
async fn a_watch_from_a_recent_resource_version_replays_and_an_old_one_is_gone() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let start_rv = kube.resource_version().to_string();
    for name in ["one", "two"] {
        api.create(
            &PostParams::default(),
            &config_map(name, json!({}), json!({})),
        )
        .await
        .unwrap();
    }
    let params = kube::api::WatchParams::default().timeout(2);
    let replayed: Vec<String> = api
        .watch(&params, &start_rv)
        .await
        .unwrap()
        .take(2)
        .map(|event| match event.unwrap() {
            WatchEvent::Added(cm) => cm.name_any(),
            other => panic!("expected ADDED, got {other:?}"),
        })
        .collect()
        .await;
    assert_eq!(replayed, ["one", "two"]);

    // Push the start out of the bounded history.
    for i in 0..9000 {
        kube.put(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": "churn", "namespace": "default" },
            "data": { "i": i.to_string() },
        }));
    }
    let first = api
        .watch(&params, &start_rv)
        .await
        .unwrap()
        .boxed()
        .next()
        .await
        .unwrap()
        .unwrap();
    let WatchEvent::Error(status) = first else {
        panic!("expected a 410 error event, got {first:?}");
    };
    assert_eq!(status.code, 410);
    assert!(status.message.starts_with("too old resource version"));
}

#[tokio::test]
async fn injected_faults_answer_with_the_requested_status() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    api.create(
        &PostParams::default(),
        &config_map("target", json!({}), json!({})),
    )
    .await
    .unwrap();
    let path = "/api/v1/namespaces/default/configmaps/target";

    for (code, reason) in [(409, "Conflict"), (500, "InternalError")] {
        kube.fail_next(FailRule::new("GET", path, code));
        let err = api.get("target").await.unwrap_err();
        let kube::Error::Api(status) = err else {
            panic!("{err:?}")
        };
        assert_eq!((status.code, status.reason.as_str()), (code, reason));
    }
    assert!(api.get("target").await.is_ok(), "rules fire only once");

    // kube-rs retries 429/503/504 by itself; without that layer the status surfaces.
    let mut config = Config::new(kube.url().parse().unwrap());
    config.default_retry = false;
    let no_retry: Api<ConfigMap> =
        Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
    kube.fail_next(FailRule::new("PATCH", path, 429).retry_after(3));
    let err = no_retry
        .patch(
            "target",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"x": "y"}})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (status.code, status.reason.as_str()),
        (429, "TooManyRequests")
    );
    assert!(
        kube.get("v1", "configmaps", Some("default"), "target")
            .unwrap()["data"]
            .get("x")
            .is_none(),
        "a failed write changes nothing"
    );
}

#[tokio::test]
async fn a_transient_503_is_retried_by_the_kube_client() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let path = "/api/v1/namespaces/default/configmaps/flaky";
    kube.fail_next(FailRule::new("GET", path, 503));
    assert!(api.get_opt("flaky").await.unwrap().is_none());
    let statuses: Vec<u16> = kube
        .request_log()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 404]);
}
