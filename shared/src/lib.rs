//! What Longshore's api, worker and scheduler agree on: the command catalogue and its
//! envelope, the job state machine, the job store, the broker topology and transports,
//! configuration and telemetry.

pub mod clock;
pub mod command;
pub mod domain;
pub mod job;
pub mod store;
pub mod broker;
pub mod access;
pub mod config;
pub mod intake;
pub mod telemetry;
#[cfg(feature = "test-util")]
pub mod testing;
#[cfg(feature = "kube")]
pub mod kube;
