//! The Python virtualenv the Celery anchor runs in, created on first use
//! under `bench/.venv` from the pinned `bench/celery/requirements.txt`.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use tokio::process::Command;

/// Copy of the requirements the venv was last installed from; a changed
/// requirements file triggers a reinstall.
const STAMP: &str = ".longshore-bench-requirements";

#[derive(Debug, Clone)]
pub struct PythonEnv {
    venv: PathBuf,
    /// Directory of the Python scripts, the working directory of every
    /// Celery process so that `bench_app` is importable.
    scripts: PathBuf,
}

impl PythonEnv {
    /// Creates or updates the venv as needed.
    pub async fn ensure(bench_dir: &Path, python: &str) -> Result<Self> {
        let env = Self {
            venv: bench_dir.join(".venv"),
            scripts: bench_dir.join("celery"),
        };
        let requirements_path = env.scripts.join("requirements.txt");
        let requirements = std::fs::read_to_string(&requirements_path)
            .with_context(|| format!("reading {}", requirements_path.display()))?;
        let stamp = env.venv.join(STAMP);
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str())
            && env.python().exists()
        {
            return Ok(env);
        }
        if !env.python().exists() {
            eprintln!("  creating {}", env.venv.display());
            run(Command::new(python).arg("-m").arg("venv").arg(&env.venv)).await?;
        }
        eprintln!("  installing {}", requirements_path.display());
        run(Command::new(env.python())
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(&requirements_path))
        .await?;
        std::fs::write(&stamp, requirements)?;
        Ok(env)
    }

    pub fn python(&self) -> PathBuf {
        self.venv.join("bin/python")
    }

    pub fn celery(&self) -> PathBuf {
        self.venv.join("bin/celery")
    }

    pub fn scripts_dir(&self) -> &Path {
        &self.scripts
    }

    /// Python, Celery and the libraries whose speed matters here.
    pub async fn versions(&self) -> Vec<(String, String)> {
        let script = "import sys, celery, kombu, amqp, sqlalchemy, psycopg2\n\
                      print(sys.version.split()[0]); print(celery.__version__)\n\
                      print(kombu.__version__); print(amqp.__version__)\n\
                      print(sqlalchemy.__version__); print(psycopg2.__version__.split()[0])";
        let output = Command::new(self.python())
            .args(["-c", script])
            .output()
            .await;
        let Ok(output) = output else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(&output.stdout);
        [
            "Python",
            "Celery",
            "kombu",
            "py-amqp",
            "SQLAlchemy",
            "psycopg2",
        ]
        .into_iter()
        .zip(text.lines())
        .map(|(name, version)| (name.to_owned(), version.trim().to_owned()))
        .collect()
    }
}

async fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .await
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}
