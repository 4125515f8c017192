//! What every request handler shares.

use std::sync::Arc;

use longshore_shared::broker::Transport;
use longshore_shared::config::Config;
use longshore_shared::intake::Intake;
use longshore_shared::store::Store;

use crate::circuit::StoreCircuit;
use crate::extract::auth::TokenCache;

/// Cloned for every request (axum hands each handler and extractor its own copy), so
/// it is one shared pointer rather than a handful.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

#[derive(Clone)]
pub struct Shared {
    pub intake: Intake,
    pub store: Store,
    pub transport: Transport,
    pub tokens: TokenCache,
    /// Opens while the job store is away, so requests are answered at once.
    pub circuit: StoreCircuit,
    pub body_limit: usize,
    /// The identity and projects settings the user and project routes apply up front
    /// (bcrypt cost, login URL, quota defaults, GPU keys).
    pub config: Arc<Config>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(intake: Intake, transport: Transport, body_limit: usize) -> Self {
        let store = intake.store().clone();
        AppState(Arc::new(Shared {
            tokens: TokenCache::new(store.clone()),
            circuit: StoreCircuit::new(store.clone()),
            intake,
            store,
            transport,
            body_limit,
            config: Arc::new(Config::default()),
        }))
    }

    /// The same state with `config`'s settings instead of the defaults.
    pub fn with_config(self, config: Arc<Config>) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.0);
        shared.config = config;
        AppState(Arc::new(shared))
    }
}
