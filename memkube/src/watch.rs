//! Watches: newline-delimited JSON events streamed over a chunked response, replayed from
//! the event history when the client resumes from a recent resourceVersion.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, sleep_until};

use crate::ops::{Ctx, ListOptions};
use crate::state::Shared;
use crate::store::{EventType, WatchEvent};
use crate::table::{IncludeObject, table};

const BOOKMARK_EVERY: Duration = Duration::from_secs(1);
/// Real servers cap watches too; clients re-establish them.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Default)]
pub struct WatchParams {
    pub resource_version: Option<String>,
    pub allow_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
    /// Present events as one-row Tables, as `kubectl get -w` asks.
    pub table: Option<IncludeObject>,
}

struct Watcher {
    shared: Arc<Shared>,
    ctx: Ctx,
    options: ListOptions,
    params: WatchParams,
    pending: VecDeque<Bytes>,
    rx: broadcast::Receiver<Arc<WatchEvent>>,
    last_rv: u64,
    deadline: Instant,
    next_bookmark: Instant,
    done: bool,
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut bytes = serde_json::to_vec(&json!({ "type": kind, "object": object }))
        .expect("JSON values always serialize");
    bytes.push(b'\n');
    Bytes::from(bytes)
}

impl Watcher {
    fn encode(&self, kind: &str, object: Value) -> Bytes {
        let object = self.ctx.present(object);
        match self.params.table {
            Some(include) => line(kind, table(&self.ctx.def, &[object], json!({}), include)),
            None => line(kind, object),
        }
    }

    fn in_scope(&self, object: &Value) -> bool {
        self.ctx.namespace.is_empty() || object["metadata"]["namespace"] == self.ctx.namespace
    }

    fn visible(&self, object: &Value) -> bool {
        self.in_scope(object) && self.options.matches(object)
    }

    /// The event this watcher should see, if any; selector changes become ADDED/DELETED.
    fn translate(&self, event: &WatchEvent) -> Option<Bytes> {
        if event.resource != self.ctx.def.group_resource() {
            return None;
        }
        let now = self.visible(&event.object);
        let kind = match event.kind {
            EventType::Modified => {
                let before = event.previous.as_ref().is_some_and(|p| self.visible(p));
                match (before, now) {
                    (true, true) => "MODIFIED",
                    (false, true) => "ADDED",
                    (true, false) => "DELETED",
                    (false, false) => return None,
                }
            }
            other if now => other.as_str(),
            _ => return None,
        };
        Some(self.encode(kind, event.object.clone()))
    }

    fn bookmark(&self, annotations: Value) -> Bytes {
        let object = json!({
            "kind": self.ctx.def.kind,
            "apiVersion": self.ctx.api_version(),
            "metadata": { "resourceVersion": self.last_rv.to_string(), "annotations": annotations },
        });
        line("BOOKMARK", object)
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some(chunk);
            }
            if self.done {
                return None;
            }
            let bookmark_at = if self.params.allow_bookmarks {
                self.next_bookmark
            } else {
                self.deadline
            };
            tokio::select! {
                received = self.rx.recv() => match received {
                    Ok(event) if event.rv > self.last_rv => {
                        self.last_rv = event.rv;
                        if let Some(chunk) = self.translate(&event) {
                            return Some(chunk);
                        }
                    }
                    Ok(_) => {}
                    // A watcher that fell behind ends; the client resumes from its last event.
                    Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
                },
                () = sleep_until(bookmark_at), if bookmark_at < self.deadline => {
                    // Every committed event passes through `rx`, so `last_rv` is exactly
                    // what this watcher has seen; the store's newer RV may still be queued.
                    self.next_bookmark = Instant::now() + BOOKMARK_EVERY;
                    return Some(self.bookmark(json!({})));
                }
                () = sleep_until(self.deadline) => return None,
                () = self.shared.shutdown.cancelled() => return None,
            }
        }
    }
}

fn too_old(requested: u64, oldest: u64) -> Bytes {
    line(
        "ERROR",
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": format!("too old resource version: {requested} ({oldest})"),
            "reason": "Expired",
            "code": 410,
        }),
    )
}

/// Starts a watch; the response streams until timeout, shutdown or the client leaves.
pub fn serve(shared: Arc<Shared>, ctx: Ctx, options: ListOptions, params: WatchParams) -> Response {
    let now = Instant::now();
    let mut watcher = {
        let store = shared.read();
        let rx = store.subscribe();
        let mut watcher = Watcher {
            shared: shared.clone(),
            ctx,
            options,
            pending: VecDeque::new(),
            rx,
            last_rv: store.resource_version(),
            deadline: now + params.timeout.unwrap_or(DEFAULT_TIMEOUT),
            next_bookmark: now + BOOKMARK_EVERY,
            params,
            done: false,
        };
        let requested = watcher
            .params
            .resource_version
            .as_deref()
            .filter(|rv| !rv.is_empty() && *rv != "0")
            .and_then(|rv| rv.parse::<u64>().ok());
        match requested {
            Some(rv) if !watcher.params.send_initial_events => match store.events_since(rv) {
                Ok(events) => {
                    let chunks: Vec<Bytes> =
                        events.iter().filter_map(|e| watcher.translate(e)).collect();
                    watcher.pending.extend(chunks);
                }
                Err(old) => {
                    watcher
                        .pending
                        .push_back(too_old(old.requested, old.oldest));
                    watcher.done = true;
                }
            },
            _ => {
                let namespace =
                    (!watcher.ctx.namespace.is_empty()).then_some(watcher.ctx.namespace.as_str());
                let initial: Vec<Bytes> = store
                    .list(&watcher.ctx.def.group_resource(), namespace)
                    .filter(|(_, o)| watcher.options.matches(o))
                    .map(|(_, o)| watcher.encode("ADDED", o.clone()))
                    .collect();
                watcher.pending.extend(initial);
                if watcher.params.send_initial_events && watcher.params.allow_bookmarks {
                    let end = watcher.bookmark(json!({ "k8s.io/initial-events-end": "true" }));
                    watcher.pending.push_back(end);
                }
            }
        }
        watcher
    };
    watcher.next_bookmark = now + BOOKMARK_EVERY;
    let stream = futures::stream::unfold(watcher, |mut watcher| async move {
        let chunk = watcher.next_chunk().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), watcher))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
