//! Names and shape of Longshore's RabbitMQ topology, derived from one prefix so several
//! installations (or test runs) share a broker without touching each other.
//!
//! ```text
//! {p}.commands (topic) ──kind──► {p}.<family> queues ──► workers
//!      │ alternate-exchange
//!      └─► {p}.unrouted (fanout) ──► {p}.unrouted queue (worker dead-letters with reason)
//! api, relay ──default exchange, kind in `type`──► {p}.<family> queues (known kinds)
//! {p}.delay (headers) ──tier──► {p}.delay.<ms> queues ──TTL, dead-letter──► {p}.commands
//! {p}.dead (fanout) ──► {p}.dead queue (dead letters, with x-longshore-reason)
//! ```

use std::time::Duration;

use crate::command::Family;

/// Delay tiers. Per-message TTL only expires at a queue's head, so each delay gets a
/// queue of its own; a retry waits in the longest tier not past its due time and is
/// sent on from there if it arrives early (the store holds the due time).
pub const DELAY_TIERS_MS: [u64; 8] = [50, 200, 1_000, 5_000, 30_000, 120_000, 600_000, 3_600_000];

/// Header naming the delay tier a message waits in. No `x-` prefix: RabbitMQ's headers
/// exchange ignores such headers when matching, which would copy a message into every
/// tier.
pub const TIER_HEADER: &str = "longshore-delay";
/// Header carrying why a message was dead-lettered.
pub const REASON_HEADER: &str = "x-longshore-reason";

/// Where a worker consumes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Family(Family),
    /// Messages whose routing key matched no family (unknown kinds, stray keys).
    Unrouted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub prefix: String,
    /// Declare family and dead-letter queues as quorum queues.
    pub quorum: bool,
    /// Quorum queues' `x-delivery-limit`: a backstop behind the store's attempt counter.
    pub delivery_limit: u32,
    /// `x-queue-version` of every classic queue declared; 0 declares none.
    pub classic_queue_version: u8,
    /// Most commands of one kind published as one message (see `bundle`); 1 publishes
    /// every command alone.
    pub bundle_max: u16,
}

impl Topology {
    pub fn new(prefix: impl Into<String>) -> Self {
        Topology {
            prefix: prefix.into(),
            quorum: false,
            delivery_limit: 50,
            classic_queue_version: 2,
            bundle_max: super::bundle::DEFAULT_MAX,
        }
    }

    pub fn commands_exchange(&self) -> String {
        format!("{}.commands", self.prefix)
    }

    pub fn unrouted_exchange(&self) -> String {
        format!("{}.unrouted", self.prefix)
    }

    pub fn delay_exchange(&self) -> String {
        format!("{}.delay", self.prefix)
    }

    pub fn dead_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub fn queue(&self, source: Source) -> String {
        match source {
            Source::Family(family) => format!("{}.{}", self.prefix, family.as_str()),
            Source::Unrouted => format!("{}.unrouted", self.prefix),
        }
    }

    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    pub fn delay_queue(&self, tier_ms: u64) -> String {
        format!("{}.delay.{tier_ms}ms", self.prefix)
    }

    /// The source whose queue a routing key lands in.
    pub fn route(&self, routing_key: &str) -> Source {
        Family::of_kind(routing_key).map_or(Source::Unrouted, Source::Family)
    }

    /// Every source a full worker consumes.
    pub fn all_sources() -> Vec<Source> {
        let mut all: Vec<Source> = Family::ALL.into_iter().map(Source::Family).collect();
        all.push(Source::Unrouted);
        all
    }
}

/// The tier to wait in for `delay`: the longest one not past it.
pub fn tier_for(delay: Duration) -> u64 {
    let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    DELAY_TIERS_MS
        .iter()
        .rev()
        .copied()
        .find(|tier| *tier <= ms)
        .unwrap_or(DELAY_TIERS_MS[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_wait_in_the_longest_tier_not_past_them() {
        assert_eq!(tier_for(Duration::from_millis(10)), 50);
        assert_eq!(tier_for(Duration::from_millis(1_500)), 1_000);
        assert_eq!(tier_for(Duration::from_secs(7200)), 3_600_000);
    }

    #[test]
    fn kinds_route_to_family_queues_and_the_rest_to_unrouted() {
        let t = Topology::new("ls");
        assert_eq!(t.queue(t.route("project.create")), "ls.projects");
        assert_eq!(t.queue(t.route("bogus.thing")), "ls.unrouted");
    }
}
