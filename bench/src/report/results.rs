//! Accumulates measurements from interleaved runs into figures, and derives
//! ratios between figures of different suites.

use super::figure::{Figure, FigureKey, Measurement, RunSample, median};

/// A ratio to report, e.g. "Longshore end-to-end / Celery drain".
#[derive(Debug, Clone)]
pub struct Comparison {
    pub label: String,
    pub numerator: FigureKey,
    pub denominator: FigureKey,
}

/// Statistics of a comparison over the runs where both sides were measured.
#[derive(Debug, Clone)]
pub struct RatioStats {
    pub label: String,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub paired_runs: usize,
}

/// Everything measured during one harness invocation.
#[derive(Debug, Default)]
pub struct Results {
    /// In first-seen order, so the table follows the order suites report in.
    figures: Vec<Figure>,
    failures: Vec<String>,
}

impl Results {
    pub fn record(&mut self, suite: &str, run: usize, measurements: Vec<Measurement>) {
        for m in measurements {
            let key = FigureKey {
                suite: suite.to_owned(),
                case: m.case,
                metric: m.metric,
            };
            let figure = match self.figures.iter().position(|f| f.key == key) {
                Some(i) => &mut self.figures[i],
                None => {
                    self.figures.push(Figure::new(key, m.unit));
                    self.figures.last_mut().expect("just pushed")
                }
            };
            figure.samples.push(RunSample {
                run,
                value: m.value,
            });
        }
    }

    pub fn record_failure(&mut self, suite: &str, run: usize, error: &anyhow::Error) {
        self.failures
            .push(format!("{suite}, run {run}: {}", one_line(error)));
    }

    pub fn figures(&self) -> &[Figure] {
        &self.figures
    }

    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    pub fn figure(&self, key: &FigureKey) -> Option<&Figure> {
        self.figures.iter().find(|f| &f.key == key)
    }

    /// Ratios are taken per run and then summarised, rather than dividing
    /// the two medians: runs of the compared systems are interleaved, so a
    /// run's pair shares the same machine conditions and the drift between
    /// runs cancels out.
    pub fn ratio(&self, comparison: &Comparison) -> Option<RatioStats> {
        let numerator = self.figure(&comparison.numerator)?;
        let denominator = self.figure(&comparison.denominator)?;
        let ratios: Vec<f64> = numerator
            .samples
            .iter()
            .filter_map(|s| {
                let d = denominator.sample_of_run(s.run)?;
                (d != 0.0).then(|| s.value / d)
            })
            .collect();
        Some(RatioStats {
            label: comparison.label.clone(),
            median: median(&ratios)?,
            min: ratios.iter().copied().reduce(f64::min)?,
            max: ratios.iter().copied().reduce(f64::max)?,
            paired_runs: ratios.len(),
        })
    }
}

/// Flattens an error chain so it fits in a footnote; long causes (e.g. a
/// Python traceback) are cut, the full text is in the run's log on stderr.
fn one_line(error: &anyhow::Error) -> String {
    const MAX_CHARS: usize = 400;
    let text = format!("{error:#}").replace('\n', " ");
    if text.chars().count() <= MAX_CHARS {
        return text;
    }
    let cut: String = text.chars().take(MAX_CHARS).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(case: &str, value: f64) -> Vec<Measurement> {
        vec![Measurement::new(case, "rate", "msg/s", value)]
    }

    #[test]
    fn ratios_pair_samples_by_run() {
        let mut results = Results::default();
        results.record("a", 1, m("x", 100.0));
        results.record("b", 1, m("y", 50.0));
        results.record("a", 2, m("x", 300.0));
        results.record("b", 2, m("y", 100.0));
        // Run 3 of "b" failed: the unpaired sample of "a" must be ignored.
        results.record("a", 3, m("x", 1000.0));

        let stats = results
            .ratio(&Comparison {
                label: "a/b".into(),
                numerator: FigureKey::new("a", "x", "rate"),
                denominator: FigureKey::new("b", "y", "rate"),
            })
            .expect("both figures exist");
        assert_eq!(stats.paired_runs, 2);
        assert_eq!(stats.min, 2.0);
        assert_eq!(stats.max, 3.0);
        assert_eq!(stats.median, 2.5);
    }

    #[test]
    fn figures_keep_first_seen_order() {
        let mut results = Results::default();
        results.record("s", 1, m("second", 1.0));
        results.record("s", 1, m("first", 1.0));
        results.record("s", 2, m("second", 2.0));
        let cases: Vec<&str> = results
            .figures()
            .iter()
            .map(|f| f.key.case.as_str())
            .collect();
        assert_eq!(cases, ["second", "first"]);
        assert_eq!(results.figures()[0].samples.len(), 2);
    }
}
