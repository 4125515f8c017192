//! The job state machine and the outcomes handlers report to the runtime.

pub mod outcome;
pub mod status;

pub use outcome::{Failure, Outcome};
pub use status::JobStatus;
