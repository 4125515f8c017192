//! What Longshore's api, worker and scheduler agree on: the command catalogue and its
//! envelope, the job state machine, the job store, the broker topology and transports,
//! configuration and telemetry.

pub mod access;
pub mod batching;
pub mod broker;
pub mod clock;
pub mod command;
pub mod config;
pub mod domain;
pub mod intake;
pub mod job;
#[cfg(feature = "kube")]
pub mod kube;
pub mod store;
pub mod telemetry;
pub mod tenancy;
#[cfg(feature = "test-util")]
pub mod testing;
