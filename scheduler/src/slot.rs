//! Slot arithmetic: which scheduled time a firing belongs to, and which scheduled
//! times passed unseen.

use chrono::{DateTime, SubsecRound, Utc};
use croner::Cron;

/// The latest scheduled time not after `now` (whole seconds). Replicas firing a few
/// hundred milliseconds apart agree on it.
pub fn slot_at(cron: &Cron, now: DateTime<Utc>) -> DateTime<Utc> {
    let now = now.trunc_subsecs(0);
    cron.find_previous_occurrence(&now, true).unwrap_or(now)
}

/// Scheduled times strictly between `after` and `before`, at most `limit` of them.
pub fn slots_between(
    cron: &Cron,
    after: DateTime<Utc>,
    before: DateTime<Utc>,
    limit: usize,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut cursor = after;
    while out.len() < limit {
        match cron.find_next_occurrence(&cursor, false) {
            Ok(next) if next < before => {
                out.push(next);
                cursor = next;
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use croner::parser::{CronParser, Seconds};

    fn every_ten_minutes() -> Cron {
        CronParser::builder()
            .seconds(Seconds::Required)
            .build()
            .parse("0 */10 * * * *")
            .unwrap()
    }

    #[test]
    fn a_late_firing_still_belongs_to_its_slot() {
        let cron = every_ten_minutes();
        let late = Utc.with_ymd_and_hms(2026, 1, 1, 10, 20, 0).unwrap()
            + chrono::Duration::milliseconds(900);
        assert_eq!(
            slot_at(&cron, late),
            Utc.with_ymd_and_hms(2026, 1, 1, 10, 20, 0).unwrap()
        );
    }

    #[test]
    fn slots_between_two_times_are_listed() {
        let cron = every_ten_minutes();
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 1, 1, 10, 35, 0).unwrap();
        let slots = slots_between(&cron, a, b, 100);
        assert_eq!(slots.len(), 3);
        assert_eq!(
            slots[0],
            Utc.with_ymd_and_hms(2026, 1, 1, 10, 10, 0).unwrap()
        );
    }
}
