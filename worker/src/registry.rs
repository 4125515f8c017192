//! Handlers by kind. Registering a typed handler also registers how to parse its
//! payload, so the runtime dispatches on the kind string alone.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use longshore_shared::command::{Command, parse_payload};
use longshore_shared::job::{Failure, Outcome};
use longshore_shared::tenancy::{self, TenancyError, Touch};

use crate::Context;

pub type HandlerResult = Result<Outcome, Failure>;
type Boxed =
    Arc<dyn Fn(serde_json::Value, Context) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// The tenant rule, for commands that reached the queue without the api: a command
/// acting for a tenant that does not own its object fails at once, before any effect.
async fn check_tenancy(touches: &[Touch], ctx: &Context) -> Result<(), Failure> {
    if touches.is_empty() {
        return Ok(());
    }
    match tenancy::check(ctx.store(), touches, ctx.tenant.as_deref()).await {
        Ok(_) => Ok(()),
        Err(err @ TenancyError::NotYours { .. }) => Err(Failure::Permanent(format!(
            "refused: {err}; a command may act only on its own tenant's objects"
        ))),
        Err(TenancyError::Store(err)) => Err(Failure::Transient(format!(
            "checking who owns what the command acts on: {err}"
        ))),
    }
}

#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<&'static str, Boxed>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers `handler` for `C::KIND`.
    pub fn register<C, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        C: Command,
        F: Fn(C, Context) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let boxed: Boxed = Arc::new(move |payload, ctx| {
            let handler = handler.clone();
            Box::pin(async move {
                // The api validated the payload already; a producer publishing straight
                // to the exchange may not have, and retrying cannot fix a bad payload.
                let command = parse_payload::<C>(&payload).map_err(Failure::permanent)?;
                check_tenancy(&command.touches(), &ctx).await?;
                handler(command, ctx).await
            })
        });
        self.handlers.insert(C::KIND, boxed);
        self
    }

    pub fn contains(&self, kind: &str) -> bool {
        self.handlers.contains_key(kind)
    }

    /// Runs the handler of `kind`; a kind of the catalogue without a handler fails
    /// permanently rather than pretending to succeed.
    pub fn run(
        &self,
        kind: &str,
        payload: serde_json::Value,
        ctx: Context,
    ) -> BoxFuture<'static, HandlerResult> {
        match self.handlers.get(kind) {
            Some(handler) => handler(payload, ctx),
            None => {
                let message = format!("`{kind}` is not implemented yet");
                Box::pin(async move { Err(Failure::Permanent(message)) })
            }
        }
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }
}
