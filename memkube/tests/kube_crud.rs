//! CRUD, selectors, paging, conflicts and namespaces through the real kube-rs client.

mod common;

use common::{client, config_map, create_namespace, resource_version, start};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn config_maps_can_be_created_read_replaced_and_deleted() {
    let kube = start().await;
    let client = client(&kube);
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    let created = api
        .create(
            &PostParams::default(),
            &config_map("settings", json!({}), json!({"a": "1"})),
        )
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some());
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.namespace.as_deref(), Some("default"));

    let mut fetched = api.get("settings").await.unwrap();
    assert_eq!(fetched.data.as_ref().unwrap()["a"], "1");

    fetched
        .data
        .as_mut()
        .unwrap()
        .insert("a".into(), "2".into());
    let replaced = api
        .replace("settings", &PostParams::default(), &fetched)
        .await
        .unwrap();
    assert_ne!(resource_version(&replaced), resource_version(&created));
    assert_eq!(replaced.metadata.uid, created.metadata.uid);

    api.delete("settings", &DeleteParams::default())
        .await
        .unwrap();
    let err = api.get("settings").await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("expected an API error, got {err:?}");
    };
    assert_eq!(status.code, 404);
    assert_eq!(status.reason, "NotFound");
    assert_eq!(status.message, "configmaps \"settings\" not found");
}

#[tokio::test]
async fn creating_an_existing_name_is_rejected_as_already_exists() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let cm = config_map("dup", json!({}), json!({}));
    api.create(&PostParams::default(), &cm).await.unwrap();
    let err = api.create(&PostParams::default(), &cm).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists")
    );
}

#[tokio::test]
async fn generate_name_gets_a_random_suffix_and_dry_run_stores_nothing() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let mut cm = config_map("", json!({}), json!({}));
    cm.metadata.name = None;
    cm.metadata.generate_name = Some("job-".into());
    let created = api.create(&PostParams::default(), &cm).await.unwrap();
    let name = created.metadata.name.unwrap();
    assert!(name.starts_with("job-") && name.len() == 9, "{name}");

    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    api.create(&dry, &config_map("ghost", json!({}), json!({})))
        .await
        .unwrap();
    assert!(
        kube.get("v1", "configmaps", Some("default"), "ghost")
            .is_none()
    );
}

#[tokio::test]
async fn a_stale_resource_version_is_a_conflict() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let first = api
        .create(
            &PostParams::default(),
            &config_map("race", json!({}), json!({"v": "1"})),
        )
        .await
        .unwrap();
    let mut winner = first.clone();
    winner.data = Some([("v".to_string(), "2".to_string())].into());
    api.replace("race", &PostParams::default(), &winner)
        .await
        .unwrap();

    let mut loser = first;
    loser.data = Some([("v".to_string(), "3".to_string())].into());
    let err = api
        .replace("race", &PostParams::default(), &loser)
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(status.message.contains("the object has been modified"));
    assert_eq!(
        api.get("race").await.unwrap().data.unwrap()["v"],
        "2",
        "the losing write must not land"
    );
}

#[tokio::test]
async fn label_selectors_filter_lists() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    for (name, labels) in [
        ("web", json!({"app": "web", "tier": "front"})),
        ("api", json!({"app": "api", "tier": "back"})),
        ("db", json!({"app": "db"})),
    ] {
        api.create(&PostParams::default(), &config_map(name, labels, json!({})))
            .await
            .unwrap();
    }
    let names = |list: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        list.items
            .into_iter()
            .map(|cm| cm.metadata.name.unwrap())
            .collect()
    };
    let select = |selector: &str| ListParams::default().labels(selector);
    assert_eq!(names(api.list(&select("app=web")).await.unwrap()), ["web"]);
    assert_eq!(
        names(api.list(&select("app in (api,db)")).await.unwrap()),
        ["api", "db"]
    );
    assert_eq!(names(api.list(&select("!tier")).await.unwrap()), ["db"]);
    assert_eq!(
        names(api.list(&select("tier,app!=web")).await.unwrap()),
        ["api"]
    );
    let by_name = ListParams::default().fields("metadata.name=db");
    assert_eq!(names(api.list(&by_name).await.unwrap()), ["db"]);
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    for i in 0..5 {
        api.create(
            &PostParams::default(),
            &config_map(&format!("page-{i}"), json!({}), json!({})),
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(2);
    let mut pages = 0;
    loop {
        let page = api.list(&params).await.unwrap();
        pages += 1;
        assert_eq!(
            page.metadata.resource_version,
            Some(kube.resource_version().to_string())
        );
        seen.extend(page.items.into_iter().map(|cm| cm.metadata.name.unwrap()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["page-0", "page-1", "page-2", "page-3", "page-4"]);
}

#[tokio::test]
async fn namespaced_objects_need_their_namespace_and_deleting_it_cascades() {
    let kube = start().await;
    let client = client(&kube);
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let err = api
        .create(
            &PostParams::default(),
            &config_map("x", json!({}), json!({})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(status.code, 404);
    assert_eq!(status.message, "namespaces \"team-a\" not found");

    let namespace = create_namespace(&client, "team-a").await;
    assert_eq!(
        namespace.status.unwrap().phase.as_deref(),
        Some("Active"),
        "namespaces are Active at once"
    );
    api.create(
        &PostParams::default(),
        &config_map("x", json!({}), json!({})),
    )
    .await
    .unwrap();

    let namespaces: Api<Namespace> = Api::all(client);
    namespaces
        .delete("team-a", &DeleteParams::default())
        .await
        .unwrap();
    assert!(kube.get("v1", "namespaces", None, "team-a").is_none());
    assert!(kube.list("v1", "configmaps", Some("team-a")).is_empty());
}

#[tokio::test]
async fn invalid_names_are_rejected_with_a_field_cause() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let err = api
        .create(
            &PostParams::default(),
            &config_map("Not_Valid", json!({}), json!({})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status
            .message
            .starts_with("ConfigMap \"Not_Valid\" is invalid: metadata.name")
    );
}

#[tokio::test]
async fn deployments_track_generation_only_on_spec_changes() {
    let kube = start().await;
    let api: Api<Deployment> = Api::namespaced(client(&kube), "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "nginx:1" }] }
            }
        }
    }))
    .unwrap();
    let created = api
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));

    let mut labelled = api.get("web").await.unwrap();
    labelled
        .metadata
        .labels
        .get_or_insert_default()
        .insert("team".into(), "a".into());
    let labelled = api
        .replace("web", &PostParams::default(), &labelled)
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));

    let mut scaled = labelled;
    scaled.spec.replicas = Some(3);
    let scaled = api
        .replace("web", &PostParams::default(), &scaled)
        .await
        .unwrap();
    assert_eq!(scaled.metadata.generation, Some(2));
}

#[tokio::test]
async fn writes_record_the_field_manager_in_managed_fields() {
    let kube = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&kube), "default");
    let params = PostParams {
        field_manager: Some("longshore".into()),
        ..Default::default()
    };
    let created = api
        .create(&params, &config_map("owned", json!({}), json!({"k": "v"})))
        .await
        .unwrap();
    let entries = created.metadata.managed_fields.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].manager.as_deref(), Some("longshore"));
    assert_eq!(entries[0].operation.as_deref(), Some("Update"));
    assert_eq!(entries[0].fields_type.as_deref(), Some("FieldsV1"));
    let fields = &entries[0].fields_v1.as_ref().unwrap().0;
    assert_eq!(fields["f:data"]["f:k"], json!({}));

    let log = kube.request_log();
    let post = log.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.field_manager.as_deref(), Some("longshore"));
    assert_eq!(post.status, 201);
}
