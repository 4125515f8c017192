//! Runs suites interleaved: run 1 of every suite, then run 2 of every
//! suite, and so on. The machine's throughput drifts by up to ±25% within
//! minutes; interleaving spreads that drift over all compared systems
//! instead of favouring whichever ran in the quiet minutes.

use crate::report::{Results, table::format_value};
use crate::suite::{BenchContext, Suite};
use anyhow::Context;

pub async fn prepare_all(suites: &mut [Box<dyn Suite>], ctx: &BenchContext) -> anyhow::Result<()> {
    for suite in suites.iter_mut() {
        eprintln!("preparing {}", suite.name());
        let name = suite.name().to_owned();
        suite
            .prepare(ctx)
            .await
            .with_context(|| format!("preparing suite {name}"))?;
    }
    Ok(())
}

/// A failed run is recorded and reported, not fatal: the other runs and
/// suites still say something, and a long session is not thrown away.
pub async fn run_interleaved(
    suites: &mut [Box<dyn Suite>],
    ctx: &BenchContext,
    runs: usize,
) -> Results {
    let mut results = Results::default();
    for run in 1..=runs {
        for suite in suites.iter_mut() {
            let name = suite.name().to_owned();
            eprintln!("run {run}/{runs}: {name}");
            match suite.run_once(ctx, run).await {
                Ok(measurements) => {
                    for m in &measurements {
                        eprintln!(
                            "  {:<34} {:<24} {:>10} {}",
                            m.case,
                            m.metric,
                            format_value(m.value),
                            m.unit
                        );
                    }
                    results.record(&name, run, measurements);
                }
                Err(error) => {
                    eprintln!("  run failed: {error:#}");
                    results.record_failure(&name, run, &error);
                }
            }
        }
    }
    results
}
