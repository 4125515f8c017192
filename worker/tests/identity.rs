//! Identity handlers against the in-memory Kubernetes API through the real client:
//! what lands in Dex's configuration, when Dex restarts, and what re-runs, conflicts
//! and parallel jobs do.

mod provisioning;
mod support;

use longshore_memkube::FailRule;
use longshore_shared::command::identity::{UserCreate, UserDelete, UserPasswordSet, user_id_for};
use longshore_shared::config::Config;
use longshore_shared::domain::Email;
use longshore_shared::job::{Failure, Outcome};
use longshore_worker::handlers::dex::{DexConfig, RESTART_ANNOTATION};
use provisioning::*;
use serde_json::{Value, json};

#[tokio::test]
async fn creating_a_user_adds_its_dex_entry_keeps_the_rest_and_restarts_dex_once() {
    let bench = bench_with_dex(Config::default()).await;
    let password_hash = hash("correct horse battery");
    let command = user("John.Doe@Company.com", &password_hash);

    let done = bench.run(&command).await.expect("user.create succeeds");
    let Outcome::Done(result) = done else {
        panic!("done at once")
    };
    assert_eq!(result["email"], "john.doe@company.com");
    assert_eq!(result["restarted"], true);

    let yaml = dex_yaml(&bench);
    let user = entry(&yaml, "john.doe@company.com").expect("the new user is listed");
    assert_eq!(user["hash"].as_str(), Some(password_hash.as_str()));
    assert_eq!(user["username"].as_str(), Some("John.Doe"));
    let expected_id = user_id_for(&command.email).to_string();
    assert_eq!(user["userID"].as_str(), Some(expected_id.as_str()));
    assert!(
        entry(&yaml, "admin@example.com").is_some(),
        "the existing user stays"
    );
    assert_eq!(
        yaml["issuer"].as_str(),
        Some("http://dex.auth.svc.cluster.local:5556/dex")
    );
    assert_eq!(yaml["storage"]["config"]["inCluster"].as_bool(), Some(true));
    assert_eq!(yaml["connectors"][0]["id"].as_str(), Some("github"));

    let fingerprint = DexConfig::parse(&dex_text(&bench))
        .unwrap()
        .fingerprint()
        .unwrap();
    assert_eq!(restart_mark(&bench), Some(fingerprint));
    assert_eq!(
        deployment(&bench)["metadata"]["generation"],
        2,
        "one rollout"
    );

    let record = bench
        .services
        .store
        .user("john.doe@company.com")
        .await
        .unwrap()
        .expect("read model");
    assert_eq!(
        (record.username.as_str(), record.user_id.as_str()),
        ("John.Doe", expected_id.as_str())
    );
}

#[tokio::test]
async fn running_the_same_create_again_writes_nothing_and_restarts_nothing() {
    let bench = bench_with_dex(Config::default()).await;
    let command = user("alice@example.com", &hash("alice-password"));
    bench.run(&command).await.expect("first run");
    let cm_version = bench.resource_version("v1", "configmaps", Some("auth"), "dex");
    let generation = deployment(&bench)["metadata"]["generation"].clone();
    bench.kube.clear_request_log();

    let again = bench.run(&command).await.expect("second run");
    assert!(
        matches!(again, Outcome::Done(ref v) if v["changed"] == false && v["restarted"] == false)
    );
    assert_eq!(
        bench.resource_version("v1", "configmaps", Some("auth"), "dex"),
        cm_version
    );
    assert_eq!(deployment(&bench)["metadata"]["generation"], generation);
    assert_eq!(writes(&bench), Vec::<String>::new());
}

#[tokio::test]
async fn creating_an_existing_email_with_another_password_fails_permanently() {
    let bench = bench_with_dex(Config::default()).await;
    bench
        .run(&user("bob@example.com", &hash("first-password")))
        .await
        .unwrap();
    let err = bench
        .run(&user("BOB@example.com", &hash("second-password")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Failure::Permanent(m) if m.contains("user.password.set")),
        "{err:?}"
    );
}

#[tokio::test]
async fn setting_a_password_changes_the_hash_and_keeps_the_user_id_and_username() {
    let bench = bench_with_dex(Config::default()).await;
    let custom = UserCreate {
        username: Some("Carol C.".to_owned()),
        ..user("carol@example.com", &hash("carol-first"))
    };
    bench.run(&custom).await.unwrap();
    let before = entry(&dex_yaml(&bench), "carol@example.com")
        .cloned()
        .unwrap();
    let mark_before = restart_mark(&bench);

    let new_hash = hash("carol-second");
    let set = UserPasswordSet {
        email: Email::parse("carol@example.com").unwrap(),
        password_hash: new_hash.clone(),
    };
    bench.run(&set).await.expect("password set succeeds");
    let after = entry(&dex_yaml(&bench), "carol@example.com")
        .cloned()
        .unwrap();
    assert_eq!(after["hash"].as_str(), Some(new_hash.as_str()));
    assert_eq!(after["userID"], before["userID"]);
    assert_eq!(after["username"].as_str(), Some("Carol C."));
    assert_ne!(
        restart_mark(&bench),
        mark_before,
        "Dex restarts for the new hash"
    );

    let version = bench.resource_version("v1", "configmaps", Some("auth"), "dex");
    bench.run(&set).await.expect("the same set again");
    assert_eq!(
        bench.resource_version("v1", "configmaps", Some("auth"), "dex"),
        version
    );

    let unknown = UserPasswordSet {
        email: Email::parse("nobody@example.com").unwrap(),
        password_hash: new_hash,
    };
    assert!(
        matches!(bench.run(&unknown).await, Err(Failure::Permanent(m)) if m.contains("no Dex user"))
    );
}

#[tokio::test]
async fn deleting_removes_the_entry_and_a_missing_user_is_already_deleted() {
    let bench = bench_with_dex(Config::default()).await;
    bench
        .run(&user("dave@example.com", &hash("dave-password")))
        .await
        .unwrap();
    assert!(
        bench
            .services
            .store
            .user("dave@example.com")
            .await
            .unwrap()
            .is_some()
    );
    let delete = UserDelete {
        email: Email::parse("dave@example.com").unwrap(),
        dry_run: false,
    };

    let done = bench.run(&delete).await.expect("delete succeeds");
    assert!(matches!(done, Outcome::Done(ref v) if v["deleted"] == true));
    let yaml = dex_yaml(&bench);
    assert!(entry(&yaml, "dave@example.com").is_none());
    assert!(entry(&yaml, "admin@example.com").is_some());
    assert!(
        bench
            .services
            .store
            .user("dave@example.com")
            .await
            .unwrap()
            .is_none()
    );

    let version = bench.resource_version("v1", "configmaps", Some("auth"), "dex");
    let mark = restart_mark(&bench);
    let again = bench
        .run(&delete)
        .await
        .expect("deleting a missing user succeeds");
    assert!(matches!(again, Outcome::Done(ref v) if v["deleted"] == false));
    assert_eq!(
        bench.resource_version("v1", "configmaps", Some("auth"), "dex"),
        version
    );
    assert_eq!(restart_mark(&bench), mark);
}

#[tokio::test]
async fn two_parallel_creates_both_land_in_the_dex_config() {
    let bench = bench_with_dex(Config::default()).await;
    let (one, two) = (
        user("erin@example.com", &hash("erin-password")),
        user("frank@example.com", &hash("frank-password")),
    );
    let (a, b) = tokio::join!(bench.run(&one), bench.run(&two));
    a.expect("erin's job succeeds");
    b.expect("frank's job succeeds");
    let yaml = dex_yaml(&bench);
    assert!(entry(&yaml, "erin@example.com").is_some(), "{yaml:?}");
    assert!(entry(&yaml, "frank@example.com").is_some(), "{yaml:?}");
    assert!(entry(&yaml, "admin@example.com").is_some());
    let fingerprint = DexConfig::parse(&dex_text(&bench))
        .unwrap()
        .fingerprint()
        .unwrap();
    assert_eq!(
        restart_mark(&bench),
        Some(fingerprint),
        "Dex runs with both users"
    );
}

#[tokio::test]
async fn a_conflict_on_the_write_is_retried_on_a_fresh_read() {
    let bench = bench_with_dex(Config::default()).await;
    bench
        .kube
        .fail_next(FailRule::new("PUT", "/api/v1/namespaces/auth/configmaps/dex", 409).times(2));
    bench
        .run(&user("grace@example.com", &hash("grace-password")))
        .await
        .expect("succeeds after conflicts");
    assert!(entry(&dex_yaml(&bench), "grace@example.com").is_some());
    let puts: Vec<u16> = bench
        .kube
        .request_log()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.status)
        .collect();
    assert_eq!(puts, [409, 409, 200]);
}

#[tokio::test]
async fn a_secret_holding_the_dex_config_is_edited_the_same_way() {
    let mut config = Config::default();
    config.identity.dex_object_kind = "secret".to_owned();
    let bench = bench_with_dex(config).await;
    bench
        .run(&user("heidi@example.com", &hash("heidi-password")))
        .await
        .expect("user.create on a Secret");
    let secret = bench
        .kube
        .get("v1", "secrets", Some("auth"), "dex")
        .expect("secret");
    let encoded = secret["data"]["config.yaml"]
        .as_str()
        .expect("data is base64 text");
    let client_api: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(bench.client.clone(), "auth");
    let typed = client_api
        .get("dex")
        .await
        .expect("read through the client");
    let text = String::from_utf8(typed.data.unwrap()["config.yaml"].0.clone()).unwrap();
    assert!(
        text.contains("heidi@example.com") && text.contains("admin@example.com"),
        "{text}"
    );
    assert!(!encoded.contains("heidi"), "stored base64-encoded");
}

#[tokio::test]
async fn a_retried_job_finishes_the_restart_an_earlier_attempt_left_undone() {
    let bench = bench_with_dex(Config::default()).await;
    let command = user("ivan@example.com", &hash("ivan-password"));
    bench.run(&command).await.unwrap();
    // Pretend the restart never happened: the mark is stale.
    let mut dex = deployment(&bench);
    dex["spec"]["template"]["metadata"]["annotations"][RESTART_ANNOTATION] = json!("stale");
    dex["metadata"]["managedFields"] = Value::Null;
    bench.kube.put(dex);

    bench.run(&command).await.unwrap();
    assert_eq!(
        restart_mark(&bench).as_deref(),
        Some("stale"),
        "an unrelated re-run restarts nothing"
    );

    let mut retry = bench.context(2);
    retry.previous_progress = Some(json!({"step": "dex-config-written"}));
    bench.run_in(&command, retry).await.unwrap();
    let fingerprint = DexConfig::parse(&dex_text(&bench))
        .unwrap()
        .fingerprint()
        .unwrap();
    assert_eq!(restart_mark(&bench), Some(fingerprint));
}

#[tokio::test]
async fn kubectl_sees_the_user_a_job_created() {
    let bench = bench_with_dex(Config::default()).await;
    bench
        .run(&user("judy@example.com", &hash("judy-password")))
        .await
        .unwrap();
    let config_path = r"jsonpath={.data.config\.yaml}";
    let out = kubectl(
        &bench,
        &["-n", "auth", "get", "configmap", "dex", "-o", config_path],
    )
    .await;
    let yaml: serde_yaml::Value = serde_yaml::from_slice(&out).expect("kubectl prints the YAML");
    let judy = entry(&yaml, "judy@example.com").expect("kubectl shows the new user");
    assert_eq!(judy["username"].as_str(), Some("judy"));
}
