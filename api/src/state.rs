//! What every request handler shares.

use std::sync::Arc;

use longshore_shared::broker::Transport;
use longshore_shared::config::Config;
use longshore_shared::intake::Intake;
use longshore_shared::store::Store;

use crate::extract::auth::TokenCache;

#[derive(Clone)]
pub struct AppState {
    pub intake: Intake,
    pub store: Store,
    pub transport: Transport,
    pub tokens: TokenCache,
    pub body_limit: usize,
    /// The identity and projects settings the user and project routes apply up front
    /// (bcrypt cost, login URL, quota defaults, GPU keys).
    pub config: Arc<Config>,
}

impl AppState {
    pub fn new(intake: Intake, transport: Transport, body_limit: usize) -> Self {
        let store = intake.store().clone();
        AppState {
            tokens: TokenCache::new(store.clone()),
            intake,
            store,
            transport,
            body_limit,
            config: Arc::new(Config::default()),
        }
    }

    /// The same state with `config`'s settings instead of the defaults.
    pub fn with_config(mut self, config: Arc<Config>) -> Self {
        self.config = config;
        self
    }
}
