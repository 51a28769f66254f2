//! Deduplication and rate limiting of sightings, so a scan or an ARP storm does not flood
//! the log.
//!
//! Invariants:
//! * a key is recorded at most once per window ([`Tracker::new`]'s `window`); the sightings
//!   suppressed meanwhile are counted and reported as `repeats` on the key's next record;
//! * the table holds at most `capacity` keys: when full, expired keys are swept, and a new key
//!   that still finds no room is dropped (counted), never stored;
//! * at most [`BURST`] records at once and [`RATE_PER_SEC`] a second on average (a token
//!   bucket); sightings refused by it are dropped (counted);
//! * the number dropped since the previous record is reported as `dropped` on the next.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Records allowed at once after a quiet period.
pub const BURST: u32 = 200;
/// Records allowed per second on average.
pub const RATE_PER_SEC: u32 = 20;

/// What to do with one sighting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Record it, with the counts to report.
    Record { repeats: u64, dropped: u64 },
    /// Already recorded within the window, or dropped.
    Skip,
}

/// When each key was last recorded, and what was not.
#[derive(Debug)]
pub struct Tracker<K> {
    window: Duration,
    capacity: usize,
    seen: HashMap<K, Entry>,
    bucket: Bucket,
    dropped: u64,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    recorded: Instant,
    suppressed: u64,
}

impl<K: Hash + Eq> Tracker<K> {
    /// A tracker recording each key at most once per `window`, remembering at most
    /// `capacity` keys.
    pub fn new(window: Duration, capacity: usize, now: Instant) -> Self {
        Self { window, capacity, seen: HashMap::new(), bucket: Bucket::full(now), dropped: 0 }
    }

    /// Counts one sighting of `key` at `now` and says whether to record it.
    pub fn observe(&mut self, key: K, now: Instant) -> Verdict {
        let previous = self.seen.get(&key).copied();
        if let Some(entry) = previous.filter(|e| now.saturating_duration_since(e.recorded) < self.window) {
            self.seen.insert(key, Entry { suppressed: entry.suppressed + 1, ..entry });
            return Verdict::Skip;
        }
        if previous.is_none() && !self.has_room(now) {
            self.dropped += 1;
            return Verdict::Skip;
        }
        if !self.bucket.take(now) {
            self.dropped += 1;
            return Verdict::Skip;
        }
        self.seen.insert(key, Entry { recorded: now, suppressed: 0 });
        let repeats = previous.map_or(0, |e| e.suppressed);
        Verdict::Record { repeats, dropped: std::mem::take(&mut self.dropped) }
    }

    /// Whether a new key fits, after sweeping expired keys if the table is full.
    fn has_room(&mut self, now: Instant) -> bool {
        if self.seen.len() >= self.capacity {
            let window = self.window;
            self.seen.retain(|_, e| now.saturating_duration_since(e.recorded) < window);
        }
        self.seen.len() < self.capacity
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// A token bucket of [`BURST`] tokens refilled at [`RATE_PER_SEC`].
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Self {
        Self { tokens: f64::from(BURST), updated: now }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * f64::from(RATE_PER_SEC)).min(f64::from(BURST));
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(300);

    fn record(repeats: u64, dropped: u64) -> Verdict {
        Verdict::Record { repeats, dropped }
    }

    #[test]
    fn a_key_is_recorded_once_per_window_and_its_repeats_counted() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(WINDOW, 16, t0);
        assert_eq!(tracker.observe("a", t0), record(0, 0));
        assert_eq!(tracker.observe("a", t0 + Duration::from_secs(1)), Verdict::Skip);
        assert_eq!(tracker.observe("a", t0 + Duration::from_secs(299)), Verdict::Skip);
        assert_eq!(tracker.observe("b", t0 + Duration::from_secs(2)), record(0, 0));
        assert_eq!(tracker.observe("a", t0 + WINDOW), record(2, 0));
        assert_eq!(tracker.observe("a", t0 + WINDOW + Duration::from_secs(1)), Verdict::Skip);
    }

    #[test]
    fn a_full_table_sweeps_expired_keys_then_drops_new_ones() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(WINDOW, 2, t0);
        assert_eq!(tracker.observe(1, t0), record(0, 0));
        assert_eq!(tracker.observe(2, t0 + Duration::from_secs(10)), record(0, 0));
        assert_eq!(tracker.observe(3, t0 + Duration::from_secs(20)), Verdict::Skip);
        assert_eq!(tracker.observe(4, t0 + Duration::from_secs(20)), Verdict::Skip);
        assert_eq!(tracker.len(), 2);
        // Key 1 has expired: swept, and the two dropped sightings are reported.
        assert_eq!(tracker.observe(5, t0 + WINDOW + Duration::from_secs(5)), record(0, 2));
        assert_eq!(tracker.len(), 2);
    }

    #[test]
    fn the_rate_limit_drops_and_refills() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(WINDOW, 100_000, t0);
        for key in 0..BURST {
            assert_eq!(tracker.observe(key, t0), record(0, 0));
        }
        assert_eq!(tracker.observe(BURST, t0), Verdict::Skip);
        assert_eq!(tracker.observe(BURST + 1, t0), Verdict::Skip);
        // One second refills RATE_PER_SEC tokens; the first record reports the two dropped.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(tracker.observe(BURST + 2, t1), record(0, 2));
        for key in 1..RATE_PER_SEC {
            assert_eq!(tracker.observe(BURST + 2 + key, t1), record(0, 0));
        }
        assert_eq!(tracker.observe(u32::MAX, t1), Verdict::Skip);
    }

    #[test]
    fn a_clock_going_backwards_does_not_panic() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut tracker = Tracker::new(WINDOW, 4, t0);
        assert_eq!(tracker.observe("a", t0), record(0, 0));
        assert_eq!(tracker.observe("a", t0 - Duration::from_secs(5)), Verdict::Skip);
    }
}
