//! TokenRequests for ServiceAccounts (kube-rs and `kubectl create token`), and claims
//! bound to provisioned volumes, with the scheduler waiting for a claim that is missing.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::kubectl::Kubectl;
use common::{client, start};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

fn token_request(expiration: Option<i64>) -> TokenRequest {
    serde_json::from_value(json!({
        "spec": { "audiences": [], "expirationSeconds": expiration },
    }))
    .unwrap()
}

fn claims(token: &str) -> Value {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "a JWT has three segments: {token}");
    for segment in &segments {
        URL_SAFE_NO_PAD
            .decode(segment)
            .expect("each segment is base64url");
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segments[1]).unwrap()).unwrap()
}

#[tokio::test]
async fn a_service_account_token_is_issued_for_an_hour_by_default() {
    let kube = start().await;
    let accounts: Api<ServiceAccount> = Api::default_namespaced(client(&kube));
    let account: ServiceAccount =
        serde_json::from_value(json!({ "metadata": { "name": "builder" } })).unwrap();
    accounts
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let issued = accounts
        .create_token_request("builder", &PostParams::default(), &token_request(None))
        .await
        .unwrap();
    let issued = serde_json::to_value(issued).unwrap();
    assert_eq!(issued["spec"]["expirationSeconds"], 3600);
    let payload = claims(issued["status"]["token"].as_str().unwrap());
    assert_eq!(payload["sub"], "system:serviceaccount:default:builder");
    assert_eq!(
        payload["kubernetes.io"]["serviceaccount"]["name"],
        "builder"
    );
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        3600
    );
    assert!(payload["iss"].is_string() && payload["aud"].is_array());
    let expires = issued["status"]["expirationTimestamp"].as_str().unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    assert_eq!(expires.timestamp(), payload["exp"].as_i64().unwrap());

    let short = accounts
        .create_token_request("builder", &PostParams::default(), &token_request(Some(599)))
        .await
        .unwrap_err();
    let kube::Error::Api(short) = short else {
        panic!("expected an API error")
    };
    assert_eq!(short.code, 422);
    assert_eq!(
        short.message,
        "TokenRequest.authentication.k8s.io \"builder\" is invalid: spec.expirationSeconds: \
         Invalid value: 599: may not specify a duration less than 10 minutes"
    );
    let missing = accounts
        .create_token_request("nobody", &PostParams::default(), &token_request(None))
        .await
        .unwrap_err();
    let kube::Error::Api(missing) = missing else {
        panic!("expected an API error")
    };
    assert_eq!(missing.code, 404);
    assert_eq!(missing.message, "serviceaccounts \"nobody\" not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_token_prints_a_token() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    k.ok(&["create", "serviceaccount", "deployer"], None).await;
    let token = k
        .ok(
            &[
                "create",
                "token",
                "deployer",
                "-n",
                "default",
                "--duration",
                "2h",
            ],
            None,
        )
        .await;
    let payload = claims(token.trim());
    assert_eq!(payload["sub"], "system:serviceaccount:default:deployer");
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        7200
    );
    let missing = k.run(&["create", "token", "ghost"], None).await;
    assert!(!missing.ok);
    assert!(
        missing
            .stderr
            .contains("serviceaccounts \"ghost\" not found"),
        "{}",
        missing.stderr
    );
}

#[tokio::test]
async fn a_claim_is_bound_and_a_pod_waits_for_a_missing_one() {
    let kube = start().await;
    let pods: Api<Pod> = Api::default_namespaced(client(&kube));
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": "db" },
        "spec": {
            "containers": [{ "name": "db", "image": "postgres:16" }],
            "volumes": [{ "name": "data", "persistentVolumeClaim": { "claimName": "data" } }],
        },
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let mut message = Value::Null;
    for _ in 0..100 {
        let pod = kube.get("v1", "pods", Some("default"), "db").unwrap();
        message = pod["status"]["conditions"][0]["message"].clone();
        if message.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        message,
        "0/1 nodes are available: persistentvolumeclaim \"data\" not found. preemption: 0/1 \
         nodes are available: 1 Preemption is not helpful for scheduling."
    );

    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(client(&kube));
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": { "name": "data" },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": { "requests": { "storage": "5Gi" } },
        },
    }))
    .unwrap();
    claims.create(&PostParams::default(), &claim).await.unwrap();
    let mut bound = Value::Null;
    for _ in 0..100 {
        bound = kube
            .get("v1", "persistentvolumeclaims", Some("default"), "data")
            .unwrap();
        let running =
            kube.get("v1", "pods", Some("default"), "db").unwrap()["status"]["phase"] == "Running";
        if bound["status"]["phase"] == "Bound" && running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bound["status"]["phase"], "Bound");
    assert_eq!(bound["status"]["capacity"]["storage"], "5Gi");
    let volume_name = bound["spec"]["volumeName"].as_str().unwrap();
    assert_eq!(
        volume_name,
        format!("pvc-{}", bound["metadata"]["uid"].as_str().unwrap())
    );
    let volume = kube
        .get("v1", "persistentvolumes", None, volume_name)
        .unwrap();
    assert_eq!(volume["spec"]["capacity"]["storage"], "5Gi");
    assert_eq!(volume["spec"]["claimRef"]["name"], "data");
    assert_eq!(volume["status"]["phase"], "Bound");
    let pod = kube.get("v1", "pods", Some("default"), "db").unwrap();
    assert_eq!(
        pod["status"]["phase"], "Running",
        "scheduled once its claim is bound"
    );
}
