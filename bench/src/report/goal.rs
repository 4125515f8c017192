//! Targets the figures are held against ("e2e ≥ 3.5× Celery", "idle RSS
//! ≤ 64 MiB"), judged on the median and printed next to the figures, so a
//! reader sees at once which targets the measured build meets.

use super::figure::FigureKey;
use super::results::{Comparison, Results};
use super::table::format_value;

/// Which side of the threshold meets the goal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

impl Bound {
    pub fn holds(self, value: f64) -> bool {
        match self {
            Bound::AtLeast(t) => value >= t,
            Bound::AtMost(t) => value <= t,
        }
    }

    fn describe(self, unit: &str) -> String {
        let (sign, t) = match self {
            Bound::AtLeast(t) => ("≥", t),
            Bound::AtMost(t) => ("≤", t),
        };
        // Ratios read as "≥ 3.50×", quantities as "≤ 64.0 MiB".
        let gap = if unit.is_empty() || unit == "×" {
            ""
        } else {
            " "
        };
        format!("{sign} {}{gap}{unit}", format_value(t))
    }
}

/// What a goal is about: one figure (with its unit, for the target column
/// even when the figure is missing), or the paired-run ratio of two.
#[derive(Debug, Clone)]
pub enum Subject {
    Figure(FigureKey, &'static str),
    Ratio(Comparison),
}

#[derive(Debug, Clone)]
pub struct Goal {
    pub label: String,
    pub subject: Subject,
    pub bound: Bound,
}

/// A goal checked against this invocation's results. `None` figures mean
/// a side was not measured (e.g. `longshore` alone has no Celery figures).
#[derive(Debug, Clone)]
pub struct Verdict {
    pub label: String,
    pub target: String,
    /// Median, min and max of the subject.
    pub measured: Option<(f64, f64, f64)>,
    pub met: Option<bool>,
}

impl Goal {
    pub fn judge(&self, results: &Results) -> Verdict {
        let (measured, unit) = match &self.subject {
            Subject::Figure(key, unit) => {
                let figure = results.figure(key);
                let stats = figure.and_then(|f| Some((f.median()?, f.min()?, f.max()?)));
                (stats, *unit)
            }
            Subject::Ratio(comparison) => (
                results.ratio(comparison).map(|r| (r.median, r.min, r.max)),
                "×",
            ),
        };
        Verdict {
            label: self.label.clone(),
            target: self.bound.describe(unit),
            measured,
            met: measured.map(|(median, _, _)| self.bound.holds(median)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Measurement;

    #[test]
    fn goals_are_judged_on_the_median() {
        let mut results = Results::default();
        for (run, rss) in [(1, 60.0), (2, 70.0), (3, 62.0)] {
            results.record("s", run, vec![Measurement::new("idle", "RSS", "MiB", rss)]);
        }
        let goal = Goal {
            label: "idle RSS".into(),
            subject: Subject::Figure(FigureKey::new("s", "idle", "RSS"), "MiB"),
            bound: Bound::AtMost(64.0),
        };
        let verdict = goal.judge(&results);
        assert_eq!(verdict.met, Some(true));
        assert_eq!(verdict.measured, Some((62.0, 60.0, 70.0)));
        assert_eq!(verdict.target, "≤ 64.0 MiB");
    }

    #[test]
    fn unmeasured_goals_have_no_verdict() {
        let goal = Goal {
            label: "ratio".into(),
            subject: Subject::Ratio(Comparison {
                label: "a/b".into(),
                numerator: FigureKey::new("a", "x", "rate"),
                denominator: FigureKey::new("b", "y", "rate"),
            }),
            bound: Bound::AtLeast(3.5),
        };
        let verdict = goal.judge(&Results::default());
        assert_eq!(verdict.met, None);
        assert_eq!(verdict.target, "≥ 3.50×");
    }
}
