//! What every request handler shares.

use longshore_shared::broker::Transport;
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
        }
    }
}
