//! Kubernetes access for the worker (the api never enables this module): a client per
//! target cluster, error classification, and the write helpers every handler uses —
//! server-side apply under one field manager, deletes where "already gone" is success,
//! and retries with backoff on transient errors only.

pub mod apply;
pub mod classify;
pub mod crds;
pub mod targets;

pub use apply::{MANAGER, apply, delete_if_exists, get_opt, retrying};
pub use classify::classify;
pub use targets::{KubeTargets, TargetError};
