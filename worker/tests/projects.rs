//! Project handlers against the in-memory Kubernetes API through the real client: the
//! Profile (or plain namespace, quota and binding) each command leaves, names and their
//! collisions, deletes, and re-runs that change nothing.

mod provisioning;
mod support;

use longshore_shared::job::{Failure, Outcome};
use provisioning::*;
use serde_json::{Value, json};
use support::Bench;

#[tokio::test]
async fn creating_a_project_makes_a_profile_owned_by_the_email_with_the_default_quota() {
    let bench = Bench::start().await;
    let done = bench
        .run(&create(json!({"owner_email": "John.Doe@Company.com"})))
        .await
        .unwrap();

    let profile = profile(&bench, "john-doe-company-com").expect("named from the email");
    assert_eq!(
        profile["spec"]["owner"],
        json!({"kind": "User", "name": "john.doe@company.com"})
    );
    let expected = quota(&[
        ("cpu", "2"),
        ("memory", "4Gi"),
        ("requests.storage", "10Gi"),
        (GPU, "0"),
        (L4, "0"),
    ]);
    assert_eq!(hard(&bench, "john-doe-company-com"), expected);
    // Longshore applies the spec; the profile controller (`manager`) only adds its
    // finalizer.
    let appliers: Vec<&str> = profile["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["operation"] == "Apply")
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(appliers, ["longshore"]);
    let namespace = bench
        .kube
        .get("v1", "namespaces", None, "john-doe-company-com")
        .expect("the profile controller made the namespace before the job ended");
    assert_eq!(
        namespace["metadata"]["annotations"]["owner"],
        "john.doe@company.com"
    );
    let kf_quota = bench
        .kube
        .get(
            "v1",
            "resourcequotas",
            Some("john-doe-company-com"),
            "kf-resource-quota",
        )
        .expect("and its quota");
    assert_eq!(kf_quota["spec"]["hard"]["memory"], "4Gi");

    let Outcome::Done(result) = done else {
        panic!("done at once")
    };
    assert_eq!(result["name"], "john-doe-company-com");
    assert_eq!(result["namespace"], "john-doe-company-com");
    assert_eq!(result["owner"], "john.doe@company.com");
    assert_eq!(result["resources"], json!(expected));

    let record = bench
        .services
        .store
        .project("john-doe-company-com")
        .await
        .unwrap()
        .expect("read model");
    assert_eq!(record.owner, "john.doe@company.com");
    assert_eq!(record.namespace, "john-doe-company-com");
    assert_eq!(record.backend, "kubeflow");
    assert_eq!(record.resources, json!(expected));
}

#[tokio::test]
async fn running_the_same_create_or_update_again_leaves_the_profile_untouched() {
    let bench = Bench::start().await;
    let command = create(json!({"owner_email": "user@example.com", "resources": {L4: "2"}}));
    bench.run(&command).await.unwrap();
    let version = profile_version(&bench, "user-example-com");
    let again = bench.run(&command).await.unwrap();
    assert!(
        matches!(again, Outcome::Done(ref v) if v["changed"] == false),
        "{again:?}"
    );
    assert_eq!(profile_version(&bench, "user-example-com"), version);

    let change = update(json!({"name": "user-example-com", "cpu_limit": "8"}));
    bench.run(&change).await.unwrap();
    let version = profile_version(&bench, "user-example-com");
    bench.kube.clear_request_log();
    bench.run(&change).await.unwrap();
    assert_eq!(profile_version(&bench, "user-example-com"), version);
    assert!(
        bench.kube.request_log().iter().all(|r| !r.is_write()),
        "a re-run only reads"
    );
}

#[tokio::test]
async fn updating_a_missing_project_fails_permanently() {
    let bench = Bench::start().await;
    let err = bench
        .run(&update(json!({"name": "ghost", "cpu_limit": "1"})))
        .await
        .unwrap_err();
    assert_eq!(err, Failure::Permanent("no project ghost".into()));
}

#[tokio::test]
async fn deleting_removes_the_profile_and_a_missing_project_is_already_deleted() {
    let bench = Bench::start().await;
    bench
        .run(&create(json!({"owner_email": "user@example.com"})))
        .await
        .unwrap();
    assert!(
        bench
            .kube
            .get("v1", "namespaces", None, "user-example-com")
            .is_some()
    );
    let done = bench.run(&delete("user-example-com")).await.unwrap();
    assert!(matches!(done, Outcome::Done(ref v) if v["deleted"] == true));
    assert!(profile(&bench, "user-example-com").is_none());
    assert!(
        bench
            .kube
            .get("v1", "namespaces", None, "user-example-com")
            .is_none(),
        "the job ends once the namespace has gone with its Profile"
    );
    assert!(
        bench
            .services
            .store
            .project("user-example-com")
            .await
            .unwrap()
            .is_none()
    );
    let again = bench.run(&delete("user-example-com")).await.unwrap();
    assert!(matches!(again, Outcome::Done(ref v) if v["deleted"] == false));
}

#[tokio::test]
async fn a_derived_name_owned_by_another_email_gets_the_deterministic_suffix() {
    let bench = Bench::start().await;
    bench
        .run(&create(json!({"owner_email": "a.b@x.com"})))
        .await
        .unwrap();
    let done = bench
        .run(&create(json!({"owner_email": "a-b@x.com"})))
        .await
        .unwrap();
    let Outcome::Done(result) = done else {
        panic!("done")
    };
    let name = result["name"].as_str().unwrap().to_owned();
    assert!(
        name.starts_with("a-b-x-com-") && name.len() == "a-b-x-com-".len() + 4,
        "{name}"
    );
    assert_eq!(
        profile(&bench, &name).unwrap()["spec"]["owner"]["name"],
        "a-b@x.com"
    );
    assert_eq!(
        profile(&bench, "a-b-x-com").unwrap()["spec"]["owner"]["name"],
        "a.b@x.com"
    );

    let version = profile_version(&bench, &name);
    let again = bench
        .run(&create(json!({"owner_email": "a-b@x.com"})))
        .await
        .unwrap();
    assert!(matches!(again, Outcome::Done(ref v) if v["name"] == name.as_str()));
    assert_eq!(profile_version(&bench, &name), version);

    let taken = bench
        .run(&create(
            json!({"owner_email": "c@x.com", "name": "a-b-x-com"}),
        ))
        .await;
    assert!(matches!(taken, Err(Failure::Permanent(m)) if m.contains("another owner")));
}

#[tokio::test]
async fn kubectl_reads_the_profile_a_job_created() {
    let bench = Bench::start().await;
    bench
        .run(&create(
            json!({"owner_email": "kate@example.com", "cpu_limit": 3}),
        ))
        .await
        .unwrap();
    let out = kubectl(
        &bench,
        &["get", "profile", "kate-example-com", "-o", "json"],
    )
    .await;
    let profile: Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(profile["spec"]["owner"]["name"], "kate@example.com");
    assert_eq!(profile["spec"]["resourceQuotaSpec"]["hard"]["cpu"], "3");
}

#[tokio::test]
async fn the_plain_backend_makes_a_namespace_quota_and_owner_binding() {
    let bench = Bench::with_config(plain_config()).await;
    let body = json!({"owner_email": "user@example.com", "cpu_limit": "4", "resources": {L4: "1"}});
    bench.run(&create(body)).await.unwrap();

    let namespace = bench
        .kube
        .get("v1", "namespaces", None, "user-example-com")
        .expect("namespace");
    assert_eq!(
        namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "longshore"
    );
    assert_eq!(
        namespace["metadata"]["annotations"]["longshore.dev/owner"],
        "user@example.com"
    );
    let rq = bench
        .kube
        .get(
            "v1",
            "resourcequotas",
            Some("user-example-com"),
            "longshore-quota",
        )
        .expect("quota");
    assert_eq!(
        rq["spec"]["hard"],
        json!({"cpu": "4", "memory": "4Gi", "requests.storage": "10Gi", GPU: "0", L4: "1"})
    );
    let rb = bench
        .kube
        .get(
            "rbac.authorization.k8s.io/v1",
            "rolebindings",
            Some("user-example-com"),
            "longshore-owner",
        )
        .expect("binding");
    assert_eq!(
        rb["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"})
    );
    assert_eq!(
        rb["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "user@example.com"}])
    );
    assert_eq!(
        bench
            .services
            .store
            .project("user-example-com")
            .await
            .unwrap()
            .unwrap()
            .backend,
        "plain"
    );

    let versions = |bench: &Bench| {
        [
            bench.resource_version("v1", "namespaces", None, "user-example-com"),
            bench.resource_version(
                "v1",
                "resourcequotas",
                Some("user-example-com"),
                "longshore-quota",
            ),
            bench.resource_version(
                "rbac.authorization.k8s.io/v1",
                "rolebindings",
                Some("user-example-com"),
                "longshore-owner",
            ),
        ]
    };
    let before = versions(&bench);
    bench
        .run(&create(
            json!({"owner_email": "user@example.com", "cpu_limit": "4", "resources": {L4: "1"}}),
        ))
        .await
        .unwrap();
    assert_eq!(versions(&bench), before, "a re-run changes nothing");
}

#[tokio::test]
async fn the_plain_backend_updates_the_quota_and_deletes_the_namespace() {
    let bench = Bench::with_config(plain_config()).await;
    bench
        .run(&create(
            json!({"owner_email": "user@example.com", "resources": {L4: "2"}}),
        ))
        .await
        .unwrap();
    bench.run(&update(json!({"name": "user-example-com", "memory_limit": 32, "resources": {"services": "10"}}))).await.unwrap();
    let rq = bench
        .kube
        .get(
            "v1",
            "resourcequotas",
            Some("user-example-com"),
            "longshore-quota",
        )
        .unwrap();
    assert_eq!(
        rq["spec"]["hard"],
        json!({"cpu": "2", "memory": "32Gi", "requests.storage": "10Gi", GPU: "0", L4: "2", "services": "10"})
    );
    bench.run(&delete("user-example-com")).await.unwrap();
    assert!(
        bench
            .kube
            .get("v1", "namespaces", None, "user-example-com")
            .is_none()
    );
    assert!(
        bench
            .kube
            .get(
                "v1",
                "resourcequotas",
                Some("user-example-com"),
                "longshore-quota"
            )
            .is_none()
    );
}

#[tokio::test]
async fn the_plain_backend_never_touches_a_namespace_it_did_not_make() {
    let bench = Bench::with_config(plain_config()).await;
    bench.kube.put(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "user-example-com"}}),
    );
    let err = bench.run(&delete("user-example-com")).await.unwrap_err();
    assert!(
        matches!(&err, Failure::Permanent(m) if m.contains("not a Longshore project")),
        "{err:?}"
    );
    assert!(
        bench
            .kube
            .get("v1", "namespaces", None, "user-example-com")
            .is_some()
    );
    let err = bench
        .run(&update(
            json!({"name": "user-example-com", "cpu_limit": "1"}),
        ))
        .await
        .unwrap_err();
    assert!(err.is_permanent());

    let done = bench
        .run(&create(json!({"owner_email": "user@example.com"})))
        .await
        .unwrap();
    let Outcome::Done(result) = done else {
        panic!("done")
    };
    assert_ne!(
        result["name"], "user-example-com",
        "the suffixed name is used"
    );
    let foreign = bench
        .kube
        .get("v1", "namespaces", None, "user-example-com")
        .unwrap();
    assert!(
        foreign["metadata"]["labels"].is_null(),
        "the foreign namespace is left as it was"
    );
}

#[tokio::test]
async fn a_namespace_made_by_hand_is_never_handed_to_a_profile() {
    let bench = Bench::start().await;
    bench.kube.put(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "user-example-com"},
    }));
    let done = bench
        .run(&create(json!({"owner_email": "user@example.com"})))
        .await
        .unwrap();
    let Outcome::Done(result) = done else {
        panic!("done")
    };
    let name = result["name"].as_str().unwrap();
    assert!(name.starts_with("user-example-com-"), "{name}");
    assert!(profile(&bench, "user-example-com").is_none());

    let named = bench
        .run(&create(
            json!({"owner_email": "user@example.com", "name": "user-example-com"}),
        ))
        .await;
    assert!(
        matches!(named, Err(Failure::Permanent(ref m)) if m.contains("another owner")),
        "{named:?}"
    );

    let deleted = bench.run(&delete("user-example-com")).await.unwrap();
    assert!(
        matches!(deleted, Outcome::Done(ref v) if v["deleted"] == false),
        "{deleted:?}"
    );
    assert!(
        bench
            .kube
            .get("v1", "namespaces", None, "user-example-com")
            .is_some(),
        "a namespace no Profile owns is not waited for, nor removed"
    );
}

#[tokio::test]
async fn without_the_profile_controller_a_create_times_out_and_leaves_the_profile() {
    let mut config = longshore_shared::config::Config::default();
    config.projects.profile_timeout_secs = 1;
    config.projects.profile_check_ms = 100;
    let bench = Bench::with_controllers(config, false).await;
    let err = bench
        .run(&create(json!({"owner_email": "user@example.com"})))
        .await
        .unwrap_err();
    let Failure::Permanent(message) = err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("did not make namespace user-example-com within 1s"),
        "{message}"
    );
    assert!(
        profile(&bench, "user-example-com").is_some(),
        "not re-created, not removed"
    );
}

#[tokio::test]
async fn the_controllers_failed_condition_fails_the_job_with_its_message() {
    let bench = Bench::with_controllers(Default::default(), false).await;
    bench.kube.put(json!({
        "apiVersion": "kubeflow.org/v1",
        "kind": "Profile",
        "metadata": {"name": "user-example-com"},
        "spec": {"owner": {"kind": "User", "name": "user@example.com"}},
        "status": {"conditions": [{
            "type": "Failed",
            "status": "True",
            "message": "namespace already exist, but not owned by profile creator user@example.com",
        }]},
    }));
    let err = bench
        .run(&create(json!({"owner_email": "user@example.com"})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Failure::Permanent(ref m) if m.contains("refused Profile user-example-com: namespace already exist")),
        "{err:?}"
    );
}
