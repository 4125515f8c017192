//! Discovery, health endpoints, no-op updates and concurrent clients.

mod common;

use common::{client, config_map, resource_version, start};
use futures::future::join_all;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::discovery::{Discovery, verbs};
use serde_json::json;

#[tokio::test]
async fn discovery_describes_built_in_types_and_their_subresources() {
    let kube = start().await;
    let client = client(&kube);
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "32")
    );

    let core = client.list_core_api_resources("v1").await.unwrap();
    let config_maps = core
        .resources
        .iter()
        .find(|r| r.name == "configmaps")
        .unwrap();
    assert!(config_maps.namespaced);
    assert_eq!(
        config_maps.short_names.as_deref(),
        Some(&["cm".to_string()][..])
    );
    let namespaces = core
        .resources
        .iter()
        .find(|r| r.name == "namespaces")
        .unwrap();
    assert!(!namespaces.namespaced);

    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let apps = discovery.get("apps").expect("apps group");
    let (deployments, caps) = apps
        .recommended_resources()
        .into_iter()
        .find(|(r, _)| r.kind == "Deployment")
        .unwrap();
    assert_eq!(deployments.plural, "deployments");
    assert!(caps.supports_operation(verbs::WATCH));
    assert!(caps.subresources.iter().any(|(r, _)| r.plural == "status"));
    assert!(discovery.has_group("networking.k8s.io"));
    assert!(discovery.has_group("rbac.authorization.k8s.io"));
}

#[tokio::test]
async fn health_endpoints_answer_ok() {
    let kube = start().await;
    let client = client(&kube);
    for path in ["/healthz", "/readyz", "/livez"] {
        let request = http::Request::get(path).body(Vec::new()).unwrap();
        assert_eq!(client.request_text(request).await.unwrap(), "ok");
    }
}

#[tokio::test]
async fn replacing_with_an_identical_object_changes_nothing() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let created = api
        .create(
            &PostParams::default(),
            &config_map("same", json!({"a": "b"}), json!({"k": "v"})),
        )
        .await
        .unwrap();
    let before = kube.resource_version();
    let replaced = api
        .replace("same", &PostParams::default(), &created)
        .await
        .unwrap();
    assert_eq!(resource_version(&replaced), resource_version(&created));
    assert_eq!(kube.resource_version(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_can_write_at_once() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let writes = (0..64).map(|i| {
        let api = api.clone();
        async move {
            api.create(
                &PostParams::default(),
                &config_map(&format!("c-{i}"), json!({}), json!({"i": i.to_string()})),
            )
            .await
        }
    });
    let results = join_all(writes).await;
    assert!(results.iter().all(Result::is_ok));
    let mut versions: Vec<u64> = results
        .into_iter()
        .map(|r| resource_version(&r.unwrap()).parse().unwrap())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(
        versions.len(),
        64,
        "every write got its own resourceVersion"
    );
    assert_eq!(kube.list("v1", "configmaps", Some("default")).len(), 64);
}

#[tokio::test]
async fn a_client_built_from_the_written_kubeconfig_reaches_the_server() {
    let kube = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    kube.write_kubeconfig(&path).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    assert_eq!(config.default_namespace, "default");
    let client = kube::Client::try_from(config).unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(
        &PostParams::default(),
        &config_map("via-kubeconfig", json!({}), json!({})),
    )
    .await
    .unwrap();
    let log = kube.request_log();
    let post = log.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.path, "/api/v1/namespaces/default/configmaps");
}
