//! Keep-alive after an answer given before the body was read. A request refused
//! early (no token, no route, a body over the limit) leaves its body unread, and the
//! server then closes the connection; a keep-alive client that was not told would send
//! its next request into the closed socket. Such answers carry `Connection: close`, so
//! the client opens a new connection instead. Bodies that were read keep the
//! connection open.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;

pub async fn close_if_unread(request: Request, next: Next) -> Response {
    if !declares_body(&request) {
        return next.run(request).await;
    }
    let read = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let flag = read.clone();
    let marked = body
        .into_data_stream()
        .chain(futures::stream::poll_fn(move |_| {
            flag.store(true, Ordering::Release);
            Poll::Ready(None)
        }));
    let request = Request::from_parts(parts, Body::from_stream(marked));
    let mut response = next.run(request).await;
    if !read.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn declares_body(request: &Request) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|len| len.trim() != "0")
}
