//! Several commands in one RabbitMQ message.
//!
//! RabbitMQ's cost is per message far more than per byte: publishing, confirming,
//! delivering and acking a 300-byte command costs it about as much as one of several
//! kilobytes. Commands of one kind published in the same round (an admission batch, a
//! relay pass) therefore travel as one message, a bundle, and the consumer hands each
//! command to the worker as a delivery of its own. The bundle is settled once every one
//! of its commands is: acked when all were acked, given back whole when any was given
//! back (those already finished are acked without running again when they come back,
//! as for any redelivery).
//!
//! The body is each command's bytes after its length (4 bytes, big-endian); the
//! content type says it is a bundle, so messages from other producers are never read as
//! one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::BrokerError;
use super::acks::AckCoalescer;

/// Content type of a bundle.
pub const CONTENT_TYPE: &str = "application/vnd.longshore.bundle";

/// Most commands in one bundle unless configured otherwise.
pub const DEFAULT_MAX: u16 = 32;

/// A bundle's body.
pub fn encode<'a>(parts: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let size = parts.clone().map(|p| 4 + p.len()).sum();
    let mut body = Vec::with_capacity(size);
    for part in parts {
        let len = u32::try_from(part.len()).expect("a command is far below 4 GiB");
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(part);
    }
    body
}

/// The commands of a bundle's body; `None` when it is not a well-formed, non-empty one.
pub fn decode(mut body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut parts = Vec::new();
    while !body.is_empty() {
        let (len, rest) = body.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (part, rest) = rest.split_at(len);
        parts.push(part.to_vec());
        body = rest;
    }
    (!parts.is_empty()).then_some(parts)
}

/// Groups the items `key` says may share a bundle (same key; `None` travels alone), in
/// order of first appearance, at most `max` to a group; the groups hold indices.
pub fn plan<'a, T, K: PartialEq>(
    items: &'a [T],
    max: usize,
    key: impl Fn(&'a T) -> Option<K>,
) -> Vec<Vec<usize>> {
    let max = max.max(1);
    let mut groups: Vec<(Option<K>, Vec<usize>)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let k = key(item);
        let open = k.as_ref().and_then(|k| {
            groups
                .iter_mut()
                .rev()
                .find(|(g, members)| g.as_ref() == Some(k) && members.len() < max)
        });
        match open {
            Some((_, members)) => members.push(i),
            None => groups.push((k, vec![i])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// The one delivery of a bundle, settled once all its commands are.
struct Shared {
    left: AtomicUsize,
    give_back: AtomicBool,
    delivery: Mutex<Option<(u64, lapin::Acker, AckCoalescer)>>,
}

impl Shared {
    /// Counts one command as settled; the last one takes the delivery and learns
    /// whether any command was given back.
    fn finish(&self, give_back: bool) -> Option<(bool, (u64, lapin::Acker, AckCoalescer))> {
        if give_back {
            self.give_back.store(true, Ordering::SeqCst);
        }
        if self.left.fetch_sub(1, Ordering::SeqCst) != 1 {
            return None;
        }
        let delivery = self.delivery.lock().expect("not poisoned").take()?;
        Some((self.give_back.load(Ordering::SeqCst), delivery))
    }
}

/// One command's share in settling its bundle. Dropped unsettled, it counts as given
/// back, like a lone delivery dropped unsettled.
pub struct Part {
    shared: Arc<Shared>,
    settled: bool,
}

impl Part {
    /// The shares of a bundle of `count` commands delivered as `tag`.
    pub fn split(count: usize, tag: u64, acker: lapin::Acker, settler: AckCoalescer) -> Vec<Part> {
        let shared = Arc::new(Shared {
            left: AtomicUsize::new(count),
            give_back: AtomicBool::new(false),
            delivery: Mutex::new(Some((tag, acker, settler))),
        });
        (0..count)
            .map(|_| Part {
                shared: shared.clone(),
                settled: false,
            })
            .collect()
    }

    pub async fn ack(self) -> Result<(), BrokerError> {
        self.settle(false).await
    }

    pub async fn requeue(self) -> Result<(), BrokerError> {
        self.settle(true).await
    }

    async fn settle(mut self, give_back: bool) -> Result<(), BrokerError> {
        self.settled = true;
        match self.shared.finish(give_back) {
            Some((true, (tag, acker, settler))) => settler.requeue(tag, acker).await,
            Some((false, (tag, acker, settler))) => settler.ack(tag, acker).await,
            None => Ok(()),
        }
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        if let Some((_, (tag, acker, settler))) = self.shared.finish(true)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            // Outside a runtime the bundle comes back when its channel closes.
            runtime.spawn(async move {
                let _ = settler.requeue(tag, acker).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_gives_back_the_commands_it_was_made_of() {
        let parts: [&[u8]; 3] = [b"{\"a\":1}", b"", b"third"];
        let body = encode(parts.iter().copied());
        assert_eq!(decode(&body).unwrap(), parts.map(<[u8]>::to_vec));
    }

    #[test]
    fn a_truncated_or_empty_body_is_no_bundle() {
        let body = encode([&b"hello"[..], b"world"].into_iter());
        assert!(decode(&body[..body.len() - 1]).is_none());
        assert!(decode(&body[..2]).is_none());
        assert!(decode(b"").is_none());
    }

    #[test]
    fn groups_keep_their_order_their_key_and_their_limit() {
        let items = ["a", "b", "a", "-", "a", "a", "b", "-"];
        fn key(s: &&'static str) -> Option<&'static str> {
            (*s != "-").then_some(*s)
        }
        assert_eq!(
            plan(&items, 3, key),
            vec![vec![0, 2, 4], vec![1, 6], vec![3], vec![5], vec![7]]
        );
        assert_eq!(plan(&items, 1, key).len(), items.len());
    }
}
