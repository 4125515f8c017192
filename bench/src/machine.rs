//! Describes the machine and the shared services for the report, so that
//! figures can be compared only with figures taken on similar hardware.

use std::process::Command;

/// CPU model, core count, memory and kernel.
pub fn describe_machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(
            || "unknown".into(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |s| s.trim().to_owned());
    vec![
        ("CPU".into(), model),
        ("cores".into(), cores.to_string()),
        ("RAM".into(), ram_gib),
        ("Linux".into(), kernel),
    ]
}

/// Versions common to every suite: broker, database, Rust toolchain, lapin.
pub async fn common_versions(postgres_url: &str) -> Vec<(String, String)> {
    let mut versions = vec![
        ("RabbitMQ".into(), rabbitmq_version()),
        ("PostgreSQL".into(), postgres_version(postgres_url).await),
        ("rustc".into(), rustc_version()),
    ];
    if let Some(lapin) = locked_version("lapin") {
        versions.push(("lapin".into(), lapin));
    }
    versions
}

fn rabbitmq_version() -> String {
    command_stdout("rabbitmqctl", &["version"])
        .and_then(|out| out.lines().last().map(|l| l.trim().to_owned()))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

async fn postgres_version(url: &str) -> String {
    let query = async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        anyhow::Ok(version)
    };
    query.await.unwrap_or_else(|_| "unknown".into())
}

fn rustc_version() -> String {
    command_stdout("rustc", &["--version"])
        .map(|v| v.trim().trim_start_matches("rustc ").to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// The version of a dependency as locked in the workspace's Cargo.lock.
fn locked_version(package: &str) -> Option<String> {
    let lock_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock");
    let lock = std::fs::read_to_string(lock_path).ok()?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock.find(&needle)? + needle.len();
    let end = lock[start..].find('"')? + start;
    Some(lock[start..end].to_owned())
}

pub fn command_stdout(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Current UTC time as `YYYY-MM-DD HH:MM UTC`.
pub fn now_utc() -> String {
    command_stdout("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "at an unknown time".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_description_has_cpu_and_cores() {
        let machine = describe_machine();
        assert_eq!(machine[0].0, "CPU");
        assert_ne!(machine[1].1, "0");
    }

    #[test]
    fn lapin_version_is_read_from_the_lock_file() {
        let version = locked_version("lapin").expect("lapin is locked");
        assert!(version.starts_with('4'), "{version}");
    }
}
