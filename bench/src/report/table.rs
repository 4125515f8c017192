//! Renders results as Markdown tables, the same text for stdout and for
//! `BENCHMARKS.md`.

use super::goal::Goal;
use super::results::{Comparison, Results};
use std::fmt::Write as _;

/// The figures table, then the ratios table when any comparison could be
/// computed, then the goals (if any suite set some), then failed runs if
/// there were any.
pub fn render(results: &Results, comparisons: &[Comparison], goals: &[Goal]) -> String {
    let mut out = String::new();
    out.push_str("| Suite | Case | Metric | Median | Min – Max | Unit | Runs |\n");
    out.push_str("|---|---|---|---:|---:|---|---:|\n");
    let mut previous: Option<(&str, &str)> = None;
    for figure in results.figures() {
        let (Some(median), Some(min), Some(max)) = (figure.median(), figure.min(), figure.max())
        else {
            continue;
        };
        let key = &figure.key;
        // Repeating suite and case on every line makes the table hard to
        // scan; show them only where they change.
        let (suite, case) = match previous {
            Some((s, c)) if s == key.suite && c == key.case => ("", ""),
            Some((s, _)) if s == key.suite => ("", key.case.as_str()),
            _ => (key.suite.as_str(), key.case.as_str()),
        };
        previous = Some((&key.suite, &key.case));
        let _ = writeln!(
            out,
            "| {suite} | {case} | {} | {} | {} – {} | {} | {} |",
            key.metric,
            format_value(median),
            format_value(min),
            format_value(max),
            figure.unit,
            figure.samples.len(),
        );
    }

    let ratios: Vec<_> = comparisons
        .iter()
        .filter_map(|c| results.ratio(c))
        .collect();
    if !ratios.is_empty() {
        out.push_str("\n| Ratio (paired runs) | Median | Min – Max | Pairs |\n");
        out.push_str("|---|---:|---:|---:|\n");
        for r in ratios {
            let _ = writeln!(
                out,
                "| {} | {} | {} – {} | {} |",
                r.label,
                format_value(r.median),
                format_value(r.min),
                format_value(r.max),
                r.paired_runs
            );
        }
    }

    if !goals.is_empty() {
        out.push_str("\n| Goal | Target | Median | Min – Max | Verdict |\n");
        out.push_str("|---|---:|---:|---:|---|\n");
        for goal in goals {
            let verdict = goal.judge(results);
            let (median, range) = match verdict.measured {
                Some((median, min, max)) => (
                    format_value(median),
                    format!("{} – {}", format_value(min), format_value(max)),
                ),
                None => ("—".to_owned(), "—".to_owned()),
            };
            let met = match verdict.met {
                Some(true) => "met",
                Some(false) => "**not met**",
                None => "not measured",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {median} | {range} | {met} |",
                verdict.label, verdict.target
            );
        }
    }

    if !results.failures().is_empty() {
        out.push_str("\nFailed runs (excluded from the figures above):\n\n");
        for failure in results.failures() {
            let _ = writeln!(out, "- {failure}");
        }
    }
    out
}

/// About three significant digits, without scientific notation: enough to
/// compare, and not pretending to a precision ±25% drift does not allow.
pub fn format_value(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::figure::{FigureKey, Measurement};
    use crate::report::goal::{Bound, Subject};

    #[test]
    fn value_formatting_keeps_about_three_digits() {
        assert_eq!(format_value(17012.4), "17012");
        assert_eq!(format_value(19.26), "19.3");
        assert_eq!(format_value(1.234), "1.23");
        assert_eq!(format_value(0.1234), "0.123");
    }

    #[test]
    fn renders_figures_and_ratios() {
        let mut results = Results::default();
        for run in 1..=3 {
            results.record(
                "raw",
                run,
                vec![
                    Measurement::new("publish", "rate", "msg/s", 1000.0 * run as f64),
                    Measurement::new("publish", "CPU total", "ms/msg", 0.1),
                ],
            );
            results.record(
                "other",
                run,
                vec![Measurement::new("drain", "rate", "msg/s", 500.0)],
            );
        }
        let goals = [Goal {
            label: "publish fast enough".into(),
            subject: Subject::Figure(FigureKey::new("raw", "publish", "rate"), "msg/s"),
            bound: Bound::AtLeast(2500.0),
        }];
        let table = render(
            &results,
            &[Comparison {
                label: "raw/other".into(),
                numerator: FigureKey::new("raw", "publish", "rate"),
                denominator: FigureKey::new("other", "drain", "rate"),
            }],
            &goals,
        );
        assert!(table.contains("| raw | publish | rate | 2000 | 1000 – 3000 | msg/s | 3 |"));
        assert!(table.contains("|  |  | CPU total | 0.100 | 0.100 – 0.100 | ms/msg | 3 |"));
        assert!(table.contains("| raw/other | 4.00 | 2.00 – 6.00 | 3 |"));
        assert!(
            table.contains(
                "| publish fast enough | ≥ 2500 msg/s | 2000 | 1000 – 3000 | **not met** |"
            )
        );
    }
}
