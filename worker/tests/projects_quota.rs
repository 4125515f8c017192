//! The reference's quota rules read back from the cluster after real jobs: the three
//! GPU scenarios, the h100 and l4 examples, and partial updates that leave every field
//! not given as it was.

mod provisioning;
mod support;

use longshore_shared::job::Outcome;
use provisioning::*;
use serde_json::json;
use support::Bench;

#[tokio::test]
async fn the_references_create_body_sets_cpu_memory_storage_and_l4() {
    let bench = Bench::start().await;
    let body = json!({"owner_email": "user@example.com", "cpu_limit": "4", "memory_limit": "8",
                      "storage_size": "20", "resources": {L4: "1"}});
    bench.run(&create(body)).await.unwrap();
    assert_eq!(
        hard(&bench, "user-example-com"),
        quota(&[
            ("cpu", "4"),
            ("memory", "8Gi"),
            ("requests.storage", "20Gi"),
            (GPU, "0"),
            (L4, "1")
        ])
    );
}

#[tokio::test]
async fn scenario_1_asking_only_for_l4_zeroes_the_other_configured_gpus() {
    let bench = Bench::with_config(config_with_gpus(&[GPU, L4, T4])).await;
    bench
        .run(&create(
            json!({"owner_email": "user@example.com", "resources": {L4: "2"}}),
        ))
        .await
        .unwrap();
    let hard = hard(&bench, "user-example-com");
    assert_eq!(
        (hard[GPU].as_str(), hard[L4].as_str(), hard[T4].as_str()),
        ("0", "2", "0")
    );
}

#[tokio::test]
async fn scenario_2_several_gpu_types_keep_their_explicit_values() {
    let bench = Bench::with_config(config_with_gpus(&[GPU, L4, T4])).await;
    let body = json!({"owner_email": "user@example.com", "resources": {L4: "2", H100: "1"}});
    bench.run(&create(body)).await.unwrap();
    let hard = hard(&bench, "user-example-com");
    assert_eq!(
        [&hard[GPU], &hard[L4], &hard[T4], &hard[H100]].map(String::as_str),
        ["0", "2", "0", "1"]
    );
}

#[tokio::test]
async fn scenario_3_other_resource_keys_leave_gpu_quota_untouched() {
    let bench = Bench::with_config(config_with_gpus(&[GPU, L4, T4])).await;
    bench
        .run(&create(
            json!({"owner_email": "user@example.com", "resources": {L4: "2", T4: "1"}}),
        ))
        .await
        .unwrap();
    let before = hard(&bench, "user-example-com");
    let body = json!({"name": "user-example-com", "resources": {"persistentvolumeclaims": "5", "services": "10"}});
    bench.run(&update(body)).await.unwrap();
    let mut expected = before.clone();
    expected.insert("persistentvolumeclaims".into(), "5".into());
    expected.insert("services".into(), "10".into());
    assert_eq!(hard(&bench, "user-example-com"), expected);
    assert_eq!((expected[L4].as_str(), expected[T4].as_str()), ("2", "1"));
}

#[tokio::test]
async fn a_cpu_only_update_leaves_memory_storage_and_gpus_as_they_were() {
    let bench = Bench::start().await;
    let body =
        json!({"owner_email": "user@example.com", "memory_limit": "8", "resources": {L4: "1"}});
    bench.run(&create(body)).await.unwrap();
    bench
        .run(&update(
            json!({"name": "user-example-com", "cpu_limit": "16"}),
        ))
        .await
        .unwrap();
    assert_eq!(
        hard(&bench, "user-example-com"),
        quota(&[
            ("cpu", "16"),
            ("memory", "8Gi"),
            ("requests.storage", "10Gi"),
            (GPU, "0"),
            (L4, "1")
        ])
    );
}

#[tokio::test]
async fn the_h100_example_zeroes_every_configured_gpu_key() {
    let bench = Bench::with_config(config_with_gpus(&[GPU, L4])).await;
    bench
        .run(&create(
            json!({"owner_email": "user@example.com", "resources": {GPU: "1", L4: "2"}}),
        ))
        .await
        .unwrap();
    bench
        .run(&update(
            json!({"name": "user-example-com", "resources": {H100: "1"}}),
        ))
        .await
        .unwrap();
    let hard = hard(&bench, "user-example-com");
    assert_eq!(
        [&hard[GPU], &hard[L4], &hard[H100]].map(String::as_str),
        ["0", "0", "1"]
    );
}

#[tokio::test]
async fn updating_l4_zeroes_the_other_gpus_as_the_faq_states() {
    let bench = Bench::with_config(config_with_gpus(&[GPU, L4, T4])).await;
    bench
        .run(&create(
            json!({"owner_email": "user@example.com", "resources": {GPU: "1", T4: "3"}}),
        ))
        .await
        .unwrap();
    bench
        .run(&update(
            json!({"name": "user-example-com", "resources": {L4: "2"}}),
        ))
        .await
        .unwrap();
    let hard = hard(&bench, "user-example-com");
    assert_eq!(
        [&hard[GPU], &hard[L4], &hard[T4]].map(String::as_str),
        ["0", "2", "0"]
    );
}

#[tokio::test]
async fn the_references_update_example_changes_cpu_memory_and_l4_only() {
    let bench = Bench::start().await;
    bench
        .run(&create(
            json!({"owner_email": "user@example.com", "storage_size": "30"}),
        ))
        .await
        .unwrap();
    let body = json!({"name": "user-example-com", "cpu_limit": "8", "memory_limit": "16", "resources": {L4: "2"}});
    let done = bench.run(&update(body)).await.unwrap();
    let expected = quota(&[
        ("cpu", "8"),
        ("memory", "16Gi"),
        ("requests.storage", "30Gi"),
        (GPU, "0"),
        (L4, "2"),
    ]);
    assert_eq!(hard(&bench, "user-example-com"), expected);
    assert!(matches!(done, Outcome::Done(ref v) if v["resources"] == json!(expected)));
    let record = bench
        .services
        .store
        .project("user-example-com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.resources, json!(expected));
}

#[tokio::test]
async fn parallel_updates_of_one_project_both_land() {
    let bench = Bench::start().await;
    bench
        .run(&create(json!({"owner_email": "user@example.com"})))
        .await
        .unwrap();
    let cpu = update(json!({"name": "user-example-com", "cpu_limit": "8"}));
    let memory = update(json!({"name": "user-example-com", "memory_limit": "16"}));
    let gpus = update(json!({"name": "user-example-com", "resources": {L4: "2"}}));
    let (a, b, c) = tokio::join!(bench.run(&cpu), bench.run(&memory), bench.run(&gpus));
    for result in [a, b, c] {
        result.expect("every update succeeds");
    }
    assert_eq!(
        hard(&bench, "user-example-com"),
        quota(&[
            ("cpu", "8"),
            ("memory", "16Gi"),
            ("requests.storage", "10Gi"),
            (GPU, "0"),
            (L4, "2")
        ])
    );
}

#[tokio::test]
async fn a_quota_write_that_meets_a_conflict_merges_again_on_a_fresh_read() {
    let bench = Bench::start().await;
    bench
        .run(&create(json!({"owner_email": "user@example.com"})))
        .await
        .unwrap();
    let path = "/apis/kubeflow.org/v1/profiles/user-example-com";
    bench
        .kube
        .fail_next(longshore_memkube::FailRule::new("PATCH", path, 409).times(2));
    bench.kube.clear_request_log();
    bench
        .run(&update(
            json!({"name": "user-example-com", "cpu_limit": "6"}),
        ))
        .await
        .unwrap();
    assert_eq!(hard(&bench, "user-example-com")["cpu"], "6");
    let patches: Vec<u16> = bench
        .kube
        .request_log()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.status)
        .collect();
    assert_eq!(patches, [409, 409, 200]);
}
