//! Finds the shared services' root processes, whose trees are charged with
//! the CPU the broker and the database spend on a benchmark.

use super::process_table::ProcessTable;

/// The RabbitMQ node: the `beam.smp` started with `-s rabbit boot`. Other
/// `beam.smp` processes (e.g. a concurrent `rabbitmqctl`) are CLI tools
/// and must not be counted as broker work.
pub fn rabbitmq_roots(table: &ProcessTable) -> Vec<u32> {
    table
        .iter()
        .filter(|p| p.comm == "beam.smp")
        .filter(|p| {
            let args = cmdline(p.pid);
            args.windows(3)
                .any(|w| w[0] == "-s" && w[1] == "rabbit" && w[2] == "boot")
        })
        .map(|p| p.pid)
        .collect()
}

/// The postmaster(s): `postgres` processes whose parent is not one. Their
/// trees hold every backend, including short-lived ones that get reaped.
pub fn postgres_roots(table: &ProcessTable) -> Vec<u32> {
    table
        .iter()
        .filter(|p| p.comm == "postgres")
        .filter(|p| {
            table
                .get(p.ppid)
                .is_none_or(|parent| parent.comm != "postgres")
        })
        .map(|p| p.pid)
        .collect()
}

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| {
            bytes
                .split(|b| *b == 0)
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default()
}
