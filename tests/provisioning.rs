//! User and project provisioning end to end: the real `longshore dev` binary (SQLite,
//! in-process transport, in-memory Kubernetes API) driven over HTTP, checked with the
//! real `kubectl`, and searched for the generated password afterwards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use longshore_shared::domain::BcryptHash;
use longshore_shared::domain::password::verify;
use secrecy::SecretString;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_longshore");
const KUBECTL: &str = "/usr/bin/kubectl";
const DEADLINE: Duration = Duration::from_secs(60);

/// A running `longshore dev`, killed when dropped.
struct Dev {
    child: Child,
    dir: tempfile::TempDir,
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dev {
    async fn start() -> Dev {
        let dir = tempfile::Builder::new()
            .prefix("longshore-provisioning-")
            .tempdir()
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut command = Command::new(BIN);
        command.env_clear();
        for key in ["PATH", "HOME", "TMPDIR"] {
            if let Ok(value) = std::env::var(key) {
                command.env(key, value);
            }
        }
        let child = command
            .args(["dev", "--no-scheduler", "--log", "debug", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("longshore dev starts");
        let mut dev = Dev {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            token: String::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        };
        let started = Instant::now();
        loop {
            let client = std::fs::read(dev.dir.path().join("client.json")).ok();
            let client: Option<Value> =
                client.and_then(|bytes| serde_json::from_slice(&bytes).ok());
            let ready = dev.http.get(format!("{}/readyz", dev.url)).send().await;
            if let (Some(client), Ok(answer)) = (client, ready)
                && answer.status().is_success()
            {
                dev.token = client["token"].as_str().expect("an admin token").to_owned();
                return dev;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "longshore dev did not start: {}",
                dev.stderr()
            );
            assert!(
                dev.child.try_wait().unwrap().is_none(),
                "longshore dev exited: {}",
                dev.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("the api answers");
        let status = answer.status();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    /// Waits for job `id` to finish and returns it; it must have succeeded.
    async fn succeeded(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (_, job) = self
                .call(reqwest::Method::GET, &format!("/v1/jobs/{id}"), None)
                .await;
            match job["status"].as_str() {
                Some("succeeded") => return job,
                Some("failed" | "dead" | "cancelled") => panic!("job {id} did not succeed: {job}"),
                _ => {}
            }
            assert!(
                started.elapsed() < DEADLINE,
                "job {id} still running: {job}\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn kubectl(&self, args: &[&str]) -> Vec<u8> {
        let out = tokio::process::Command::new(KUBECTL)
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(args)
            .output()
            .await
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Asks the process to stop (SIGTERM) and waits, so SQLite and the in-memory API
    /// write out what they hold.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while self.child.try_wait().unwrap().is_none()
            && started.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Every file under `dir` holding `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn a_user_and_a_project_are_provisioned_through_longshore_dev() {
    let mut dev = Dev::start().await;
    let email = "e2e.user@example.com";

    let (status, user) = dev
        .call(
            reqwest::Method::POST,
            "/v1/users",
            Some(json!({"email": email})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{user}");
    let password = user["password"]
        .as_str()
        .expect("a generated password")
        .to_owned();
    let body = json!({"owner_email": email, "cpu_limit": "4", "memory_limit": "8",
                      "resources": {"requests.nvidia.com/l4": "1"}});
    let (status, project) = dev
        .call(reqwest::Method::POST, "/v1/projects", Some(body))
        .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{project}");
    let name = project["name"].as_str().unwrap().to_owned();
    assert_eq!(name, "e2e-user-example-com");

    dev.succeeded(user["job_id"].as_str().unwrap()).await;
    let job = dev.succeeded(project["job_id"].as_str().unwrap()).await;
    assert_eq!(job["result"]["name"], name.as_str());

    let profile: Value =
        serde_json::from_slice(&dev.kubectl(&["get", "profile", &name, "-o", "json"]).await)
            .unwrap();
    assert_eq!(
        profile["spec"]["owner"],
        json!({"kind": "User", "name": email})
    );
    let hard = &profile["spec"]["resourceQuotaSpec"]["hard"];
    assert_eq!(
        (
            &hard["cpu"],
            &hard["memory"],
            &hard["requests.nvidia.com/l4"]
        ),
        (&json!("4"), &json!("8Gi"), &json!("1"))
    );

    let config = dev
        .kubectl(&[
            "-n",
            "auth",
            "get",
            "configmap",
            "dex",
            "-o",
            r"jsonpath={.data.config\.yaml}",
        ])
        .await;
    let config: serde_yaml::Value = serde_yaml::from_slice(&config).expect("Dex's config is YAML");
    let entry = config["staticPasswords"]
        .as_sequence()
        .and_then(|users| users.iter().find(|u| u["email"].as_str() == Some(email)))
        .expect("the Dex entry exists");
    assert_eq!(entry["username"].as_str(), Some("e2e.user"));
    let hash = BcryptHash::parse(entry["hash"].as_str().unwrap()).unwrap();
    assert!(
        verify(&SecretString::from(password.clone()), &hash),
        "Dex holds the password's hash"
    );

    let (status, shown) = dev
        .call(reqwest::Method::GET, &format!("/v1/projects/{name}"), None)
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{shown}");
    assert_eq!(shown["owner"], email);
    assert_eq!(shown["resources"]["cpu"], "4");
    let (status, shown) = dev
        .call(reqwest::Method::GET, &format!("/v1/users/{email}"), None)
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{shown}");
    assert_eq!(shown["username"], "e2e.user");
    assert_eq!(shown["password"], Value::Null);

    dev.stop();
    let database = dev.dir.path().join("longshore.db");
    assert!(
        !std::fs::read(&database).unwrap().is_empty(),
        "the store file is there"
    );
    assert_eq!(
        files_containing(dev.dir.path(), &password),
        Vec::<PathBuf>::new(),
        "stored nowhere"
    );
    let stderr = dev.stderr();
    assert!(
        stderr.contains("job attempt ended"),
        "the log was captured: {stderr}"
    );
    assert!(!stderr.contains(&password), "logged nowhere");
}
