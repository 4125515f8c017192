//! What Longshore's api, worker and scheduler agree on: the command catalogue and its
//! envelope, the job state machine, the job store, the broker topology and transports,
//! configuration and telemetry.

pub mod clock;
pub mod command;
pub mod domain;
pub mod job;
