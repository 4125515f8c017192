//! Group commit, shared by every batching writer (admissions, publishes, claims,
//! successes): callers queue work items, and a batch is whatever gathered while the
//! previous one ran. Nothing waits on purpose: a lone item is written at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

/// Batches in flight at once per writer. More lanes make smaller batches that cost the
/// database more CPU per job than they save in waiting (BENCHMARKS.md, "Tried and not
/// kept").
pub const LANES: usize = 1;

/// Takes batches of at most `max_batch` items from `rx` and runs `process` on each,
/// at most `lanes` at a time, until every sender is gone.
pub async fn run_batches<T, F, Fut>(
    mut rx: mpsc::Receiver<T>,
    max_batch: usize,
    lanes: usize,
    process: F,
) where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let lanes = Arc::new(Semaphore::new(lanes.max(1)));
    let process = Arc::new(process);
    loop {
        // Wait for a free lane first, so the next batch keeps gathering meanwhile.
        let lane = lanes
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let mut batch = Vec::with_capacity(max_batch);
        if rx.recv_many(&mut batch, max_batch).await == 0 {
            break;
        }
        let process = process.clone();
        tokio::spawn(async move {
            process(batch).await;
            drop(lane);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn every_item_is_processed_once_in_bounded_batches() {
        let (tx, rx) = mpsc::channel(1000);
        let seen = Arc::new(AtomicUsize::new(0));
        let largest = Arc::new(AtomicUsize::new(0));
        let (s, l) = (seen.clone(), largest.clone());
        let runner = tokio::spawn(run_batches(rx, 10, 2, move |batch: Vec<usize>| {
            let (s, l) = (s.clone(), l.clone());
            async move {
                l.fetch_max(batch.len(), Ordering::SeqCst);
                s.fetch_add(batch.len(), Ordering::SeqCst);
            }
        }));
        for i in 0..500 {
            tx.send(i).await.unwrap();
        }
        drop(tx);
        runner.await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(seen.load(Ordering::SeqCst), 500);
        assert!(largest.load(Ordering::SeqCst) <= 10);
    }
}
