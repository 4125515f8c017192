//! Turning per-run measurements into the published table.
//!
//! Suites only hand in [`Measurement`]s; everything about aggregation
//! (median, min–max, paired ratios) and presentation lives here, so new
//! suites need no reporting code of their own.

pub mod benchmarks_file;
pub mod figure;
pub mod goal;
pub mod results;
pub mod section;
pub mod table;

pub use figure::{Measurement, percentile};
pub use goal::{Bound, Goal, Subject};
pub use results::{Comparison, Results};
pub use section::{SectionContext, render_section};
