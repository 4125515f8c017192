//! State shared by the HTTP server, the simulated controllers and the in-process handle.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::faults::Faults;
use crate::store::Store;

#[derive(Default)]
pub struct Shared {
    store: RwLock<Store>,
    faults: Mutex<Faults>,
    /// Woken after every write, for persistence.
    pub changed: Notify,
    pub shutdown: CancellationToken,
}

impl Shared {
    pub fn new(store: Store) -> Self {
        Self {
            store: RwLock::new(store),
            ..Self::default()
        }
    }

    // A panic while holding a lock leaves a consistent-enough store for a test double, so
    // poisoning is ignored rather than cascading into every later request.
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
}
