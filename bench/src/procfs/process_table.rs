//! A snapshot of `/proc`: who is whose parent and how much CPU each process
//! has used.

use std::collections::{HashMap, HashSet};

/// The parts of `/proc/PID/stat` the harness needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStat {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    /// utime + stime of the process itself (all its threads).
    pub own_ticks: u64,
    /// cutime + cstime: CPU of children that exited and were reaped.
    pub reaped_children_ticks: u64,
}

impl ProcessStat {
    /// Parses the content of `/proc/PID/stat`. The command name sits in
    /// parentheses and may itself contain spaces or parentheses, so fields
    /// are counted from the last `)`.
    pub fn parse(pid: u32, text: &str) -> Option<Self> {
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let comm = text.get(open + 1..close)?.to_owned();
        let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
        // fields[0] is field 3 (state) of proc(5).
        let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
        Some(Self {
            pid,
            ppid: u32::try_from(field(4)?).ok()?,
            comm,
            own_ticks: field(14)? + field(15)?,
            reaped_children_ticks: field(16)? + field(17)?,
        })
    }
}

/// All processes visible at one instant.
#[derive(Debug, Default)]
pub struct ProcessTable {
    processes: HashMap<u32, ProcessStat>,
}

impl ProcessTable {
    /// Reads every `/proc/PID/stat`. Processes vanishing mid-scan are simply
    /// skipped: they are gone and their CPU is now in their parent's
    /// reaped-children counters.
    pub fn scan() -> Self {
        let mut processes = HashMap::new();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Self { processes };
        };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(stat) = read_stat(pid) {
                processes.insert(pid, stat);
            }
        }
        Self { processes }
    }

    #[cfg(test)]
    pub fn from_stats(stats: impl IntoIterator<Item = ProcessStat>) -> Self {
        Self {
            processes: stats.into_iter().map(|s| (s.pid, s)).collect(),
        }
    }

    pub fn get(&self, pid: u32) -> Option<&ProcessStat> {
        self.processes.get(&pid)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ProcessStat> {
        self.processes.values()
    }

    /// The roots that are alive plus all their live descendants.
    pub fn tree(&self, roots: &[u32]) -> HashSet<u32> {
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for p in self.processes.values() {
            children.entry(p.ppid).or_default().push(p.pid);
        }
        let mut members = HashSet::new();
        let mut stack: Vec<u32> = roots
            .iter()
            .copied()
            .filter(|pid| self.processes.contains_key(pid))
            .collect();
        while let Some(pid) = stack.pop() {
            if members.insert(pid) {
                stack.extend(children.get(&pid).into_iter().flatten().copied());
            }
        }
        members
    }

    /// CPU ticks used so far by the trees under `roots`.
    ///
    /// Live members count their own time and that of their reaped children;
    /// a member that exits between two snapshots thus moves from "own" to
    /// its parent's "reaped" time and is counted exactly once either way.
    pub fn tree_cpu_ticks(&self, roots: &[u32]) -> u64 {
        self.tree(roots)
            .iter()
            .filter_map(|pid| self.processes.get(pid))
            .map(|p| p.own_ticks + p.reaped_children_ticks)
            .sum()
    }
}

pub fn read_stat(pid: u32) -> Option<ProcessStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    ProcessStat::parse(pid, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (celery: worker) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                        250 50 7 3 20 0 3 0 12345 1000000 2000 18446744073709551615";

    #[test]
    fn parses_stat_with_spaces_in_comm() {
        let stat = ProcessStat::parse(4242, STAT).expect("valid stat line");
        assert_eq!(stat.comm, "celery: worker");
        assert_eq!(stat.ppid, 1);
        assert_eq!(stat.own_ticks, 300);
        assert_eq!(stat.reaped_children_ticks, 10);
    }

    #[test]
    fn tree_follows_descendants_only() {
        let p = |pid, ppid, ticks| ProcessStat {
            pid,
            ppid,
            comm: "x".into(),
            own_ticks: ticks,
            reaped_children_ticks: 1,
        };
        let table = ProcessTable::from_stats([
            p(1, 0, 1000),
            p(10, 1, 10),
            p(11, 10, 20),
            p(12, 11, 30),
            p(20, 1, 500),
        ]);
        let tree = table.tree(&[10]);
        assert_eq!(tree, HashSet::from([10, 11, 12]));
        assert_eq!(table.tree_cpu_ticks(&[10]), 10 + 20 + 30 + 3);
        assert!(table.tree(&[999]).is_empty());
    }

    #[test]
    fn reads_own_process() {
        let me = read_stat(std::process::id()).expect("own stat is readable");
        assert_eq!(me.pid, std::process::id());
    }
}
