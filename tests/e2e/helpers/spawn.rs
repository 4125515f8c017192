//! `TestApp`: one test's Longshore installation. It owns a fresh job store and a broker
//! prefix, spawns the real `longshore` binary in whatever roles the test asks for (each
//! process's output captured to a file, printed when the test fails), talks HTTP to its
//! api, and on drop kills its processes, deletes its RabbitMQ topology and drops its
//! database.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use longshore_shared::broker::Topology;
use longshore_shared::broker::amqp::AmqpTransport;
use longshore_shared::testing::{TestDb, amqp_url, unique_prefix};
use tempfile::TempDir;

use super::{Backend, DEADLINE, POLL};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_longshore");

/// A process a test spawned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcId(usize);

struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

pub struct TestApp {
    pub prefix: String,
    pub database_url: String,
    /// The RabbitMQ URL the processes use (a test's proxy, or the server itself).
    pub amqp_url: String,
    /// An admin token (named `e2e-admin`).
    pub admin: String,
    dir: TempDir,
    db: Option<TestDb>,
    env: Vec<(String, String)>,
    procs: Vec<Proc>,
    pub(super) api: Option<String>,
    pub(super) http: reqwest::Client,
}

impl TestApp {
    /// A store and prefix of the test's own, and an admin token; no process runs yet.
    pub async fn new(backend: Backend) -> TestApp {
        let db = backend.fresh_db().await;
        let dir = tempfile::Builder::new()
            .prefix("longshore-e2e-")
            .tempdir()
            .expect("temp dir");
        let mut app = TestApp {
            prefix: unique_prefix("e2e"),
            database_url: db.url.clone(),
            amqp_url: amqp_url(),
            admin: String::new(),
            dir,
            db: Some(db),
            env: Vec::new(),
            procs: Vec::new(),
            api: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
        };
        app.admin = app.token("e2e-admin", "admin").await;
        app
    }

    /// A new app with an api and a worker (`worker-a`) running.
    pub async fn running(backend: Backend) -> TestApp {
        let mut app = TestApp::new(backend).await;
        app.start_api().await;
        app.start_worker("worker-a");
        app
    }

    /// Sets an environment variable for every process spawned from now on.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// A directory of the test's own (config files, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear();
        for key in ["PATH", "HOME", "TMPDIR"] {
            if let Ok(value) = std::env::var(key) {
                cmd.env(key, value);
            }
        }
        cmd.env("RUST_BACKTRACE", "1")
            .env("LONGSHORE_DATABASE_URL", &self.database_url)
            .env("LONGSHORE_DATABASE_MAX_CONNECTIONS", "4")
            .env("LONGSHORE_AMQP_URL", &self.amqp_url)
            .env("LONGSHORE_BROKER_PREFIX", &self.prefix)
            .env("LONGSHORE_RETRY_BASE_MS", "50")
            .env("LONGSHORE_LOG", "info")
            .current_dir(self.dir.path());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs a one-shot `longshore` command (token, scheduler --once, …) to its end.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::from(self.command());
        cmd.args(args).kill_on_drop(true);
        run_to_end(cmd, args).await
    }

    /// Creates a token with `longshore token create` and returns it.
    pub async fn token(&self, name: &str, role: &str) -> String {
        let out = self
            .run(&["token", "create", "--name", name, "--role", role])
            .await;
        assert!(
            out.status.success(),
            "token create failed: {}",
            describe(&out)
        );
        let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(!token.is_empty(), "token create printed nothing");
        token
    }

    /// Spawns `longshore <args>` in the background, output captured to a file.
    pub fn spawn(&mut self, name: &str, args: &[&str], env: &[(&str, &str)]) -> ProcId {
        let log = self
            .dir
            .path()
            .join(format!("{}-{name}.log", self.procs.len()));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = self.command();
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd.spawn().expect("spawn longshore");
        self.procs.push(Proc {
            name: name.to_owned(),
            child,
            log,
        });
        ProcId(self.procs.len() - 1)
    }

    /// Starts `longshore api` on a free port and waits until it is ready.
    pub async fn start_api(&mut self) -> ProcId {
        self.start_api_with(&[]).await
    }

    pub async fn start_api_with(&mut self, env: &[(&str, &str)]) -> ProcId {
        // A free port can be taken between choosing and binding it: try again then.
        for _ in 0..3 {
            let addr = free_addr();
            let mut all = vec![("LONGSHORE_LISTEN", addr.as_str())];
            all.extend_from_slice(env);
            let id = self.spawn("api", &["api"], &all);
            let url = format!("http://{addr}");
            if self.wait_ready(id, &url).await {
                self.api = Some(url);
                return id;
            }
        }
        self.fail("the api never became ready");
    }

    async fn wait_ready(&mut self, id: ProcId, url: &str) -> bool {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if let Ok(Some(_)) = self.procs[id.0].child.try_wait() {
                return false;
            }
            // Ready, and ours: another test's api could have taken the port first,
            // but it would not know this test's token.
            if let Ok(resp) = self.http.get(format!("{url}/readyz")).send().await
                && resp.status().is_success()
                && let Ok(ours) = self
                    .http
                    .get(format!("{url}/v1/jobs?limit=1"))
                    .bearer_auth(&self.admin)
                    .send()
                    .await
            {
                return ours.status().is_success();
            }
            tokio::time::sleep(POLL).await;
        }
        self.fail(&format!(
            "{url}/readyz did not answer 200 within {DEADLINE:?}"
        ));
    }

    /// Starts `longshore worker` with `LONGSHORE_WORKER_ID=<id>`.
    pub fn start_worker(&mut self, id: &str) -> ProcId {
        self.spawn(id, &["worker"], &[("LONGSHORE_WORKER_ID", id)])
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self, id: ProcId) {
        let proc = &mut self.procs[id.0];
        let _ = proc.child.kill();
        let _ = proc.child.wait();
    }

    /// SIGTERM: asks the process to shut down.
    pub fn terminate(&mut self, id: ProcId) {
        let pid = self.procs[id.0].child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Waits for a process to exit on its own.
    pub async fn wait_exit(&mut self, id: ProcId, within: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.procs[id.0].child.try_wait().expect("try_wait") {
                return status;
            }
            if start.elapsed() > within {
                let name = self.procs[id.0].name.clone();
                self.fail(&format!("{name} did not exit within {within:?}"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Fails the test with a message (the processes' logs are printed on drop).
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for proc in &mut self.procs {
            let _ = proc.child.kill();
            let _ = proc.child.wait();
        }
        if std::thread::panicking() || show_logs() {
            for proc in &self.procs {
                print_log(&proc.name, &proc.log);
            }
        }
        let prefix = self.prefix.clone();
        let db = self.db.take();
        let teardown = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("teardown runtime");
            rt.block_on(async move {
                let broker = AmqpTransport::new(&amqp_url(), Topology::new(prefix), "e2e-teardown");
                match tokio::time::timeout(Duration::from_secs(20), broker.delete_topology()).await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => eprintln!("teardown: deleting the topology failed: {err}"),
                    Err(_) => eprintln!("teardown: deleting the topology timed out"),
                }
                if let Some(db) = db {
                    db.drop_db().await;
                }
            });
        });
        let _ = teardown.join();
    }
}

pub(super) async fn run_to_end(mut cmd: tokio::process::Command, args: &[&str]) -> Output {
    cmd.stdin(Stdio::null());
    match tokio::time::timeout(DEADLINE, cmd.output()).await {
        Ok(out) => out.expect("run longshore"),
        Err(_) => panic!(
            "`longshore {}` did not finish within {DEADLINE:?}",
            args.join(" ")
        ),
    }
}

/// A process's exit status and output, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `127.0.0.1:<a port nobody listens on right now>`.
pub fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").to_string()
}

/// `LONGSHORE_E2E_LOGS=1` prints every process's output, not only a failed test's.
pub(super) fn show_logs() -> bool {
    std::env::var_os("LONGSHORE_E2E_LOGS").is_some_and(|v| v == "1")
}

pub(super) fn print_log(name: &str, path: &Path) {
    const TAIL: usize = 400;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(TAIL);
    eprintln!("===== {name} ({}) =====", path.display());
    for line in &lines[skip..] {
        eprintln!("{line}");
    }
}
