//! Dex static passwords: editing the user list in Dex's configuration file and
//! restarting Dex so it reads the new list.
//!
//! Restarts follow writes. A job restarts Dex only when its user list was written —
//! by this attempt, or by an earlier attempt of the same job that stopped before the
//! restart (its progress records the write). So a re-run that finds the entry as
//! wanted touches nothing, and neither does an edit that changes nothing.

pub mod config;
pub mod object;

use longshore_shared::job::Failure;
use serde_json::json;

pub use config::{DexConfig, Edit, Entry};
pub use object::{DexObject, RESTART_ANNOTATION};

use crate::Context;

/// The progress step recorded between writing the list and restarting Dex.
const WRITTEN_STEP: &str = "dex-config-written";

/// What an identity job did.
#[derive(Debug, Clone)]
pub struct Change {
    /// Whether this attempt wrote the user list.
    pub written: bool,
    /// Whether Dex was restarted.
    pub restarted: bool,
    /// The entry as it stands after the edit (for a delete, the one removed).
    pub entry: Option<Entry>,
}

/// Applies `edit` to Dex's user list and restarts Dex when the list was written.
pub async fn change(ctx: &Context, edit: &Edit) -> Result<Change, Failure> {
    let settings = &ctx.config().identity;
    let dex = DexObject::new(ctx.kube()?, settings);
    let landed = dex.edit(edit).await?;
    let written = landed.edited.changed;
    if written {
        ctx.progress(json!({"step": WRITTEN_STEP, "fingerprint": landed.fingerprint}))
            .await;
    }
    let earlier_write = ctx
        .previous_progress
        .as_ref()
        .is_some_and(|p| p["step"] == WRITTEN_STEP);
    let restarted = if written || earlier_write {
        // The list as it is now, not as this job left it: when jobs write one after
        // another, whichever restarts last marks Dex with the list it will read.
        let current = dex
            .read()
            .await?
            .fingerprint()
            .map_err(Failure::permanent)?;
        dex.restart(&current).await?
    } else {
        false
    };
    Ok(Change {
        written,
        restarted,
        entry: landed.edited.entry,
    })
}

/// The entry for `email` as Dex's configuration holds it now (no write).
pub async fn lookup(ctx: &Context, email: &str) -> Result<Option<Entry>, Failure> {
    let settings = &ctx.config().identity;
    let config = DexObject::new(ctx.kube()?, settings).read().await?;
    config.find(email).map_err(Failure::permanent)
}
