//! The cluster reference's "complete test workflow" through `longshore dev`: a tenant
//! with a quota, a cluster of 2, list, quota, operate, suspend, resume, delete, and the
//! quota back to zero; `kubectl` sees what the worker made, and another tenant sees
//! nothing of it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::DevApp;
use crate::helpers::spawn::describe;

struct Caller<'a> {
    dev: &'a DevApp,
    http: reqwest::Client,
    token: String,
}

impl Caller<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.dev.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("dev answers");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Sends a write, expects `202`, and waits for its job to succeed.
    async fn run(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{path}: {answer}");
        let job = answer["job_id"].as_str().expect("a job id").to_owned();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (_, seen) = self
                .call(Method::GET, &format!("/v1/jobs/{job}"), None)
                .await;
            match seen["status"].as_str() {
                Some("succeeded") => return seen,
                Some("failed" | "dead" | "cancelled") => panic!("{path}: {seen:#}"),
                _ if tokio::time::Instant::now() > deadline => panic!("{path} hangs: {seen:#}"),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }
}

fn statuses(cluster: &Value) -> Vec<String> {
    cluster["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .map(|i| {
            format!(
                "{}={}",
                i["name"].as_str().unwrap(),
                i["status"].as_str().unwrap()
            )
        })
        .collect()
}

async fn token_for(dev: &DevApp, tenant: &str) -> String {
    let out = dev
        .cli(&[
            "token", "create", "--name", tenant, "--role", "operator", "--tenant", tenant,
        ])
        .await;
    assert!(out.status.success(), "token create: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn the_references_complete_workflow_runs_through_longshore_dev() {
    let dev = DevApp::start().await;
    let http = reqwest::Client::new();
    let admin = Caller {
        dev: &dev,
        http: http.clone(),
        token: dev.token.clone(),
    };

    // 1. A tenant with its quota (the reference's user with quota_cpu and quota_memory).
    let (status, body) = admin
        .call(
            Method::POST,
            "/v1/tenants",
            Some(json!({"name": "test", "quota_cpu": 10, "quota_memory": 20})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let team = Caller {
        dev: &dev,
        http: http.clone(),
        token: token_for(&dev, "test").await,
    };

    // 2. A cluster of 2, beyond the quota first.
    let too_big = json!({"name": "huge", "instance_type": "container",
        "cpu_per_instance": 6, "memory_per_instance": 2, "instance_count": 2});
    let (status, body) = team.call(Method::POST, "/v1/clusters", Some(too_big)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("12 cores"),
        "{body}"
    );
    let create = json!({"name": "test-cluster", "instance_type": "container",
        "cpu_per_instance": 1, "memory_per_instance": 2, "instance_count": 2});
    team.run(Method::POST, "/v1/clusters", Some(create)).await;

    // 3. List.
    let list = team.get("/v1/clusters").await;
    let clusters = list["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 1, "{list}");
    assert_eq!(clusters[0]["namespace"], "test-cluster-ns");
    assert_eq!(
        statuses(&clusters[0]),
        ["test-cluster-1=running", "test-cluster-2=running"]
    );

    // 4. Quota.
    let quota = team.get("/v1/tenants/me/quota").await;
    assert_eq!(quota["quota_cpu"], 10.0, "{quota}");
    assert_eq!(quota["used_cpu"], 2.0, "{quota}");
    assert_eq!(quota["used_memory"], 4.0, "{quota}");
    assert_eq!(quota["free_cpu"], 8.0, "{quota}");
    assert_eq!(quota["free_memory"], 16.0, "{quota}");

    // Another tenant sees nothing of it.
    let other = Caller {
        dev: &dev,
        http: http.clone(),
        token: token_for(&dev, "chem").await,
    };
    for path in ["/v1/clusters/test-cluster", "/v1/instances/test-cluster-1"] {
        let (status, body) = other.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, _) = other
        .call(
            Method::POST,
            "/v1/instances/test-cluster-1/operate",
            Some(json!({"operation": "stop"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // 5. Operate: stop one instance.
    team.run(
        Method::POST,
        "/v1/instances/test-cluster-1/operate",
        Some(json!({"operation": "stop"})),
    )
    .await;
    let instance = team.get("/v1/instances/test-cluster-1").await;
    assert_eq!(instance["status"], "stopped", "{instance}");

    // 6. Suspend: the running one; the stopped one stays stopped through resume.
    let job = team
        .run(Method::POST, "/v1/clusters/test-cluster/suspend", None)
        .await;
    assert_eq!(job["result"]["changed"], 1, "{job:#}");
    let cluster = team.get("/v1/clusters/test-cluster").await;
    assert_eq!(
        statuses(&cluster),
        ["test-cluster-1=stopped", "test-cluster-2=suspended"]
    );
    let kubeconfig = dev.data_dir().join("kubeconfig");
    let kubectl = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "get",
            "deploy",
            "-n",
            "test-cluster-ns",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.spec.replicas} {end}",
        ])
        .output()
        .expect("kubectl runs");
    assert!(
        kubectl.status.success(),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&kubectl.stdout).trim(),
        "test-cluster-1=0 test-cluster-2=0"
    );

    // 7. Resume.
    team.run(Method::POST, "/v1/clusters/test-cluster/resume", None)
        .await;
    let cluster = team.get("/v1/clusters/test-cluster").await;
    assert_eq!(
        statuses(&cluster),
        ["test-cluster-1=stopped", "test-cluster-2=running"]
    );
    let pods = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "pods", "-n", "test-cluster-ns", "--no-headers"])
        .output()
        .expect("kubectl runs");
    let pods = String::from_utf8_lossy(&pods.stdout).into_owned();
    assert_eq!(pods.lines().count(), 1, "one Running pod: {pods}");
    assert!(
        pods.contains("Running") && pods.starts_with("test-cluster-2-"),
        "{pods}"
    );

    // 8. Delete, and the quota is back to zero.
    team.run(Method::DELETE, "/v1/clusters/test-cluster", None)
        .await;
    let (status, _) = team
        .call(Method::GET, "/v1/clusters/test-cluster", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let quota = team.get("/v1/tenants/me/quota").await;
    assert_eq!(
        (quota["used_cpu"].as_f64(), quota["used_memory"].as_f64()),
        (Some(0.0), Some(0.0)),
        "{quota}"
    );
}
