//! One reported quantity and the per-run samples behind it.
//!
//! Every number the harness publishes is the median of several runs, shown
//! with the min–max spread, because this machine drifts by tens of percent
//! within minutes and a single run says little.

/// What one run of a suite measured for one quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The scenario within the suite, e.g. `classic: publish`.
    pub case: String,
    /// The quantity, e.g. `rate` or `CPU broker`.
    pub metric: String,
    /// Unit as printed, e.g. `msg/s`.
    pub unit: &'static str,
    pub value: f64,
}

impl Measurement {
    pub fn new(
        case: impl Into<String>,
        metric: impl Into<String>,
        unit: &'static str,
        value: f64,
    ) -> Self {
        Self {
            case: case.into(),
            metric: metric.into(),
            unit,
            value,
        }
    }
}

/// Identifies a figure across suites, so comparisons can refer to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FigureKey {
    pub suite: String,
    pub case: String,
    pub metric: String,
}

impl FigureKey {
    pub fn new(suite: &str, case: &str, metric: &str) -> Self {
        Self {
            suite: suite.to_owned(),
            case: case.to_owned(),
            metric: metric.to_owned(),
        }
    }
}

/// All samples of one quantity, tagged with the run they came from so that
/// ratios can pair runs that were taken close together in time.
#[derive(Debug, Clone)]
pub struct Figure {
    pub key: FigureKey,
    pub unit: &'static str,
    pub samples: Vec<RunSample>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSample {
    /// 1-based run number.
    pub run: usize,
    pub value: f64,
}

impl Figure {
    pub fn new(key: FigureKey, unit: &'static str) -> Self {
        Self {
            key,
            unit,
            samples: Vec::new(),
        }
    }

    pub fn values(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.value).collect()
    }

    pub fn median(&self) -> Option<f64> {
        median(&self.values())
    }

    pub fn min(&self) -> Option<f64> {
        self.samples.iter().map(|s| s.value).reduce(f64::min)
    }

    pub fn max(&self) -> Option<f64> {
        self.samples.iter().map(|s| s.value).reduce(f64::max)
    }

    pub fn sample_of_run(&self, run: usize) -> Option<f64> {
        self.samples.iter().find(|s| s.run == run).map(|s| s.value)
    }
}

/// Median; the mean of the two middle values for an even count.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// Nearest-rank percentile (`p` in 0..=100) of unsorted values. Nearest rank
/// rather than interpolation so that a reported p99 is a latency that was
/// actually observed.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 90.0), Some(7.0));
    }

    #[test]
    fn figure_statistics_and_run_lookup() {
        let mut figure = Figure::new(FigureKey::new("s", "c", "m"), "x");
        for (run, value) in [(1, 10.0), (2, 30.0), (3, 20.0)] {
            figure.samples.push(RunSample { run, value });
        }
        assert_eq!(figure.median(), Some(20.0));
        assert_eq!(figure.min(), Some(10.0));
        assert_eq!(figure.max(), Some(30.0));
        assert_eq!(figure.sample_of_run(2), Some(30.0));
        assert_eq!(figure.sample_of_run(4), None);
    }
}
