//! The worker: consumes commands, runs the handler of each command's kind, records the
//! outcome in the job store, then acks. The runtime owns policy (claiming, leases,
//! timeouts, retries, dead letters, shutdown); handlers own effects.

pub mod context;
pub mod handlers;
pub mod inventory;
pub mod registry;
pub mod runtime;

pub use context::{Context, Services};
pub use registry::Registry;
pub use runtime::{Runtime, RuntimeSettings};
