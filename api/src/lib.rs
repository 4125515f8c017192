//! The intake api: authenticates, validates, writes job + outbox in one transaction,
//! publishes, and answers `202 Accepted`. It holds no Kubernetes credentials; every
//! query is answered from the job store.

pub mod circuit;
pub mod error;
pub mod extract;
mod keep_alive;
pub mod routes;
pub mod state;
mod views;

pub use state::AppState;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let body_limit = state.body_limit;
    Router::new()
        .merge(routes::health::routes())
        .merge(routes::apps::routes())
        .merge(routes::commands::routes())
        .merge(routes::jobs::routes())
        .merge(routes::tokens::routes())
        .merge(routes::users::routes())
        .merge(routes::projects::routes())
        .merge(routes::tenants::routes())
        .merge(routes::clusters::routes())
        .merge(routes::instances::routes())
        .merge(routes::workspaces::routes())
        .merge(routes::images::routes())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            circuit::guard,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(keep_alive::close_if_unread))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| req.uri().path().to_owned());
            // A caller's own `x-request-id` is kept, so its logs and ours correlate.
            let request_id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!(
                "request",
                method = %req.method(),
                route,
                request_id,
                job_id = tracing::field::Empty,
                caller = tracing::field::Empty,
            )
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
