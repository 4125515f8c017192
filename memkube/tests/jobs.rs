//! Jobs run by the simulated job controller and kubelet: pods from the template, scripted
//! outcomes with termination messages, retries up to `backoffLimit`, deadlines, TTL
//! deletion, and `kubectl get jobs` as a real cluster prints it.

mod common;

use std::time::Duration;

use common::kubectl::{Kubectl, rows};
use common::{client, start};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use longshore_memkube::{Handle, JobScript};
use serde_json::{Value, json};

fn job(name: &str, extra_spec: Value) -> Job {
    let mut job = json!({
        "metadata": { "name": name, "labels": { "app": "commit" } },
        "spec": {
            "template": { "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "commit",
                    "image": "ghcr.io/longshore/committer:1",
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                }],
            }},
        },
    });
    for (key, value) in extra_spec.as_object().cloned().unwrap_or_default() {
        job["spec"][key] = value;
    }
    serde_json::from_value(job).unwrap()
}

async fn until<T>(what: &str, seconds: u64, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..seconds * 20 {
        if let Some(found) = check() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within {seconds}s");
}

fn condition_types(job: &Value) -> Vec<String> {
    job["status"]["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| c["type"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn finished(kube: &Handle, name: &str) -> Option<Value> {
    let job = kube.get("batch/v1", "jobs", Some("default"), name)?;
    let types = condition_types(&job);
    (types.iter().any(|t| t == "Complete" || t == "Failed")).then_some(job)
}

fn pods_of(kube: &Handle, job: &str) -> Vec<Value> {
    kube.list("v1", "pods", Some("default"))
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == job)
        .collect()
}

#[tokio::test]
async fn a_job_completes_with_the_termination_message_its_script_gives() {
    let kube = start().await;
    kube.script_jobs(
        JobScript::succeed()
            .with_label("app", "commit")
            .message("{\"digest\": \"{digest}\"}")
            .log("committing container")
            .log("pushed {digest}"),
    );
    let jobs: Api<Job> = Api::default_namespaced(client(&kube));
    jobs.create(&PostParams::default(), &job("commit-1", json!({})))
        .await
        .unwrap();
    let done = until("the job finishing", 5, || finished(&kube, "commit-1")).await;
    assert_eq!(condition_types(&done), ["SuccessCriteriaMet", "Complete"]);
    let complete = &done["status"]["conditions"][1];
    assert_eq!(complete["reason"], "CompletionsReached");
    assert_eq!(done["status"]["succeeded"], 1);
    assert_eq!(done["status"]["ready"], 0);
    assert!(done["status"]["active"].is_null());
    assert!(done["status"]["startTime"].is_string());
    assert!(done["status"]["completionTime"].is_string());
    let uid = done["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        done["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(done["spec"]["backoffLimit"], 6);

    let pods = pods_of(&kube, "commit-1");
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    let name = pod["metadata"]["name"].as_str().unwrap();
    let suffix = name.strip_prefix("commit-1-").unwrap();
    assert_eq!(suffix.len(), 5);
    assert!(
        suffix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["batch.kubernetes.io/job-name"], "commit-1");
    assert_eq!(labels["controller-uid"], uid);
    assert_eq!(labels["batch.kubernetes.io/controller-uid"], uid);
    let owner = &pod["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["controller"].as_bool()),
        (Some("Job"), Some(true))
    );
    assert_eq!(pod["status"]["phase"], "Succeeded");
    let terminated = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(terminated["exitCode"], 0);
    assert_eq!(terminated["reason"], "Completed");
    let message: Value = serde_json::from_str(terminated["message"].as_str().unwrap()).unwrap();
    let digest = message["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{digest}"
    );
}

#[tokio::test]
async fn a_failing_job_is_retried_until_its_backoff_limit_then_fails() {
    let kube = start().await;
    kube.script_jobs(
        JobScript::fail(3)
            .in_namespace("default")
            .log("pushing to registry.example.com")
            .log("error: denied: requested access to the resource is denied")
            .runs_for(Duration::from_millis(100)),
    );
    let jobs: Api<Job> = Api::default_namespaced(client(&kube));
    let spec = json!({ "backoffLimit": 1 });
    jobs.create(&PostParams::default(), &job("push", spec))
        .await
        .unwrap();
    let failed = until("the job failing", 5, || finished(&kube, "push")).await;
    assert_eq!(condition_types(&failed), ["FailureTarget", "Failed"]);
    let reason = &failed["status"]["conditions"][1];
    assert_eq!(reason["reason"], "BackoffLimitExceeded");
    assert_eq!(
        reason["message"],
        "Job has reached the specified backoff limit"
    );
    assert_eq!(failed["status"]["failed"], 2, "the first try and one retry");
    assert!(failed["status"]["completionTime"].is_null());

    let pods = pods_of(&kube, "push");
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        assert_eq!(pod["status"]["phase"], "Failed");
        let terminated = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
        assert_eq!(terminated["exitCode"], 3);
        assert_eq!(terminated["reason"], "Error");
        assert_eq!(
            terminated["message"],
            "pushing to registry.example.com\nerror: denied: requested access to the resource is denied\n",
            "FallbackToLogsOnError puts the log's tail in the message"
        );
    }
    let pod_api: Api<Pod> = Api::default_namespaced(client(&kube));
    let name = pods[0]["metadata"]["name"].as_str().unwrap();
    let log = pod_api
        .logs(
            name,
            &kube::api::LogParams {
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        log,
        "error: denied: requested access to the resource is denied\n"
    );
}

#[tokio::test]
async fn a_job_whose_pods_would_restart_always_is_refused() {
    let kube = start().await;
    let jobs: Api<Job> = Api::default_namespaced(client(&kube));
    let mut bad = serde_json::to_value(job("bad", json!({}))).unwrap();
    bad["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    let bad: Job = serde_json::from_value(bad).unwrap();
    let kube::Error::Api(err) = jobs.create(&PostParams::default(), &bad).await.unwrap_err() else {
        panic!("expected an API error");
    };
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Job.batch \"bad\" is invalid: spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
    );
}

#[tokio::test]
async fn a_finished_job_with_a_ttl_is_deleted_with_its_pods() {
    let kube = start().await;
    let jobs: Api<Job> = Api::default_namespaced(client(&kube));
    let spec = json!({ "ttlSecondsAfterFinished": 1 });
    jobs.create(&PostParams::default(), &job("short-lived", spec))
        .await
        .unwrap();
    until("the job finishing", 5, || finished(&kube, "short-lived")).await;
    assert_eq!(pods_of(&kube, "short-lived").len(), 1);
    until("the job being deleted", 5, || {
        kube.get("batch/v1", "jobs", Some("default"), "short-lived")
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        pods_of(&kube, "short-lived").is_empty(),
        "background cascade"
    );
}

#[tokio::test]
async fn a_job_past_its_deadline_fails_and_its_pod_is_terminated() {
    let kube = start().await;
    kube.script_jobs(JobScript::succeed().runs_for(Duration::from_secs(60)));
    let jobs: Api<Job> = Api::default_namespaced(client(&kube));
    let spec = json!({ "activeDeadlineSeconds": 1 });
    jobs.create(&PostParams::default(), &job("slow", spec))
        .await
        .unwrap();
    let failed = until("the deadline", 5, || finished(&kube, "slow")).await;
    assert_eq!(
        failed["status"]["conditions"][1]["reason"],
        "DeadlineExceeded"
    );
    assert_eq!(
        failed["status"]["conditions"][1]["message"],
        "Job was active longer than specified deadline"
    );
    assert!(pods_of(&kube, "slow").is_empty());
    let listed = jobs.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_prints_jobs_with_status_completions_and_duration() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let manifest = "\
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: perl:5.34
";
    k.kube.script_jobs(JobScript::succeed().log("3.14159"));
    k.ok(&["apply", "-f", "-"], Some(manifest)).await;
    let out = k
        .until(&["get", "jobs"], |out| {
            rows(&out.stdout)
                .first()
                .is_some_and(|r| r[1] == "Complete")
        })
        .await;
    assert_eq!(
        common::kubectl::header(&out.stdout),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    );
    let row = &rows(&out.stdout)[0];
    assert_eq!(row[0], "pi");
    assert_eq!(row[2], "1/1");
    assert!(row[3].ends_with('s'), "{row:?}");
    assert_eq!(k.ok(&["logs", "job/pi"], None).await, "3.14159\n");
    let pods = k.ok(&["get", "pods", "-l", "job-name=pi"], None).await;
    assert_eq!(rows(&pods)[0][2], "Completed", "{pods}");
}

#[tokio::test]
async fn an_on_failure_pod_restarts_its_container_until_the_backoff_limit() {
    let kube = start().await;
    kube.script_jobs(
        JobScript::fail(1)
            .log("boom")
            .runs_for(Duration::from_millis(600)),
    );
    let jobs: Api<Job> = Api::default_namespaced(client(&kube));
    let mut restarting = serde_json::to_value(job("flaky", json!({ "backoffLimit": 2 }))).unwrap();
    restarting["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    let restarting: Job = serde_json::from_value(restarting).unwrap();
    jobs.create(&PostParams::default(), &restarting)
        .await
        .unwrap();
    let pod = until("a restart", 5, || {
        pods_of(&kube, "flaky")
            .into_iter()
            .find(|p| p["status"]["containerStatuses"][0]["restartCount"] == 1)
    })
    .await;
    assert_eq!(pod["status"]["phase"], "Running");
    let last = &pod["status"]["containerStatuses"][0]["lastState"]["terminated"];
    assert_eq!(last["exitCode"], 1);
    let name = pod["metadata"]["name"].as_str().unwrap();
    let pods: Api<Pod> = Api::default_namespaced(client(&kube));
    let previous = kube::api::LogParams {
        previous: true,
        ..Default::default()
    };
    assert_eq!(pods.logs(name, &previous).await.unwrap(), "boom\n");

    let failed = until("the job failing", 5, || finished(&kube, "flaky")).await;
    assert_eq!(
        failed["status"]["conditions"][1]["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(failed["status"]["failed"], 1);
    assert!(
        pods_of(&kube, "flaky").is_empty(),
        "the restarting pod is terminated"
    );
}
