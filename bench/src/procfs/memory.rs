//! Peak resident memory of a process tree, by sampling.
//!
//! Per-process high-water marks (`VmHWM`) cannot simply be added for a tree:
//! the peaks happen at different times and forked workers share pages.
//! Sampling the summed `VmRSS` gives the peak the tree actually reached, at
//! the cost of possibly missing a spike shorter than the interval.

use super::process_table::ProcessTable;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// `VmRSS` of one process in KiB, if it is still alive.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kib(&status, "VmRSS:")
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Summed `VmRSS` of the trees under `roots`, in KiB.
pub fn tree_rss_kib(roots: &[u32]) -> u64 {
    // The harness's own process has no children worth scanning /proc for;
    // skipping the scan keeps the sampler's CPU out of the measurement when
    // the harness itself is the system under test.
    if roots == [std::process::id()] {
        return rss_kib(roots[0]).unwrap_or(0);
    }
    let table = ProcessTable::scan();
    table.tree(roots).into_iter().filter_map(rss_kib).sum()
}

/// Samples the trees under some roots in the background until stopped.
pub struct PeakRssSampler {
    peak_kib: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl PeakRssSampler {
    pub fn start(roots: Vec<u32>) -> Self {
        let peak_kib = Arc::new(AtomicU64::new(tree_rss_kib(&roots)));
        let peak = Arc::clone(&peak_kib);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
            loop {
                tick.tick().await;
                let roots = roots.clone();
                if let Ok(kib) = tokio::task::spawn_blocking(move || tree_rss_kib(&roots)).await {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
            }
        });
        Self { peak_kib, task }
    }

    /// Stops sampling and returns the peak in MiB, including a last sample.
    pub fn stop(self, roots: &[u32]) -> f64 {
        self.task.abort();
        self.peak_kib
            .fetch_max(tree_rss_kib(roots), Ordering::Relaxed);
        self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rss_line() {
        let status = "Name:\tx\nVmHWM:\t  9000 kB\nVmRSS:\t  1234 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(1234));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn own_rss_is_positive() {
        assert!(tree_rss_kib(&[std::process::id()]) > 0);
    }
}
