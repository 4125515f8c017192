//! Measures one window of work: wall time, CPU of the broker, of PostgreSQL
//! and of the system under test, and the system under test's peak RSS.
//!
//! CPU is read from `/proc` at both ends of the window, so it covers all
//! processes of each tree without instrumenting them.

use crate::procfs::{PeakRssSampler, ProcessTable, services};
use crate::report::Measurement;
use std::time::{Duration, Instant};

/// Root processes of the shared services, found once at start-up.
#[derive(Debug, Clone)]
pub struct ServiceProcesses {
    pub broker: Vec<u32>,
    pub postgres: Vec<u32>,
    pub clock_ticks_per_second: u64,
}

impl ServiceProcesses {
    pub fn discover() -> Self {
        let table = ProcessTable::scan();
        Self {
            broker: services::rabbitmq_roots(&table),
            postgres: services::postgres_roots(&table),
            clock_ticks_per_second: crate::procfs::clock_ticks_per_second(),
        }
    }
}

struct CpuTicks {
    broker: u64,
    postgres: u64,
    sut: u64,
    harness: u64,
}

impl CpuTicks {
    fn take(services: &ServiceProcesses, sut: &[u32]) -> Self {
        let table = ProcessTable::scan();
        Self {
            broker: table.tree_cpu_ticks(&services.broker),
            postgres: table.tree_cpu_ticks(&services.postgres),
            sut: table.tree_cpu_ticks(sut),
            harness: table.get(std::process::id()).map_or(0, |own| own.own_ticks),
        }
    }
}

/// An open measurement window.
pub struct Probe {
    services: ServiceProcesses,
    sut_roots: Vec<u32>,
    started: Instant,
    before: CpuTicks,
    rss: PeakRssSampler,
}

impl Probe {
    /// Opens a window; `sut_roots` are the system under test's root
    /// processes (their descendants are included).
    pub fn start(services: &ServiceProcesses, sut_roots: Vec<u32>) -> Self {
        let rss = PeakRssSampler::start(sut_roots.clone());
        let before = CpuTicks::take(services, &sut_roots);
        Self {
            services: services.clone(),
            sut_roots,
            started: Instant::now(),
            before,
            rss,
        }
    }

    pub fn finish(self) -> Usage {
        let elapsed = self.started.elapsed();
        let after = CpuTicks::take(&self.services, &self.sut_roots);
        let ms_per_tick = 1000.0 / self.services.clock_ticks_per_second as f64;
        let ms = |before: u64, after: u64| after.saturating_sub(before) as f64 * ms_per_tick;
        Usage {
            elapsed,
            broker_cpu_ms: (!self.services.broker.is_empty())
                .then(|| ms(self.before.broker, after.broker)),
            postgres_cpu_ms: (!self.services.postgres.is_empty())
                .then(|| ms(self.before.postgres, after.postgres)),
            sut_cpu_ms: ms(self.before.sut, after.sut),
            harness_cpu_ms: ms(self.before.harness, after.harness),
            sut_peak_rss_mib: self.rss.stop(&self.sut_roots),
        }
    }
}

/// What a window cost. Broker or PostgreSQL figures are `None` when their
/// processes could not be found on this machine.
#[derive(Debug, Clone)]
pub struct Usage {
    pub elapsed: Duration,
    pub broker_cpu_ms: Option<f64>,
    pub postgres_cpu_ms: Option<f64>,
    pub sut_cpu_ms: f64,
    /// The harness process itself: its load generator, polls and samplers. Where it
    /// is not the system under test it competes with it for the same cores.
    pub harness_cpu_ms: f64,
    pub sut_peak_rss_mib: f64,
}

/// How to label a throughput window's figures.
pub struct ThroughputLabels<'a> {
    pub case: &'a str,
    /// Unit of work: `msg`, `task`, `job` or `request`.
    pub item: &'static str,
    /// Name of the system under test in the CPU metric, e.g. `lapin client`.
    pub sut: &'a str,
    /// Whether PostgreSQL takes part; when it does not, its (idle or
    /// foreign) CPU would only add noise to the total.
    pub with_postgres: bool,
}

impl Usage {
    /// Rate, CPU per item (per process group and in total) and peak RSS for
    /// `items` processed in this window.
    pub fn throughput(&self, items: u64, labels: &ThroughputLabels<'_>) -> Vec<Measurement> {
        let per_item = |ms: f64| ms / items.max(1) as f64;
        let (rate_unit, cpu_unit) = units(labels.item);
        let case = labels.case;
        let mut out = vec![Measurement::new(
            case,
            "rate",
            rate_unit,
            items as f64 / self.elapsed.as_secs_f64(),
        )];
        let mut total = self.sut_cpu_ms;
        if let Some(broker) = self.broker_cpu_ms {
            out.push(Measurement::new(
                case,
                "CPU RabbitMQ",
                cpu_unit,
                per_item(broker),
            ));
            total += broker;
        }
        if labels.with_postgres
            && let Some(pg) = self.postgres_cpu_ms
        {
            out.push(Measurement::new(
                case,
                "CPU PostgreSQL",
                cpu_unit,
                per_item(pg),
            ));
            total += pg;
        }
        out.push(Measurement::new(
            case,
            format!("CPU {}", labels.sut),
            cpu_unit,
            per_item(self.sut_cpu_ms),
        ));
        out.push(Measurement::new(
            case,
            "CPU total",
            cpu_unit,
            per_item(total),
        ));
        out.push(Measurement::new(
            case,
            format!("peak RSS {}", labels.sut),
            "MiB",
            self.sut_peak_rss_mib,
        ));
        out
    }
}

/// The harness's own CPU per item, outside every total: what the load generator takes
/// from the cores the system under test runs on.
pub fn harness_figure(case: &str, usage: &Usage, item: &'static str, items: u64) -> Measurement {
    Measurement::new(
        case,
        "CPU harness (not in total)",
        units(item).1,
        usage.harness_cpu_ms / items.max(1) as f64,
    )
}

pub fn units(item: &'static str) -> (&'static str, &'static str) {
    match item {
        "task" => ("task/s", "ms CPU/task"),
        "job" => ("job/s", "ms CPU/job"),
        "request" => ("req/s", "ms CPU/req"),
        _ => ("msg/s", "ms CPU/msg"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_figures_per_item() {
        let usage = Usage {
            elapsed: Duration::from_secs(2),
            broker_cpu_ms: Some(1000.0),
            postgres_cpu_ms: Some(500.0),
            sut_cpu_ms: 1000.0,
            harness_cpu_ms: 300.0,
            sut_peak_rss_mib: 12.0,
        };
        let labels = ThroughputLabels {
            case: "c",
            item: "msg",
            sut: "client",
            with_postgres: false,
        };
        let figures = usage.throughput(10_000, &labels);
        let get = |metric: &str| figures.iter().find(|m| m.metric == metric).map(|m| m.value);
        assert_eq!(get("rate"), Some(5000.0));
        assert_eq!(get("CPU RabbitMQ"), Some(0.1));
        assert_eq!(get("CPU PostgreSQL"), None);
        assert_eq!(get("CPU client"), Some(0.1));
        assert_eq!(get("CPU total"), Some(0.2));
        assert_eq!(get("peak RSS client"), Some(12.0));
    }

    #[tokio::test]
    async fn probe_charges_own_cpu_to_the_sut() {
        let services = ServiceProcesses {
            broker: vec![],
            postgres: vec![],
            clock_ticks_per_second: crate::procfs::clock_ticks_per_second(),
        };
        let probe = Probe::start(&services, vec![std::process::id()]);
        let spin_until = Instant::now() + Duration::from_millis(200);
        let mut x = 0u64;
        while Instant::now() < spin_until {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
        let usage = probe.finish();
        assert!(usage.sut_cpu_ms >= 100.0, "{usage:?}");
        assert!(usage.broker_cpu_ms.is_none());
        assert!(usage.sut_peak_rss_mib > 0.0);
    }
}
